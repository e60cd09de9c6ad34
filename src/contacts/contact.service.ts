import type { Kysely, Transaction } from 'kysely';
import {
  findLiveCompanyIdByName,
  findLiveCompanyIdsByExternalRef,
  insertCompany,
} from '../companies/company.repository.js';
import { listDefinitions, lockDefinitions } from '../contact-fields/custom-field.repository.js';
import { TYPE_RULES } from '../contact-fields/custom-field-types.js';
import type { Db } from '../db/database.js';
import {
  CONTACT_REFS,
  findExternalRefOwner,
  moveExternalRef,
  refKey,
  replaceExternalRefs,
} from '../db/external-refs.js';
import { lockKey, lockKeys } from '../db/locks.js';
import type { Database, ExternalRefJson, OrganizationSettingsRow } from '../db/schema.js';
import { isPostgresError, SqlState } from '../db/sqlstate.js';
import { atomically, inRolledBackTransaction, inTransaction } from '../db/transaction.js';
import { type FeedPage, feedFilter, feedPage } from '../http/feed.js';
import { assertIfMatch, readIfMatch } from '../http/preconditions.js';
import { AppError, type FieldErrors } from '../http/problem.js';
import type { CustomFieldValue } from './contact.fields.js';
import { contactEtag, contactState } from './contact.mapper.js';
import {
  applyChanges,
  type ContactChanges,
  type ContactState,
  EMPTY_CONTACT,
  hasIdentifier,
  MISSING_IDENTIFIER,
  normalizeInput,
  sameState,
} from './contact.model.js';
import type { ContactRow } from './contact.repository.js';
import * as repository from './contact.repository.js';
import type { ContactInput } from './contact.schemas.js';
import { type ContactListQueryInput, contactSearch } from './contact-search.js';
import { FAST_WRITE_KEYS } from './contact-upsert.sql.js';
import { emailKey } from './email.js';
import { phoneKey } from './phone.js';

export interface OrganizationContext {
  organizationId: string;
  settings: OrganizationSettingsRow;
  /** Recorded with the request's changes (events, changeOrigin) unless the write names its own (an upsert's namespace). */
  origin: string;
  /** false: never the one-statement form (ONE_STATEMENT_WRITES=false); absent means true. */
  oneStatement?: boolean;
}

export type UpsertAction = 'created' | 'updated' | 'revived';
export type MatchedBy = 'external_ref' | 'email' | 'phone' | 'none';

export interface WriteResult {
  row: ContactRow;
  action: UpsertAction;
  matchedBy: MatchedBy;
}

export interface UpsertOptions {
  matchEmail: boolean;
  revive: boolean;
  updateOnly: boolean;
  validateOnly: boolean;
}

type Trx = Transaction<Database>;

function notFound(what: string): AppError {
  return new AppError('not-found', `${what} does not exist in your organization.`);
}

export function refLock(organizationId: string, ref: ExternalRefJson): string {
  return lockKey('contact-ref', organizationId, ref.namespace, ref.id);
}

export function emailLock(organizationId: string, key: string): string {
  return lockKey('contact-email', organizationId, key);
}

/**
 * Connections may name their company by its external reference; this turns those into company ids.
 * A reference that no live company holds is a 400 naming the connection. Whether the companies are
 * still live when the contact is written is checked again inside the write's transaction.
 */
export async function resolveCompanyReferences(
  db: Db,
  organizationId: string,
  input: ContactInput,
): Promise<ContactInput> {
  const connections = input.connections;
  if (!connections?.some((connection) => connection.company.kind === 'external')) return input;
  const refs = connections.flatMap((connection) =>
    connection.company.kind === 'external'
      ? [{ namespace: connection.company.namespace.toLowerCase(), id: connection.company.id }]
      : [],
  );
  const ids = await findLiveCompanyIdsByExternalRef(db, organizationId, refs);
  const errors: FieldErrors = {};
  const resolved = connections.map((connection, index) => {
    const { company } = connection;
    if (company.kind === 'existing') return connection;
    const ref = { namespace: company.namespace.toLowerCase(), id: company.id };
    const id = ids.get(refKey(ref));
    if (id === undefined) {
      errors[`connections[${index}].company`] = [
        `no live company of your organization has the reference ${ref.namespace}/${ref.id}`,
      ];
      return connection;
    }
    return { ...connection, company: { kind: 'existing' as const, id } };
  });
  if (Object.keys(errors).length > 0) throw AppError.validation(errors);
  return { ...input, connections: resolved };
}

