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
  const primary = companies.find((company) => company.isPrimary);
  const fields = Object.fromEntries(
    SHOWN_FIELDS.map((field) => [field.key, state[field.key as keyof ContactState]]),
  ) as ContactRepresentationFields;
  return {
    id: row.id,
    uri: `${CONTACTS_PATH}/${row.id}`,
    ...fields,
    name: joinedName(state),
    companyName: primary?.name ?? null,
    primaryCompanyId: primary?.id ?? null,
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

/**
 * Which representation fields a change touched, from the columns it changed (the event trigger's
 * diff, migration 0006); null columns mean a creation, which touched every field it set. Derived
 * from the declarations: a column shows as its field, the name as its two parts, the connections as
 * the companies they list.
 */
const SHOWN_BY_COLUMN = new Map<string, string[]>([
  ...SHOWN_FIELDS.map((field): [string, string[]] => [field.column, [field.key]]),
  ...FIELD_LIST.filter((field) => field.group === 'connections').map((field): [string, string[]] => [
    field.column,
    ['companyName', 'primaryCompanyId', 'companies'],
  ]),
  ['deleted_at', ['deletedUtc']],
]);
for (const part of ['firstName', 'lastName']) {
  const column = FIELD_LIST.find((field) => field.key === part)?.column;
  if (column !== undefined) SHOWN_BY_COLUMN.get(column)?.push('name');
}

export function contactChangedFields(changedColumns: readonly string[] | null, contact: Contact): string[] {
  const columns = changedColumns ?? setColumns(contact);
  const fields = new Set(columns.flatMap((column) => SHOWN_BY_COLUMN.get(column) ?? []));
  // In representation order, so the list reads the same whatever order the columns came in.
  return Object.keys(contact).filter((key) => fields.has(key));
}

/** A new contact's columns that hold something other than their field's empty value. */
function setColumns(contact: Contact): string[] {
  const shown = contact as unknown as Record<string, unknown>;
  return FIELD_LIST.filter((field) => {
    const value = field.group === 'connections' ? contact.companies : shown[field.key];
    return value !== undefined && JSON.stringify(value) !== JSON.stringify(field.empty);
  }).map((field) => field.column);
}
