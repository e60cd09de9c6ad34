import { CompiledQuery, type Insertable, type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { prepared, registerPrepared } from '../db/prepared.js';
import type { ChangeType, ContactsTable, Database, ExternalRefJson } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { FeedFilter } from '../http/feed.js';
import { type ContactChanges, type ContactFieldColumns, type ContactState, FIELD_LIST } from './contact.fields.js';
import { type ContactSearchTerms, fullNameSplits, likePrefix, searchTerms, TAG_KEY_LENGTH } from './contact-search.js';
import { batchUpsertByRefSql, fastWriteSql } from './contact-upsert.sql.js';

type Executor = Kysely<Database> | Transaction<Database>;

/** A connected live company as a contact shows it. */
export interface CompanyLink {
  id: string;
  name: string;
  version: number;
  jobTitle: string | null;
  isPrimary: boolean;
}

export type ContactRow = Selectable<ContactsTable> & { companies: CompanyLink[] };

const now = sql<Date>`date_trunc('milliseconds', now())`;

// Current names of the live companies a contact connects to, in the contact's order; a deleted
// company drops out (migration 0006: contact_companies, shared with the event trigger). Correlated
// on the table name so it works in SELECT and in RETURNING alike. Most contacts have no
// connections; the CASE skips the call for them (a list page reads 100).
const COMPANIES = `CASE WHEN contacts.connections = '[]'::jsonb THEN '[]'::jsonb
  ELSE contact_companies(contacts.organization_id, contacts.connections) END`;
const companies = sql<CompanyLink[]>`${sql.raw(COMPANIES)}`.as('companies');

// Built once: the statement texts never change, only their parameters.
const BATCH_UPSERT_SQL = registerPrepared(batchUpsertByRefSql(`${COMPANIES} AS companies`));

const FAST_WRITE_SQL = {
  ref: registerPrepared(fastWriteSql('ref', `${COMPANIES} AS companies`)),
  id: registerPrepared(fastWriteSql('id', `${COMPANIES} AS companies`)),
  match: registerPrepared(fastWriteSql('match', `${COMPANIES} AS companies`)),
};

export type FastWriteOutcome = 'created' | 'updated' | 'unchanged';

export interface FastWrite {
  changes: ContactChanges;
  origin: string;
  /** If-Match's tags without their W/ prefix; null without If-Match. */
  ifMatch: string[] | null;
}

/** What an email/phone upsert matches on: null where the organization does not match on it. */
export interface MatchKeys {
  emailKey: string | null;
  phone: string | null;
  phoneFirst: boolean;
}

export type FastWriteTarget =
  | { ref: ExternalRefJson; mayCreate: boolean }
  | { contactId: string }
  | { match: MatchKeys };

export interface FastWriteResult {
  outcome: FastWriteOutcome;
  row: ContactRow;
  /** For a match target: the field that found the contact, and another contact the other field found. */
  matchedBy: 'email' | 'phone' | null;
  otherContactId: string | null;
}

function fastWriteParameters(target: FastWriteTarget): [string, string | null, string | null, boolean] {
  if ('ref' in target) return [FAST_WRITE_SQL.ref, target.ref.namespace, target.ref.id, target.mayCreate];
  if ('contactId' in target) return [FAST_WRITE_SQL.id, target.contactId, null, false];
  const { emailKey, phone, phoneFirst } = target.match;
  return [FAST_WRITE_SQL.match, emailKey, phone, phoneFirst];
}

/** See contact-upsert.sql.ts; undefined when the general path must decide. */
export async function fastWrite(
  db: Executor,
  organizationId: string,
  target: FastWriteTarget,
  write: FastWrite,
): Promise<FastWriteResult | undefined> {
  const [sqlText, key, value, flag] = fastWriteParameters(target);
  const result = await db.executeQuery<
    ContactRow & { outcome: FastWriteOutcome; matched_by: 'email' | 'phone' | null; other_id: string | null }
  >(
    CompiledQuery.raw(sqlText, [
      organizationId,
      key,
      value,
      JSON.stringify(write.changes),
      write.origin,
      flag,
      write.ifMatch,
    ]),
  );
  const first = result.rows[0];
  if (first === undefined) return undefined;
  const { outcome, matched_by, other_id, ...row } = first;
  return { outcome, row: row as ContactRow, matchedBy: matched_by, otherContactId: other_id };
}

/** What the set form returns of a contact it wrote: enough for a batch result (id, ETag, whether it changed). */
export type BatchWrittenRow = Pick<ContactRow, 'id' | 'version' | 'change_xid' | 'companies'>;

export interface BatchUpsertItem {
  /** The item's index in the batch. */
  n: number;
  ref: ExternalRefJson;
  changes: ContactChanges;
}

/**
 * Upserts a chunk of batch items by external reference in one statement (contact-upsert.sql.ts).
 * Items it could not decide alone are missing from the answer.
 */
export async function batchUpsertByRef(
  db: Executor,
  organizationId: string,
  items: readonly BatchUpsertItem[],
  options: { mayCreate: boolean; matchEmail: boolean },
): Promise<Map<number, { outcome: FastWriteOutcome; row: BatchWrittenRow }>> {
  const input = items.map((item) => ({
    n: item.n,
    namespace: item.ref.namespace,
    external_id: item.ref.id,
    changes: item.changes,
  }));
  const result = await db.executeQuery<BatchWrittenRow & { outcome: FastWriteOutcome; n: number }>(
    CompiledQuery.raw(BATCH_UPSERT_SQL, [organizationId, JSON.stringify(input), options.mayCreate, options.matchEmail]),
  );
  return new Map(result.rows.map(({ outcome, n, ...row }) => [n, { outcome, row }]));
}

/** The columns of a contact's state, as each field declares its storage. */
function stateColumns(state: ContactState) {
  const columns: Record<string, unknown> = {};
  for (const field of FIELD_LIST) {
    const value = state[field.key as keyof ContactState];
    columns[field.column] =
      field.storage === 'jsonArray' || field.storage === 'jsonMap' || (field.storage === 'jsonObject' && value !== null)
        ? JSON.stringify(value)
        : value;
  }
  return columns as Pick<Insertable<ContactsTable>, keyof ContactFieldColumns>;
}

/** Contacts of one organization, each with the companies it shows; every read starts here. */
function contactsOf(db: Executor, organizationId: string) {
  return db
    .selectFrom('contacts')
    .selectAll('contacts')
    .select(companies)
    .where('contacts.organization_id', '=', organizationId);
}

/** Runs a hot read as a prepared statement and returns its first row. */
async function first(db: Executor, query: { compile(): CompiledQuery<unknown> }): Promise<ContactRow | undefined> {
  return (await db.executeQuery(prepared(query))).rows[0] as ContactRow | undefined;
}

export function findContactById(
  db: Executor,
  organizationId: string,
  contactId: string,
  options: { lock?: boolean } = {},
) {
  let query = contactsOf(db, organizationId).where('contacts.id', '=', contactId);
  if (options.lock) query = query.forUpdate('contacts' as never);
  return first(db, query);
}

export function findContactByExternalRef(
  db: Executor,
  organizationId: string,
  ref: ExternalRefJson,
  options: { lock?: boolean } = {},
) {
  let query = db
    .selectFrom('contact_external_refs as r')
    .innerJoin('contacts', (join) =>
      join.onRef('contacts.organization_id', '=', 'r.organization_id').onRef('contacts.id', '=', 'r.contact_id'),
    )
    .selectAll('contacts')
    .select(companies)
    .where('r.organization_id', '=', organizationId)
    .where('r.namespace', '=', ref.namespace)
    .where('r.external_id', '=', ref.id);
  if (options.lock) query = query.forUpdate('contacts' as never);
  return first(db, query);
}

export function findLiveContactByEmailKey(
  db: Executor,
  organizationId: string,
  key: string,
  options: { lock?: boolean } = {},
) {
  let query = contactsOf(db, organizationId)
    .where('contacts.email_key', '=', key)
    .where('contacts.deleted_at', 'is', null);
  if (options.lock) query = query.forUpdate('contacts' as never);
  return query.executeTakeFirst() as Promise<ContactRow | undefined>;
}

/** `phoneKey` is the phone as compared (phone.ts: phoneKey). */
export function findLiveContactsByPhone(
  db: Executor,
  organizationId: string,
  phoneKey: string,
  options: { lock?: boolean } = {},
) {
  let query = contactsOf(db, organizationId)
    .where('contacts.phone_key', '=', phoneKey)
    .where('contacts.deleted_at', 'is', null)
    // The oldest contact wins when several share a phone, so repeated calls pick the same one.
    .orderBy('contacts.created_at')
    .orderBy('contacts.id')
    .limit(1);
  if (options.lock) query = query.forUpdate('contacts' as never);
  return query.executeTakeFirst() as Promise<ContactRow | undefined>;
}

export function insertContact(trx: Transaction<Database>, organizationId: string, state: ContactState, origin: string) {
  return trx
    .insertInto('contacts')
    .values({
      organization_id: organizationId,
      ...stateColumns(state),
      version: 1,
      change_type: 'created',
      change_origin: origin,
    })
    .returningAll()
    .returning(companies)
    .executeTakeFirstOrThrow() as Promise<ContactRow>;
}

/** Writes a new state; the version, timestamps and change feed position move with it. */
export function updateContact(
  trx: Transaction<Database>,
  organizationId: string,
  contactId: string,
  state: ContactState,
  change: { type: ChangeType; origin: string },
) {
  return trx
    .updateTable('contacts')
    .set({
      ...stateColumns(state),
      version: sql`version + 1`,
      updated_at: now,
      deleted_at: change.type === 'revived' ? null : sql`deleted_at`,
      change_type: change.type,
      change_origin: change.origin,
      change_xid: sql`pg_current_xact_id()` as never,
    })
    .where('organization_id', '=', organizationId)
    .where('id', '=', contactId)
    .returningAll()
    .returning(companies)
    .executeTakeFirstOrThrow() as Promise<ContactRow>;
}

export function softDeleteContact(
  trx: Transaction<Database>,
  organizationId: string,
  contactId: string,
  origin: string,
) {
  return trx
    .updateTable('contacts')
    .set({
      version: sql`version + 1`,
      updated_at: now,
      deleted_at: now,
      change_type: 'deleted',
      change_origin: origin,
      change_xid: sql`pg_current_xact_id()` as never,
    })
    .where('organization_id', '=', organizationId)
    .where('id', '=', contactId)
    .where('deleted_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
}

export async function findLiveCompanyIds(
  db: Executor,
  organizationId: string,
  companyIds: readonly string[],
): Promise<Set<string>> {
  if (companyIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('companies')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('id', 'in', [...companyIds])
    .where('deleted_at', 'is', null)
    .execute();
  return new Set(rows.map((row) => row.id));
}

/** A contact as the change feed lists it: with the number of its latest event, its feed position. */
export type FeedContactRow = ContactRow & { feed_seq: number };

/**
 * One page of the change feed: contacts in the order of their latest event (events/, migration
 * 0006: feed_positions). Events are numbered after they commit, in an order no later event can
 * undercut, so a cursor never moves past a change that shows up behind it; a contact changed again
 * moves to its newer number.
 */
export async function listContacts(db: Kysely<Database>, organizationId: string, options: FeedFilter) {
  const statement = listContactsStatement(db, organizationId, options);
  if (Object.keys(options.search).length === 0) return (await db.executeQuery(statement)).rows as FeedContactRow[];
  // Without parallel workers: a search that walks the feed in order and filters would get some
  // when it expects to walk far, and under a LIMIT they only scan ahead of each other (measured at
  // a million contacts: never faster, up to 8× slower, and their CPU is taken from other requests).
  // Without JIT: a search estimated to sort many matches could cross jit_above_cost and spend more
  // time compiling than the page takes. Settings local to a transaction end with it.
  return inTransaction(db, async (trx) => {
    await sql`SELECT set_config('max_parallel_workers_per_gather', '0', true), set_config('jit', 'off', true)`.execute(
      trx,
    );
    return (await trx.executeQuery(statement)).rows as FeedContactRow[];
  });
}

/** The statement listContacts runs (exported for scripts/explain-search.ts, which shows its plans). */
export function listContactsStatement(db: Executor, organizationId: string, options: FeedFilter) {
  let query = db
    .selectFrom('feed_positions as p')
    .innerJoin('contacts', (join) =>
      join.onRef('contacts.organization_id', '=', 'p.organization_id').onRef('contacts.id', '=', 'p.resource_id'),
    )
    .selectAll('contacts')
    .select(companies)
    .select('p.seq as feed_seq')
    .where('p.organization_id', '=', organizationId)
    .where('p.resource_type', '=', 'contact');
  if (options.after !== null) query = query.where('p.seq', '>', options.after.seq);
  if (options.updatedSince !== null) query = query.where('p.updated_at', '>=', options.updatedSince);
  if (!options.includeDeleted) query = query.where('contacts.deleted_at', 'is', null);
  const conditions = searchConditions(organizationId, searchTerms(options.search));
  if (conditions.length === 0) return prepared(query.orderBy('p.seq').limit(options.limit + 1));
  // Not prepared: a search is planned with its values (an unnamed statement is planned at bind),
  // which is what lets PostgreSQL choose between walking the feed in order and filtering (a
  // common tag) and fetching the few matches by index and sorting them (an email), and what turns
  // q's LIKE patterns into index ranges. A generic plan would know neither.
  for (const condition of conditions) query = query.where(condition);
  return query
    .orderBy('p.seq')
    .limit(options.limit + 1)
    .compile();
}

/**
 * q: a case-insensitive prefix of the first name, the last name, the full name or the primary email.
 * Lower-cased by the database on both sides: the indexes (migration 0011) hold lower(first_name),
 * and JavaScript's toLowerCase and PostgreSQL's lower() (which follows the database's locale) can
 * disagree outside ASCII. email_key is lower-cased by JavaScript (email.ts), but emails are ASCII
 * (formats.ts), where both agree.
 */
function qCondition(q: string) {
  const prefix = likePrefix(q);
  const branches = [
    sql<boolean>`lower(contacts.first_name) LIKE lower(${prefix})`,
    sql<boolean>`lower(contacts.last_name) LIKE lower(${prefix})`,
    sql<boolean>`contacts.email_key LIKE lower(${prefix})`,
    ...fullNameSplits(q).map(
      ({ first, lastPrefix }) =>
        sql<boolean>`(lower(contacts.first_name) = lower(${first}) AND lower(contacts.last_name) LIKE lower(${likePrefix(lastPrefix)}))`,
    ),
  ];
  return sql<boolean>`(${sql.join(branches, sql` OR `)})`;
}

/** The search as SQL conditions on `contacts` (joined to the feed), each served by an index of migration 0011. */
function searchConditions(organizationId: string, terms: ContactSearchTerms) {
  const conditions = [];
  if (terms.email !== null) {
    // The contacts having the address, found first and joined to the feed: PostgreSQL has no
    // statistics on elements that are all distinct and guesses 0.5 % of the organization, for which
    // walking the feed in order looks cheaper; for the one contact that has it, that walk reads the
    // whole feed. A materialized CTE is planned on its own, so the lookup stays an index lookup.
    conditions.push(sql<boolean>`contacts.id IN (
      WITH email_matches AS MATERIALIZED (
        SELECT m.id FROM contacts m WHERE m.organization_id = ${organizationId} AND m.email_keys @> ARRAY[${terms.email}::text])
      SELECT id FROM email_matches)`);
  }
  if (terms.phone !== null) conditions.push(sql<boolean>`contacts.phone_key = ${terms.phone}`);
  if (terms.tags !== null) {
    // The index holds contact_tag_keys(tags), tags cut to TAG_KEY_LENGTH characters, so a shorter
    // key matches only the tag itself. A tag of that length may also be the start of a longer one:
    // only then do the tags themselves have to be compared (a second condition PostgreSQL would
    // take as independent of the first, halving its estimate again).
    conditions.push(sql<boolean>`contact_tag_keys(contacts.tags) @> contact_tag_keys(${terms.tags}::text[])`);
    const cut = terms.tags.filter((tag) => tag.length >= TAG_KEY_LENGTH);
    if (cut.length > 0) conditions.push(sql<boolean>`contacts.tags @> ${cut}::text[]`);
  }
  if (terms.externalRef !== null) {
    conditions.push(sql<boolean>`contacts.id = (
      SELECT r.contact_id FROM contact_external_refs r
      WHERE r.organization_id = ${organizationId} AND r.namespace = ${terms.externalRef.namespace}
        AND r.external_id = ${terms.externalRef.id})`);
  }
  if (terms.namespace !== null) {
    conditions.push(sql<boolean>`EXISTS (
      SELECT 1 FROM contact_external_refs r
      WHERE r.organization_id = ${organizationId} AND r.namespace = ${terms.namespace} AND r.contact_id = contacts.id)`);
  }
  if (terms.q !== null) conditions.push(qCondition(terms.q));
  // One containment for every custom.* filter: {"a": 1} and {"b": [x]} in one object is their AND.
  if (terms.custom !== null) {
    conditions.push(sql<boolean>`contacts.custom_fields @> ${JSON.stringify(terms.custom)}::jsonb`);
  }
  return conditions;
}

export async function cursorSecret(db: Executor): Promise<Buffer> {
  const row = await db
    .selectFrom('server_secrets')
    .select('secret')
    .where('name', '=', 'cursor')
    .executeTakeFirstOrThrow();
  return row.secret;
}

/** A page of an organization's contacts that have a phone, in id order: for re-keying phones. */
export function contactPhonesAfter(db: Executor, organizationId: string, afterId: string | null, limit: number) {
  let query = db
    .selectFrom('contacts')
    .select(['id', 'phone'])
    .where('organization_id', '=', organizationId)
    .where('phone', 'is not', null);
  if (afterId !== null) query = query.where('id', '>', afterId);
  return query.orderBy('id').limit(limit).execute() as Promise<Array<{ id: string; phone: string }>>;
}

export async function setPhoneKeys(
  db: Executor,
  organizationId: string,
  keys: ReadonlyArray<{ id: string; phoneKey: string }>,
): Promise<void> {
  if (keys.length === 0) return;
  await sql`
    UPDATE contacts c SET phone_key = k.phone_key
    FROM unnest(${keys.map((key) => key.id)}::uuid[], ${keys.map((key) => key.phoneKey)}::text[]) AS k(id, phone_key)
    WHERE c.organization_id = ${organizationId} AND c.id = k.id AND c.phone_key IS DISTINCT FROM k.phone_key
  `.execute(db);
}
