import { weakEtag } from '../http/etag.js';
import { type ContactRepresentationFields, type ContactState, FIELD_LIST, joinedName } from './contact.fields.js';
import type { ContactRow } from './contact.repository.js';
import type { Contact } from './contact.schemas.js';

export const CONTACTS_PATH = '/api/v1/network/contacts';

import { COMPANIES_PATH } from '../companies/company.mapper.js';

/**
 * The ETag covers everything the representation shows: the contact's own version and the versions
 * of the companies it lists (a renamed company changes the contact's representation too).
 */
export function contactEtag(row: Pick<ContactRow, 'id' | 'version' | 'companies'>): string {
  return weakEtag(row.id, row.version, ...row.companies.map((company) => `${company.id}:${company.version}`));
}

/** The row's client-controlled fields in canonical form, each read from its declared column. */
export function contactState(row: ContactRow): ContactState {
  const stored = row as unknown as Record<string, unknown>;
  const state: Record<string, unknown> = {};
  for (const field of FIELD_LIST) {
    const value = stored[field.column];
    state[field.key] = field.fromColumn === undefined ? value : field.fromColumn(value as never);
  }
  return state as ContactState;
}

/** The fields the representation shows as they are (connections appear as `companies`, keys not at all). */
const SHOWN_FIELDS = FIELD_LIST.filter((field) => field.output !== null);

export function toContact(row: ContactRow): Contact {
  const state = contactState(row);
  const companies = row.companies.map((company) => ({
    id: company.id,
    uri: `${COMPANIES_PATH}/${company.id}`,
    name: company.name,
    jobTitle: company.jobTitle,
    isPrimary: company.isPrimary,
  }));
  const fields = Object.fromEntries(
    SHOWN_FIELDS.map((field) => [field.key, state[field.key as keyof ContactState]]),
  ) as ContactRepresentationFields;
  return {
    id: row.id,
    uri: `${CONTACTS_PATH}/${row.id}`,
    ...fields,
    name: joinedName(state),
    primaryCompanyId: companies.find((company) => company.isPrimary)?.id ?? null,
    companies,
    profilePictureUrl: null,
    createdUtc: row.created_at.toISOString(),
    updatedUtc: row.updated_at.toISOString(),
    deletedUtc: row.deleted_at?.toISOString() ?? null,
    etag: contactEtag(row),
    changeType: row.change_type,
    changeOrigin: row.change_origin,
  };
}
