import { weakEtag } from '../http/etag.js';
import type { ContactState } from './contact.model.js';
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

/** The row's client-controlled fields in canonical form (jsonb does not keep key order). */
export function contactState(row: ContactRow): ContactState {
  return {
    firstName: row.first_name,
    lastName: row.last_name,
    email: row.email,
    phone: row.phone,
    linkedInUrl: row.linkedin_url,
    emails: row.emails.map((entry) => ({ address: entry.address, type: entry.type, isPrimary: entry.isPrimary })),
    phones: row.phones.map((entry) => ({ number: entry.number, type: entry.type, isPrimary: entry.isPrimary })),
    primaryLanguage: row.primary_language,
    tags: row.tags,
    strategy: row.strategy,
    blocked: row.blocked,
    externalRefs: row.external_refs.map((ref) => ({ namespace: ref.namespace, id: ref.id })),
    connections: row.connections.map((connection) => ({
      companyId: connection.companyId,
      jobTitle: connection.jobTitle,
      isPrimary: connection.isPrimary,
    })),
  };
}

export function toContact(row: ContactRow): Contact {
  const state = contactState(row);
  const companies = row.companies.map((company) => ({
    id: company.id,
    uri: `${COMPANIES_PATH}/${company.id}`,
    name: company.name,
    jobTitle: company.jobTitle,
    isPrimary: company.isPrimary,
  }));
  return {
    id: row.id,
    uri: `${CONTACTS_PATH}/${row.id}`,
    externalRefs: state.externalRefs,
    firstName: state.firstName,
    lastName: state.lastName,
    email: state.email,
    phone: state.phone,
    linkedInUrl: state.linkedInUrl,
    emails: state.emails,
    phones: state.phones,
    primaryLanguage: state.primaryLanguage,
    tags: state.tags,
    strategy: state.strategy,
    primaryCompanyId: companies.find((company) => company.isPrimary)?.id ?? null,
    companies,
    profilePictureUrl: null,
    blocked: state.blocked,
    createdUtc: row.created_at.toISOString(),
    updatedUtc: row.updated_at.toISOString(),
    deletedUtc: row.deleted_at?.toISOString() ?? null,
    etag: contactEtag(row),
    changeType: row.change_type,
    changeOrigin: row.change_origin,
  };
}