/** A `locationId` (see LOCATION_FIELD) must name the token's organization; any case of its id. */
export function checkLocation(input: ContactInput, organizationId: string): void {
  const location = input.locationId;
  if (location === undefined || location === null || location.toLowerCase() === organizationId) return;
  const message = "is not your organization's id; send that id or leave locationId out";
  throw new AppError('location-mismatch', `locationId ${message}.`, { errors: { locationId: [message] } });
}

/** Normalizes a validated body; anything a schema cannot express (duplicates, one primary) fails here. */
export function prepareChanges(input: ContactInput, settings: OrganizationSettingsRow): ContactChanges {
  const { changes, errors } = normalizeInput(input, settings.defaultPhoneRegion);
  if (Object.keys(errors).length > 0) throw AppError.validation(errors);
  return changes;
}

function ensureIdentifier(state: ContactState): void {
  if (!hasIdentifier(state)) throw AppError.validation(MISSING_IDENTIFIER);
}

function checkIfMatch(ifMatch: string[] | null, row: ContactRow | null): void {
  assertIfMatch(ifMatch, row === null ? null : contactEtag(row), 'contact');
}

async function checkConnections(trx: Trx, organizationId: string, changes: ContactChanges): Promise<void> {
  const connections = changes.connections ?? [];
  if (connections.length === 0) return;
  const live = await repository.findLiveCompanyIds(
    trx,
    organizationId,
    connections.map((connection) => connection.companyId),
  );
  const errors: Record<string, string[]> = {};
  connections.forEach((connection, index) => {
    if (!live.has(connection.companyId)) {
      errors[`connections[${index}].company.id`] = ['is not a company of your organization'];
    }
  });
  if (Object.keys(errors).length > 0) throw AppError.validation(errors);
}

/**
 * Custom field values checked against their definitions, which stay locked (FOR KEY SHARE) until
 * the write commits: a definition cannot be deleted, archived or lose an option under a value being
 * written, and a deletion that went first leaves the key unknown here.
 */
async function settleCustomFields(
  trx: Trx,
  organizationId: string,
  changes: ContactChanges,
  region: string | null,
): Promise<ContactChanges> {
  const values = changes.customFields;
  if (values === undefined || values === null) return changes;
  const keys = Object.keys(values).sort();
  const definitions = new Map(
    (await lockDefinitions(trx, organizationId, keys)).map((definition) => [definition.key, definition]),
  );
  const errors: FieldErrors = {};
  const settled: Record<string, CustomFieldValue | null> = {};
  for (const key of keys) {
    const definition = definitions.get(key);
    const value = values[key] as CustomFieldValue | null;
    const field = `customFields.${key}`;
    if (definition === undefined) {
      errors[field] = ['is not a custom field of your organization (GET /api/v1/network/contact-fields lists them)'];
    } else if (value === null) {
      settled[key] = null;
    } else if (definition.archived) {
      errors[field] = ['is archived: its value can be cleared (null) but not set'];
    } else {
      const checked = TYPE_RULES[definition.type].normalize(value, definition, region);
      if (checked.ok) settled[key] = checked.value as CustomFieldValue | null;
      else errors[field] = [checked.message];
    }
  }
  if (Object.keys(errors).length > 0) throw AppError.validation(errors);
  return { ...changes, customFields: settled };
}

/**
 * companyName as a primary company id: the live company of that name in any case, created (with
 * the write's origin) when there is none. Writers naming the same new company take turns on its
 * lock, so they create it once.
 */
