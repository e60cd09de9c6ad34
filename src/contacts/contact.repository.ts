import {
  CompiledQuery,
  type Insertable,
  type Kysely,
  type RawBuilder,
  type Selectable,
  sql,
  type Transaction,
} from 'kysely';
import { prepared, registerPrepared } from '../db/prepared.js';
import type { ChangeType, ContactsTable, Database, ExternalRefJson } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import type { FeedFilter } from '../http/feed.js';
import { type ContactChanges, type ContactFieldColumns, type ContactState, FIELD_LIST } from './contact.fields.js';
import { type ContactSearchTerms, fullNameSplits, likePrefix, searchTerms, TAG_KEY_LENGTH } from './contact-search.js';
import { batchUpsertByRefSql, changesShape, fastWriteSql } from './contact-upsert.sql.js';

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

type FastWriteKind = 'ref' | 'id' | 'match';

// The statement for any changes document, per target.
const FAST_WRITE_SQL: Record<FastWriteKind, string> = {
  ref: registerPrepared(fastWriteSql('ref', `${COMPANIES} AS companies`)),
  id: registerPrepared(fastWriteSql('id', `${COMPANIES} AS companies`)),
  match: registerPrepared(fastWriteSql('match', `${COMPANIES} AS companies`)),
};

// Statements written for one set of keys (contact-upsert.sql.ts: ChangesShape). A sync sends the
// same few shapes over and over; each is prepared once per connection. Bounded, because a prepared
// statement stays in each connection's memory (about 0.6 MB of plan for one of these, 1.2 MB for
// the statement above, measured on PostgreSQL 15): past the bound, new shapes take the statement
// above, which answers the same.
// The differential test (one-statement-differential) goes past the bound, so it holds both forms
// to the general path.
const SHAPED_STATEMENTS_MAX = 8;
const shapedStatements = new Map<string, string>();

function fastWriteStatement(kind: FastWriteKind, changes: ContactChanges): string {
  const keys = changesShape(changes);
  const cacheKey = `${kind}:${keys.join(',')}`;
  let text = shapedStatements.get(cacheKey);
  if (text === undefined) {
    if (shapedStatements.size >= SHAPED_STATEMENTS_MAX) {
      return FAST_WRITE_SQL[kind];
    }
    text = registerPrepared(fastWriteSql(kind, `${COMPANIES} AS companies`, new Set(keys)));
    shapedStatements.set(cacheKey, text);
  }
  return text;
}

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

function fastWriteParameters(
  target: FastWriteTarget,
  changes: ContactChanges,
): [string, string | null, string | null, boolean] {
  if ('ref' in target) {
    return [fastWriteStatement('ref', changes), target.ref.namespace, target.ref.id, target.mayCreate];
  }
  if ('contactId' in target) return [fastWriteStatement('id', changes), target.contactId, null, false];
  const { emailKey, phone, phoneFirst } = target.match;
  return [fastWriteStatement('match', changes), emailKey, phone, phoneFirst];
}

