import { refKey } from '../db/external-refs.js';
import type { ConnectionJson, EmailJson, ExternalRefJson, PhoneJson } from '../db/schema.js';
import type { FieldErrors } from '../http/problem.js';
import {
  type ContactChanges,
  type ContactInput,
  type ContactState,
  type CustomFieldsInput,
  type CustomFieldValue,
  EMPTY_CONTACT,
  FIELD_LIST,
  IDENTIFIER_FIELDS,
  splitName,
  trimmedOrNull,
} from './contact.fields.js';
import { emailKey } from './email.js';
import { normalizePhone, phoneKey } from './phone.js';

export type { ContactChanges, ContactState } from './contact.fields.js';
export { EMPTY_CONTACT };

export interface NormalizedInput {
  changes: ContactChanges;
  errors: FieldErrors;
}

function addError(errors: FieldErrors, field: string, message: string): void {
  errors[field] = [...(errors[field] ?? []), message];
}

/**
 * `email`/`emails` are two views of one list: whichever the request sets, both come out consistent,
 * with exactly one primary entry (the first, unless `email` names another).
 */
function syncEmails(input: ContactInput, changes: ContactChanges, errors: FieldErrors): void {
  if (input.email === undefined && input.emails === undefined) return;
  const entries: EmailJson[] = (input.emails ?? []).map((entry) => ({
    address: entry.address.trim(),
    type: entry.type ?? null,
    isPrimary: false,
  }));
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    const key = emailKey(entry.address);
    const first = seen.get(key);
    if (first !== undefined) addError(errors, `emails[${index}].address`, `duplicates emails[${first}].address`);
    else seen.set(key, index);
  });
  const primary = input.email?.trim() ?? null;
  if (primary !== null) {
    const index = seen.get(emailKey(primary));
    if (index === undefined) entries.unshift({ address: primary, type: null, isPrimary: true });
    else (entries[index] as EmailJson).isPrimary = true;
    // Keep the primary first so `emails[0]` is always the primary, whichever way it was set.
    entries.sort((a, b) => Number(b.isPrimary) - Number(a.isPrimary));
  } else if (entries.length > 0) {
    (entries[0] as EmailJson).isPrimary = true;
  }
  changes.emails = entries;
  changes.email = entries[0]?.address ?? null;
  changes.emailKey = changes.email === null ? null : emailKey(changes.email);
  changes.emailKeys = entries.map((entry) => emailKey(entry.address));
}

function syncPhones(input: ContactInput, region: string | null, changes: ContactChanges, errors: FieldErrors): void {
  if (input.phone === undefined && input.phones === undefined) return;
  const entries: PhoneJson[] = (input.phones ?? []).map((entry) => ({
    number: normalizePhone(entry.number, region),
    type: entry.type ?? null,
    isPrimary: false,
  }));
  // Two entries are one phone when they compare equal, however each was written.
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (entry.number === '') {
      addError(errors, `phones[${index}].number`, 'must not be blank');
      return;
    }
    const key = phoneKey(entry.number, region);
    const first = seen.get(key);
    if (first !== undefined) addError(errors, `phones[${index}].number`, `duplicates phones[${first}].number`);
    else seen.set(key, index);
  });
  const primary = input.phone === undefined || input.phone === null ? null : normalizePhone(input.phone, region);
  if (primary !== null && primary !== '') {
    const index = seen.get(phoneKey(primary, region));
    if (index === undefined) entries.unshift({ number: primary, type: null, isPrimary: true });
    else (entries[index] as PhoneJson).isPrimary = true;
    entries.sort((a, b) => Number(b.isPrimary) - Number(a.isPrimary));
  } else if (entries.length > 0) {
    (entries[0] as PhoneJson).isPrimary = true;
  }
  changes.phones = entries;
  changes.phone = entries[0]?.number ?? null;
  changes.phoneKey = changes.phone === null ? null : phoneKey(changes.phone, region);
}

export function normalizeExternalRefs(refs: ReadonlyArray<ExternalRefJson>, field: string, errors: FieldErrors) {
  const seen = new Map<string, number>();
  return refs.map((ref, index) => {
    const normalized = { namespace: ref.namespace.toLowerCase(), id: ref.id };
    const key = refKey(normalized);
    const first = seen.get(key);
    if (first !== undefined) addError(errors, `${field}[${index}]`, `duplicates ${field}[${first}]`);
    else seen.set(key, index);
    return normalized;
  });
}

function normalizeConnections(input: NonNullable<ContactInput['connections']>, errors: FieldErrors): ConnectionJson[] {
  const seen = new Map<string, number>();
  const connections = input.map((connection, index) => {
    // The service resolved references to ids before normalizing (resolveCompanyReferences).
    if (connection.company.kind !== 'existing') throw new Error('a company reference reached normalization unresolved');
    const companyId = connection.company.id.toLowerCase();
    const first = seen.get(companyId);
    if (first !== undefined) addError(errors, `connections[${index}].company.id`, `duplicates connections[${first}]`);
    else seen.set(companyId, index);
    return { companyId, jobTitle: trimmedOrNull(connection.jobTitle ?? null), isPrimary: connection.primary === true };
  });
  const primaries = connections.filter((connection) => connection.isPrimary).length;
  if (connections.length > 0 && primaries !== 1) {
    addError(errors, 'connections', `exactly one connection must have "primary": true (found ${primaries})`);
  }
  return connections;
}