async function settleCompanyName(
  trx: Trx,
  organizationId: string,
  changes: ContactChanges,
  origin: string,
): Promise<ContactChanges> {
  const { companyName, ...rest } = changes;
  if (companyName === undefined) return changes;
  if (companyName === null) return { ...rest, primaryCompanyId: null };
  await lockKeys(trx, [lockKey('company-name', organizationId, companyName.toLowerCase())]);
  const existing = await findLiveCompanyIdByName(trx, organizationId, companyName);
  const companyId =
    existing ??
    (await insertCompany(trx, organizationId, { name: companyName, website: null, externalRefs: [] }, origin)).id;
  return { ...rest, primaryCompanyId: companyId };
}

/**
 * What a write settles inside its transaction, after its key locks and before it reads the
 * contact: the companies its connections name are live, companyName's company, custom field values
 * against their locked definitions. Every write path calls it; it returns the changes to apply.
 */
export async function settleReferences(
  trx: Trx,
  context: Pick<OrganizationContext, 'organizationId' | 'settings'>,
  changes: ContactChanges,
  origin: string,
): Promise<ContactChanges> {
  const { organizationId } = context;
  await checkConnections(trx, organizationId, changes);
  const withCompany = await settleCompanyName(trx, organizationId, changes, origin);
  return settleCustomFields(trx, organizationId, withCompany, context.settings.defaultPhoneRegion);
}

function refConflict(field: string, ref: ExternalRefJson, ownerId: string | null): AppError {
  return new AppError(
    'conflict',
    `The external reference ${ref.namespace}/${ref.id} already belongs to another contact${ownerId ? ` (${ownerId})` : ''}.`,
    { conflictField: field, conflictingContactId: ownerId },
  );
}

async function syncRefs(
  trx: Trx,
  organizationId: string,
  contactId: string,
  previous: ExternalRefJson[],
  next: ExternalRefJson[],
  requested: readonly ExternalRefJson[] = next,
) {
  const taken = await replaceExternalRefs(trx, CONTACT_REFS, organizationId, contactId, previous, next);
  const first = taken[0];
  if (first === undefined) return;
  const owner = await findExternalRefOwner(trx, CONTACT_REFS, organizationId, first);
  // Name the field as the client sent it, which can differ from the contact's merged list.
  const index = requested.findIndex((ref) => refKey(ref) === refKey(first));
  throw refConflict(index < 0 ? 'externalRefs' : `externalRefs[${index}]`, first, owner);
}

/** A write would give a second live contact this primary email; carried out of the transaction it aborted. */
class EmailTaken extends Error {
  override name = 'EmailTaken';
  constructor(readonly email: string) {
    super(`the email ${email} belongs to another live contact`);
  }
}

/**
 * Writes `state`. A primary email can belong to one live contact and the unique index decides, even
 * between server processes. The violation names the email of the state written, which is not always
 * one the request sent (a revival keeps the stored email).
 */
async function writeState<T>(state: ContactState, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (
      state.email !== null &&
      isPostgresError(error) &&
      error.code === SqlState.uniqueViolation &&
      error.constraint === 'contacts_email_key'
    ) {
      throw new EmailTaken(state.email);
    }
    throw error;
  }
}

/**
 * Turns a refused email into a 409 naming its owner (the violation aborts the transaction, so the
 * owner is looked up afterwards).
 *
 * `matchedEmailKey`: the email a write matches by, looked up under its lock. Writers that do not
 * match by email (a create, a PATCH, a reference upsert) take no such lock, so the email can arrive
 * between the lookup and the write. One more attempt then sees the contact that took the email and
 * matches it, as if the two requests had run one after the other; a real conflict (the email belongs
 * to a contact the request does not update) answers the same 409 twice.
 */