/** See contact-upsert.sql.ts; undefined when the general path must decide. */
export async function fastWrite(
  db: Executor,
  organizationId: string,
  target: FastWriteTarget,
  write: FastWrite,
): Promise<FastWriteResult | undefined> {
  const [sqlText, key, value, flag] = fastWriteParameters(target, write.changes);
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
 * How a search reaches its contacts:
 * - `terms`: through the posting list of its rarest term (migration 0012: contact_search_terms),
 *   already in feed order, probing the lists of its other terms at each position;
 * - `q-terms`: q alone, whose prefix is a range of terms in no feed order: its matches are fetched
 *   from the list and sorted;
 * - `feed`: walking the feed (no search; a phone or an external reference, which are lookups; or
 *   a q prefix so common that the next match is never far).
 * Every route tests each contact's current row against the whole search (searchConditions).
 */
export type SearchPlan =
  | { route: 'feed' }
  | { route: 'q-terms' }
  | { route: 'terms'; terms: [SearchTerm, ...SearchTerm[]] };

type SearchTerm = ReturnType<typeof termOf>;

// A q with at most this many entries is sorted; beyond it, walking the feed meets a page of matches
// sooner. Measured at a million contacts: sorting 11,111 entries (q on 1.1 %) took 9 ms where the
// walk took 40 ms (4.4 µs a contact passed); at 11 % the walk takes 4 ms. They meet near 2 %.
const Q_SORT_LIMIT = 20_000;
// Several terms: the one whose list runs furthest before this many entries leads (index only, about
// 0.1 ms a term). Local to the page: a term common early in the feed and rare later is rare there.
const TERM_REACH = 1_000;

/**
 * One page of the change feed: contacts in the order of their latest event (events/, migration
 * 0006: feed_positions). Events are numbered after they commit, in an order no later event can
 * undercut, so a cursor never moves past a change that shows up behind it; a contact changed again
 * moves to its newer number.
 */
export async function listContacts(db: Kysely<Database>, organizationId: string, options: FeedFilter) {
  if (Object.keys(options.search).length === 0) {
    const statement = listContactsStatement(db, organizationId, options, { route: 'feed' });
    return (await db.executeQuery(statement)).rows as FeedContactRow[];
  }
  // Without parallel workers: a search that walks the feed in order and filters would get some
  // when it expects to walk far, and under a LIMIT they only scan ahead of each other (measured at
  // a million contacts: never faster, up to 8× slower, and their CPU is taken from other requests).
  // Without JIT: a search estimated to sort many matches could cross jit_above_cost and spend more
  // time compiling than the page takes. Settings local to a transaction end with it.
  return inTransaction(db, async (trx) => {
    const plan = await searchPlan(trx, organizationId, searchTerms(options.search), options.after?.seq ?? null, true);
    return (await trx.executeQuery(listContactsStatement(trx, organizationId, options, plan))).rows as FeedContactRow[];
  });
}

const SEARCH_SETTINGS = sql`set_config('max_parallel_workers_per_gather', '0', true), set_config('jit', 'off', true)`;

/**
 * The plan of a search (see SearchPlan), from bounded counts of index entries in one statement:
 * each term's when there are several, q's when it is alone. With `settle`, the same statement
 * makes the transaction's settings for a search (listContacts), saving a round trip.
 */
export async function searchPlan(
  trx: Executor,
  organizationId: string,
  terms: ContactSearchTerms,
  after: number | null,
  settle = false,
): Promise<SearchPlan> {
  const exact = exactTerms(terms);
  // A phone or an external reference is one contact at most, found by its own index.
  const lookup = terms.phone !== null || terms.externalRef !== null;
  const measures: Array<RawBuilder<number | null>> = [];
  if (!lookup && exact.length > 1) {
    // How far each term's list runs before its TERM_REACH-th entry from here: the term reaching
    // furthest (or whose list ends first, null) is the rarest where this page reads.
    for (const term of exact) {
      measures.push(
        sql<number | null>`(${termEntries(trx, organizationId, term)
          .select('s.seq')
          .$if(after !== null, (entries) => entries.where('s.seq', '>', after as number))
          .orderBy('s.seq')
          .offset(TERM_REACH - 1)
          .limit(1)})`,
      );
    }
  } else if (!lookup && exact.length === 0 && terms.q !== null) {
    // UNION ALL, read lazily up to the cap (a UNION would read every entry to remove duplicates).
    const [names, ...others] = qRanges(trx, organizationId, terms.q, null);
    const entries = others.reduce((union, more) => union.unionAll(more), names);
    measures.push(sql<number>`(SELECT count(*)::integer FROM (${entries} LIMIT ${Q_SORT_LIMIT + 1}) AS entries)`);
  }
  const columns = [
    ...(settle ? [SEARCH_SETTINGS] : []),
    ...measures.map((measure, index) => sql`${measure} AS ${sql.id(`m${index}`)}`),
  ];
  const row =
    columns.length === 0
      ? {}
      : ((await sql<Record<string, string | number | null>>`SELECT ${sql.join(columns)}`.execute(trx)).rows[0] ?? {});
  const measured = (index: number) => {
    const value = row[`m${index}`];
    return value === null || value === undefined ? Number.POSITIVE_INFINITY : Number(value);
  };

  if (lookup) return { route: 'feed' };
  if (exact.length > 0) {
    // Furthest reach first; a stable sort keeps the request's order among equals.
    const ordered = exact.map((term, index) => ({ term, reach: exact.length > 1 ? measured(index) : 0 }));
    ordered.sort((a, b) => b.reach - a.reach);
    return { route: 'terms', terms: ordered.map(({ term }) => term) as [SearchTerm, ...SearchTerm[]] };
  }
  if (terms.q !== null) return { route: measured(0) > Q_SORT_LIMIT ? 'feed' : 'q-terms' };
  return { route: 'feed' };
}

/** The statement listContacts runs (exported for scripts/explain-search.ts, which shows its plans). */
export function listContactsStatement(db: Executor, organizationId: string, options: FeedFilter, plan: SearchPlan) {
  const terms = searchTerms(options.search);
  const conditions = searchConditions(organizationId, terms);
  if (plan.route === 'feed') {
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
    if (conditions.length === 0) return prepared(query.orderBy('p.seq').limit(options.limit + 1));
    // Not prepared: a search is planned with its values (an unnamed statement is planned at bind),
    // which is what turns a phone or an external reference into a lookup and q's LIKE patterns
    // into index ranges. A generic plan would know neither.
    for (const condition of conditions) query = query.where(condition);
    return query
      .orderBy('p.seq')
      .limit(options.limit + 1)
      .compile();
  }

  // The shape is fixed, so that the page costs what it lists: the entries in feed order (one index
  // range, or q's few sorted), then per entry, the other terms' entries at that position and the
  // contact's row with every condition. Each per-entry step is a LATERAL subquery with OFFSET 0,
  // which PostgreSQL runs as it is written, once per entry until the LIMIT is reached. Left to
  // itself, it would multiply the conditions' selectivities with the terms' (they test the same
  // thing), expect a handful of matches, and fetch and sort every one (150 ms for q at 100,000).
  const after = options.after?.seq ?? null;
  const [lead, ...others] = plan.route === 'terms' ? plan.terms : [null];
  const entriesOf = (term: SearchTerm) =>
    termEntries(db, organizationId, term)
      .select(['s.seq', 's.contact_id'])
      .$if(after !== null, (entries) => entries.where('s.seq', '>', after as number));
  // Both are (seq, contact_id) in seq order; one static type keeps the joins below typed.
  const leading =
    lead === null
      ? (qMatches(db, organizationId, terms.q as string, after) as unknown as ReturnType<typeof entriesOf>)
      : entriesOf(lead);
  let query = db.selectFrom(leading.as('s0')).select('s0.seq as feed_seq');
  others.forEach((term, index) => {
    query = query.innerJoinLateral(
      termEntries(db, organizationId, term)
        .select(sql`1`.as('one'))
        .where(sql<boolean>`s.seq = s0.seq`)
        .offset(0)
        .as(`o${index}`),
      (join) => join.onTrue(),
    );
  });
  if (options.updatedSince !== null) {
    const since = options.updatedSince;
    query = query.innerJoinLateral(
      db
        .selectFrom('feed_positions as p')
        .select(sql`1`.as('one'))
        .where('p.organization_id', '=', organizationId)
        .where('p.resource_type', '=', 'contact')
        .where(sql<boolean>`p.resource_id = s0.contact_id`)
        .where('p.updated_at', '>=', since)
        .offset(0)
        .as('p'),
      (join) => join.onTrue(),
    );
  }
  let contact = db
    .selectFrom('contacts')
    .selectAll('contacts')
    .select(companies)
    .where('contacts.organization_id', '=', organizationId)
    .where(sql<boolean>`contacts.id = s0.contact_id`);
  if (!options.includeDeleted) contact = contact.where('contacts.deleted_at', 'is', null);
  for (const condition of conditions) contact = contact.where(condition);
  return query
    .innerJoinLateral(contact.offset(0).as('c'), (join) => join.onTrue())
    .selectAll('c')
    .orderBy('s0.seq')
    .limit(options.limit + 1)
    .compile();
}

/** The entries of one term, in feed order (the primary key's). */
function termEntries(db: Executor, organizationId: string, term: SearchTerm) {
  return db
    .selectFrom('contact_search_terms as s')
    .where('s.organization_id', '=', organizationId)
    .where('s.term', '=', term);
}

/**
 * The term a contact holding only `values` (a partial contact row, as to_jsonb gives one) has, by
 * the one definition of terms (migration 0012: contact_search_terms). Each call names one value,
 * so the array has one element; the planner computes it while planning and uses the list's
 * statistics for it.
 */
function termOf(values: Record<string, unknown>) {
  return sql<string>`(contact_search_terms(${JSON.stringify(values)}::jsonb))[1]`;
}

/** The terms a contact must hold to match: every filter but phone, external_ref and q. */
function exactTerms(terms: ContactSearchTerms) {
  const exact = [];
  if (terms.email !== null) exact.push(termOf({ email_keys: [terms.email] }));
  for (const tag of terms.tags ?? []) exact.push(termOf({ tags: [tag] }));
  if (terms.namespace !== null) exact.push(termOf({ external_refs: [{ namespace: terms.namespace }] }));
  for (const [key, value] of Object.entries(terms.custom ?? {}))
    exact.push(termOf({ custom_fields: { [key]: value } }));
  return exact;
}

/** `term` as a LIKE pattern for the terms it starts (escapes `\`, `%` and `_`; constant-folded like the term). */
function startingWith(term: ReturnType<typeof termOf>) {
  return sql<string>`replace(replace(replace(${term}, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'`;
}

/**
 * The entries q can match, all the contact's row is then tested for: the range of `n:` terms its
 * prefix starts (a first or last name), the range of `e:` terms (an email; only the primary one
 * counts), and for each way q can be `first last…` (fullNameSplits), the `n:` term of that first
 * name. A contact may be in several.
 */
function qRanges(db: Executor, organizationId: string, q: string, after: number | null) {
  const entries = (term: SearchTerm, compare: 'like' | '=') =>
    db
      .selectFrom('contact_search_terms as s')
      .select(['s.seq', 's.contact_id'])
      .where('s.organization_id', '=', organizationId)
      .where('s.term', compare, compare === 'like' ? startingWith(term) : term)
      .$if(after !== null, (query) => query.where('s.seq', '>', after as number));
  return [
    entries(termOf({ first_name: q }), 'like'),
    entries(termOf({ email_keys: [q] }), 'like'),
    ...fullNameSplits(q).map(({ first }) => entries(termOf({ first_name: first }), '=')),
  ] as const;
}

/**
 * q's entries in feed order, each contact once: one sort does both (DISTINCT ON; UNION would hash
 * them first, then sort). Sorted in a subquery, below the joins, so only the listed contacts are read.
 */
function qMatches(db: Executor, organizationId: string, q: string, after: number | null) {
  const [names, ...others] = qRanges(db, organizationId, q, after);
  return db
    .selectFrom(others.reduce((union, entries) => union.unionAll(entries), names).as('q'))
    .distinctOn('q.seq')
    .select(['q.seq', 'q.contact_id'])
    .orderBy('q.seq');
}

/**
 * q: a case-insensitive prefix of the first name, the last name, the full name or the primary email,
 * tested on the contact's row. Lower-cased by the database on both sides, as its terms are
 * (JavaScript's toLowerCase and PostgreSQL's lower(), which follows the database's locale, can
 * disagree outside ASCII). email_key is lower-cased by JavaScript (email.ts), but emails are ASCII
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

/**
 * The search as conditions on the contact's current row. Whatever route found the contact, these
 * decide: a cut term matched a longer value, or the contact changed after its terms were listed.
 */
function searchConditions(organizationId: string, terms: ContactSearchTerms) {
  const conditions = [];
  if (terms.email !== null) conditions.push(sql<boolean>`contacts.email_keys @> ARRAY[${terms.email}::text]`);
  if (terms.phone !== null) conditions.push(sql<boolean>`contacts.phone_key = ${terms.phone}`);
  if (terms.tags !== null) {
    // contact_tag_keys(tags) cuts tags to TAG_KEY_LENGTH characters, so a shorter key matches only
    // the tag itself; a tag of that length may also be the start of a longer one.
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
