import { weakEtag } from '../http/etag.js';
import type { CompanyRow, CompanyState } from './company.repository.js';
import type { Company } from './company.schemas.js';

export const COMPANIES_PATH = '/api/v1/network/companies';

export function companyEtag(row: CompanyRow): string {
  return weakEtag('company', row.id, row.version);
}

export function companyState(row: CompanyRow): CompanyState {
  return {
    name: row.name,
    website: row.website,
    externalRefs: row.external_refs.map((ref) => ({ namespace: ref.namespace, id: ref.id })),
  };
}

export function toCompany(row: CompanyRow): Company {
  return {
    id: row.id,
    uri: `${COMPANIES_PATH}/${row.id}`,
    name: row.name,
    website: row.website,
    externalRefs: row.external_refs.map((ref) => ({ namespace: ref.namespace, id: ref.id })),
    createdUtc: row.created_at.toISOString(),
    updatedUtc: row.updated_at.toISOString(),
    deletedUtc: row.deleted_at?.toISOString() ?? null,
    etag: companyEtag(row),
  };
}

/** Company columns as the representation names them; see contactChangedFields. */
const COMPANY_FIELD_BY_COLUMN: Record<string, keyof Company> = {
  name: 'name',
  website: 'website',
  external_refs: 'externalRefs',
  deleted_at: 'deletedUtc',
};

export function companyChangedFields(changedColumns: readonly string[] | null, company: Company): string[] {
  const fields = new Set(
    changedColumns === null
      ? (['name', 'website', 'externalRefs'] as const).filter((key) => {
          const value = company[key];
          return value !== null && !(Array.isArray(value) && value.length === 0);
        })
      : changedColumns.map((column) => COMPANY_FIELD_BY_COLUMN[column]),
  );
  return Object.keys(company).filter((key) => fields.has(key as keyof Company));
}