export async function withEmailConflictDetails<T>(
  db: Db,
  organizationId: string,
  matchedEmailKey: string | null,
  work: () => Promise<T>,
) {
  try {
    return await work().catch((error: unknown) => {
      if (error instanceof EmailTaken && emailKey(error.email) === matchedEmailKey) return work();
      throw error;
    });
  } catch (error) {
    if (!(error instanceof EmailTaken)) throw error;
    const owner = await repository.findLiveContactByEmailKey(db, organizationId, emailKey(error.email));
    throw new AppError(
      'conflict',
      `The email ${error.email} already belongs to another contact${owner ? ` (${owner.id})` : ''}.`,
      { conflictField: 'email', conflictingContactId: owner?.id ?? null },
    );
  }
}

export async function insertNew(
  trx: Trx,
  organizationId: string,
  state: ContactState,
  origin: string,
): Promise<ContactRow> {
  ensureIdentifier(state);
  const row = await writeState(state, () => repository.insertContact(trx, organizationId, state, origin));
  await syncRefs(trx, organizationId, row.id, [], state.externalRefs);
  return row;
}

/** Applies changes to an existing contact; a change that changes nothing writes nothing. */
export async function applyToExisting(
  trx: Trx,
  organizationId: string,
  current: ContactRow,
  changes: ContactChanges,
  change: { type: 'updated' | 'revived'; origin: string },
  requestedRefs?: readonly ExternalRefJson[],
): Promise<ContactRow> {
  const before = contactState(current);
  const next = applyChanges(before, changes);
  ensureIdentifier(next);
  if (change.type === 'updated' && sameState(before, next)) return current;
  const row = await writeState(next, () => repository.updateContact(trx, organizationId, current.id, next, change));
  await syncRefs(trx, organizationId, current.id, before.externalRefs, next.externalRefs, requestedRefs);
  return row;
}

/** Before any row lock: take the locks of the references the write assigns, then settle what it refers to. */
async function beginWrite(trx: Trx, context: OrganizationContext, changes: ContactChanges): Promise<ContactChanges> {
  await lockKeys(
    trx,
    (changes.externalRefs ?? []).map((ref) => refLock(context.organizationId, ref)),
  );
  return settleReferences(trx, context, changes, context.origin);
}

export async function createContact(db: Db, context: OrganizationContext, input: ContactInput): Promise<ContactRow> {
  const changes = prepareChanges(await resolveCompanyReferences(db, context.organizationId, input), context.settings);
  const { organizationId } = context;
  return withEmailConflictDetails(db, organizationId, null, () =>
    inTransaction(db, async (trx) => {
      const settled = await beginWrite(trx, context, changes);
      return insertNew(trx, organizationId, applyChanges(EMPTY_CONTACT, settled), context.origin);
    }),
  );
}

export async function getContact(db: Kysely<Database>, organizationId: string, contactId: string): Promise<ContactRow> {
  const row = await repository.findContactById(db, organizationId, contactId);
  if (row === undefined || row.deleted_at !== null) throw notFound(`Contact ${contactId}`);
  return row;
}

export async function getContactByExternalRef(
  db: Db,
  organizationId: string,
  ref: ExternalRefJson,
): Promise<ContactRow> {
  const normalized = { namespace: ref.namespace.toLowerCase(), id: ref.id };
  const row = await repository.findContactByExternalRef(db, organizationId, normalized);
  if (row === undefined || row.deleted_at !== null) {
    throw notFound(`A contact with the external reference ${normalized.namespace}/${normalized.id}`);
  }
  return row;
}

export async function updateContact(
  db: Db,
  context: OrganizationContext,
  contactId: string,
  input: ContactInput,
  ifMatchHeader: string | undefined,
): Promise<ContactRow> {
  const ifMatch = readIfMatch(ifMatchHeader, context.settings.requireIfMatch);
  const changes = prepareChanges(await resolveCompanyReferences(db, context.organizationId, input), context.settings);
  const { organizationId } = context;
  const fast =
    context.oneStatement === false
      ? undefined
      : await tryFastWrite(db, organizationId, { contactId }, changes, context.origin, ifMatch);
  if (fast !== undefined) return fast.row;
  return withEmailConflictDetails(db, organizationId, null, () =>
    inTransaction(db, async (trx) => {
      const settled = await beginWrite(trx, context, changes);
      const current = await repository.findContactById(trx, organizationId, contactId, { lock: true });
      if (current === undefined || current.deleted_at !== null) throw notFound(`Contact ${contactId}`);
      checkIfMatch(ifMatch, current);
      return applyToExisting(trx, organizationId, current, settled, { type: 'updated', origin: context.origin });
    }),
  );
}