/**
 * Custom field values by key, from either form a request may use. Values are checked against the
 * organization's definitions later, by the write that locks them (contact-fields/).
 */
function customFieldChanges(input: CustomFieldsInput, errors: FieldErrors): Record<string, CustomFieldValue | null> {
  if (!Array.isArray(input)) return { ...input };
  const values: Record<string, CustomFieldValue | null> = {};
  const seen = new Map<string, number>();
  input.forEach((entry, index) => {
    const field = `customFields[${index}]`;
    if ((entry.key === undefined) === (entry.id === undefined)) {
      addError(errors, field, 'needs exactly one of key and id (id stands for key)');
      return;
    }
    if ((entry.field_value === undefined) === (entry.value === undefined)) {
      addError(errors, field, 'needs exactly one of field_value and value (value stands for field_value)');
      return;
    }
    const key = (entry.key ?? entry.id) as string;
    const first = seen.get(key);
    if (first !== undefined) {
      addError(errors, `${field}.key`, `duplicates customFields[${first}].key`);
      return;
    }
    seen.set(key, index);
    values[key] = (entry.field_value ?? entry.value) as CustomFieldValue | null;
  });
  return values;
}

/**
 * Turns a validated request into canonical field changes: present fields only (PATCH semantics),
 * null meaning cleared, each field in its declared canonical form, email/phone views in sync. Pure.
 */
export function normalizeInput(input: ContactInput, defaultPhoneRegion: string | null): NormalizedInput {
  const changes: ContactChanges = {};
  const errors: FieldErrors = {};
  const values = input as Record<string, unknown>;
  const set = changes as Record<string, unknown>;
  if (input.name !== undefined) {
    if (input.firstName !== undefined || input.lastName !== undefined) {
      addError(errors, 'name', 'cannot be sent with firstName or lastName; send either the full name or its parts');
    } else {
      Object.assign(changes, splitName(input.name));
    }
  }
  for (const field of FIELD_LIST) {
    if (field.normalize === undefined || values[field.key] === undefined) continue;
    const context = { defaultPhoneRegion, report: (message: string) => addError(errors, field.key, message) };
    set[field.key] = field.normalize(values[field.key] as never, context);
  }
  syncEmails(input, changes, errors);
  syncPhones(input, defaultPhoneRegion, changes, errors);
  if (input.externalRefs !== undefined) {
    changes.externalRefs = normalizeExternalRefs(input.externalRefs ?? [], 'externalRefs', errors);
  }
  if (input.connections !== undefined) changes.connections = normalizeConnections(input.connections ?? [], errors);
  if (input.companyName !== undefined) {
    if (input.connections !== undefined) {
      addError(errors, 'companyName', 'cannot be sent with connections; name the primary company in one of the two');
    } else {
      changes.companyName = trimmedOrNull(input.companyName);
    }
  }
  if (input.customFields !== undefined) {
    changes.customFields = input.customFields === null ? null : customFieldChanges(input.customFields, errors);
  }
  return { changes, errors };
}

/**
 * The connections once `companyId` is the primary company (companyName): it keeps its job title
 * where it was already connected, moves first, and the others stay as secondary connections. Null
 * drops the primary connection; the next one, if any, becomes primary.
 */
export function withPrimaryCompany(connections: readonly ConnectionJson[], companyId: string | null): ConnectionJson[] {
  if (companyId === null) {
    const rest = connections.filter((connection) => !connection.isPrimary);
    return rest.map((connection, index) => ({ ...connection, isPrimary: index === 0 }));
  }
  const existing = connections.find((connection) => connection.companyId === companyId);
  return [
    { companyId, jobTitle: existing?.jobTitle ?? null, isPrimary: true },
    ...connections
      .filter((connection) => connection.companyId !== companyId)
      .map((connection) => ({ ...connection, isPrimary: false })),
  ];
}

/** The state after a change: each present field replaces (or, where declared, merges with) the current value. */
export function applyChanges(current: ContactState, changes: ContactChanges): ContactState {
  const next: Record<string, unknown> = { ...current };
  const present = changes as Record<string, unknown>;
  for (const field of FIELD_LIST) {
    if (!(field.key in present)) continue;
    const change = present[field.key];
    next[field.key] = field.merge === undefined ? change : field.merge(next[field.key] as never, change as never);
  }
  if (changes.primaryCompanyId !== undefined) {
    next.connections = withPrimaryCompany(current.connections, changes.primaryCompanyId);
  }
  return next as ContactState;
}

export function hasIdentifier(state: ContactState): boolean {
  return IDENTIFIER_FIELDS.some((field) => state[field.key as keyof ContactState] !== null);
}

export const MISSING_IDENTIFIER: FieldErrors = {
  body: ['a contact needs at least one identifier: firstName, lastName, email or phone'],
};

export function sameState(a: ContactState, b: ContactState): boolean {
  return FIELD_LIST.every(
    ({ key }) => JSON.stringify(a[key as keyof ContactState]) === JSON.stringify(b[key as keyof ContactState]),
  );
}