export async function deleteContact(
  db: Db,
  context: OrganizationContext,
  contactId: string,
  ifMatchHeader: string | undefined,
): Promise<void> {
  const ifMatch = readIfMatch(ifMatchHeader, context.settings.requireIfMatch);
  await inTransaction(db, async (trx) => {
    const current = await repository.findContactById(trx, context.organizationId, contactId, { lock: true });
    if (current === undefined || current.deleted_at !== null) throw notFound(`Contact ${contactId}`);
    checkIfMatch(ifMatch, current);
    await repository.softDeleteContact(trx, context.organizationId, contactId, context.origin);
  });
}

/**
 * The one-statement path for the common call (contact-upsert.sql.ts), when the changes are all of
 * kinds it handles. Undefined sends the request down the general path: also when a unique index
 * refused the write, since that may be a concurrent create of the same reference, which the general
 * path turns into an update (or it is a real conflict, which the general path reports in detail).
 */
export async function tryFastWrite(
  db: Db,
  organizationId: string,
  target: Parameters<typeof repository.fastWrite>[2],
  changes: ContactChanges,
  origin: string,
  ifMatch: string[] | null,
) {
  if (!Object.keys(changes).every((key) => FAST_WRITE_KEYS.has(key))) return undefined;
  try {
    return await atomically(db, (unit) =>
      repository.fastWrite(unit, organizationId, target, {
        changes,
        origin,
        // Weak comparison: the statement compares opaque tags.
        ifMatch: ifMatch?.map((tag) => (tag.startsWith('W/') ? tag.slice(2) : tag)) ?? null,
      }),
    );
  } catch (error) {
    if (isPostgresError(error) && error.code === SqlState.uniqueViolation) return undefined;
    throw error;
  }
}

/** Upsert by external reference (seed 000): the reference is the natural key of the synced record. */
export async function upsertByExternalRef(
  db: Db,
  context: OrganizationContext,
  rawRef: ExternalRefJson,
  input: ContactInput,
  options: UpsertOptions,
  ifMatchHeader: string | undefined,
): Promise<WriteResult> {
  const ref = { namespace: rawRef.namespace.toLowerCase(), id: rawRef.id };
  const ifMatch = readIfMatch(ifMatchHeader, false);
  const requested = prepareChanges(await resolveCompanyReferences(db, context.organizationId, input), context.settings);
  const { organizationId } = context;
  const origin = ref.namespace;
  const matchKey = options.matchEmail ? (requested.emailKey ?? null) : null;
  const run = options.validateOnly ? inRolledBackTransaction : inTransaction;

  if (!options.validateOnly && context.oneStatement !== false) {
    const mayCreate = !options.matchEmail && !options.updateOnly;
    const fast = await tryFastWrite(db, organizationId, { ref, mayCreate }, requested, origin, ifMatch);
    if (fast !== undefined) {
      return fast.outcome === 'created'
        ? { row: fast.row, action: 'created', matchedBy: 'none' }
        : { row: fast.row, action: 'updated', matchedBy: 'external_ref' };
    }
  }

  return withEmailConflictDetails(db, organizationId, matchKey, () =>
    run(db, async (trx): Promise<WriteResult> => {
      await lockKeys(trx, [refLock(organizationId, ref), ...(matchKey ? [emailLock(organizationId, matchKey)] : [])]);
      const changes = await settleReferences(trx, context, requested, origin);

      const existing = await repository.findContactByExternalRef(trx, organizationId, ref, { lock: true });
      if (existing !== undefined && (existing.deleted_at === null || options.revive)) {
        checkIfMatch(ifMatch, existing);
        const type = existing.deleted_at === null ? 'updated' : 'revived';
        const row = await applyToExisting(trx, organizationId, existing, changes, { type, origin });
        return { row, action: type, matchedBy: 'external_ref' };
      }
      if (options.updateOnly) {
        throw notFound(`A contact with the external reference ${ref.namespace}/${ref.id}`);
      }
      // If-Match asserts a current representation; there is none to create over.
      checkIfMatch(ifMatch, null);

      if (existing === undefined && matchKey !== null) {
        const byEmail = await repository.findLiveContactByEmailKey(trx, organizationId, matchKey, { lock: true });
        if (byEmail !== undefined) {
          const clash = byEmail.external_refs.find((owned) => owned.namespace === ref.namespace);
          if (clash !== undefined) {
            throw new AppError(
              'conflict',
              `The contact with this email (${byEmail.id}) already has the reference ${clash.namespace}/${clash.id} in namespace "${ref.namespace}".`,
              { conflictField: 'externalRefs', conflictingContactId: byEmail.id },
            );
          }
          const withRef = { ...changes, externalRefs: [...contactState(byEmail).externalRefs, ref] };
          const row = await applyToExisting(trx, organizationId, byEmail, withRef, { type: 'updated', origin });
          return { row, action: 'updated', matchedBy: 'email' };
        }
      }

      const state = { ...applyChanges(EMPTY_CONTACT, changes), externalRefs: [ref] };
      if (existing === undefined) {
        return { row: await insertNew(trx, organizationId, state, origin), action: 'created', matchedBy: 'none' };
      }
      // revive=false on a deleted contact: a new contact, and the reference moves over to it.
      ensureIdentifier(state);
      const row = await writeState(state, () => repository.insertContact(trx, organizationId, state, origin));
      await moveExternalRef(trx, CONTACT_REFS, organizationId, ref, existing.id, row.id, origin);
      return { row, action: 'created', matchedBy: 'none' };
    }),
  );
}

/** The cursor-signing secret, read once on first use (building the app must not need the database). */
export function lazyCursorSecret(db: Db): () => Promise<Buffer> {
  let secret: Promise<Buffer> | null = null;
  return () => {
    secret ??= repository.cursorSecret(db).catch((error: unknown) => {
      secret = null;
      throw error;
    });
    return secret;
  };
}

/**
 * The change feed: contacts in the order of their last change, paged by an opaque cursor, narrowed
 * by the search parameters (contact-search.ts), which the cursor carries.
 */
export async function listContacts(
  db: Db,
  organization: { organizationId: string; settings: OrganizationSettingsRow },
  query: ContactListQueryInput,
  cursorSecret: () => Promise<Buffer>,
): Promise<FeedPage<ContactRow>> {
  const { organizationId, settings } = organization;
  const search = await contactSearch(query, settings.defaultPhoneRegion, () => listDefinitions(db, organizationId));
  const secret = await cursorSecret();
  const filter = feedFilter(query, organizationId, secret, 'contacts', search);
  const rows = await repository.listContacts(db, organizationId, filter);
  return feedPage(rows, query, filter, organizationId, secret, 'contacts');
}

/**
 * Phones are compared by a key that depends on the organization's phone region (phone.ts:
 * phoneKey); when the region changes, every contact's key is computed anew, in the transaction that
 * changes it. A contact written at that very moment by a request that read the old region keeps an
 * old key until its phone is next written.
 */
export async function rekeyContactPhones(trx: Trx, organizationId: string, region: string | null): Promise<void> {
  let after: string | null = null;
  for (;;) {
    const rows = await repository.contactPhonesAfter(trx, organizationId, after, 5_000);
    if (rows.length === 0) return;
    await repository.setPhoneKeys(
      trx,
      organizationId,
      rows.map((row) => ({ id: row.id, phoneKey: phoneKey(row.phone, region) })),
    );
    after = (rows.at(-1) as { id: string }).id;
  }
}
