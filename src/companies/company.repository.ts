import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { refKey } from '../db/external-refs.js';
import { prepared } from '../db/prepared.js';
import type { CompaniesTable, Database, ExternalRefJson } from '../db/schema.js';
import type { FeedFilter } from '../http/feed.js';

type Executor = Kysely<Database> | Transaction<Database>;

export type CompanyRow = Selectable<CompaniesTable>;

export interface CompanyState {
  name: string;
  website: string | null;
  externalRefs: ExternalRefJson[];
}

const now = sql<Date>`date_trunc('milliseconds', now())`;

export async function findCompanyById(
  db: Executor,
  organizationId: string,
  companyId: string,
  options: { lock?: boolean } = {},
) {
  let query = db
    .selectFrom('companies')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', companyId);
  if (options.lock) query = query.forUpdate();
  return (await db.executeQuery(prepared(query))).rows[0];
}

/** The company (live or deleted) that holds this reference. */
export async function findCompanyByExternalRef(
  db: Executor,
  organizationId: string,
  ref: ExternalRefJson,
  options: { lock?: boolean } = {},
) {
  let query = db
    .selectFrom('company_external_refs as r')
    .innerJoin('companies', (join) =>
      join.onRef('companies.organization_id', '=', 'r.organization_id').onRef('companies.id', '=', 'r.company_id'),
    )
    .selectAll('companies')
    .where('r.organization_id', '=', organizationId)
    .where('r.namespace', '=', ref.namespace)
    .where('r.external_id', '=', ref.id);
  if (options.lock) query = query.forUpdate('companies' as never);
  return query.executeTakeFirst();
}

/** Live companies by reference: the id each reference resolves to (absent when none holds it). */
export async function findLiveCompanyIdsByExternalRef(
  db: Executor,
  organizationId: string,
  refs: readonly ExternalRefJson[],
): Promise<Map<string, string>> {
  if (refs.length === 0) return new Map();
  const { rows } = await sql<{ namespace: string; external_id: string; id: string }>`
    SELECT r.namespace, r.external_id, c.id
    FROM company_external_refs r
    JOIN companies c ON c.organization_id = r.organization_id AND c.id = r.company_id
    WHERE r.organization_id = ${organizationId} AND c.deleted_at IS NULL
      AND (r.namespace, r.external_id) IN (
        SELECT * FROM unnest(${refs.map((ref) => ref.namespace)}::text[], ${refs.map((ref) => ref.id)}::text[])
      )
  `.execute(db);
  return new Map(rows.map((row) => [refKey({ namespace: row.namespace, id: row.external_id }), row.id]));
}

/**
 * The live company with this name in any case (the oldest, when several share it), for companyName
 * on contact writes; served by companies_live_name (migration 0010).
 */
export async function findLiveCompanyIdByName(db: Executor, organizationId: string, name: string) {
  const row = await db
    .selectFrom('companies')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where(sql`lower(name)`, '=', sql`lower(${name})`)
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

export function insertCompany(trx: Transaction<Database>, organizationId: string, state: CompanyState, origin: string) {
  return trx
    .insertInto('companies')
    .values({
      organization_id: organizationId,
      name: state.name,
      website: state.website,
      external_refs: JSON.stringify(state.externalRefs),
      version: 1,
      change_origin: origin,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function updateCompany(
  trx: Transaction<Database>,
  organizationId: string,
  companyId: string,
  state: CompanyState,
  origin: string,
  options: { revive?: boolean } = {},
) {
  return trx
    .updateTable('companies')
    .set({
      name: state.name,
      website: state.website,
      external_refs: JSON.stringify(state.externalRefs),
      ...(options.revive ? { deleted_at: null } : {}),
      version: sql`version + 1`,
      updated_at: now,
      change_origin: origin,
      change_xid: sql`pg_current_xact_id()` as never,
    })
    .where('organization_id', '=', organizationId)
    .where('id', '=', companyId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function softDeleteCompany(
  trx: Transaction<Database>,
  organizationId: string,
  companyId: string,
  origin: string,
) {
  return trx
    .updateTable('companies')
    .set({
      version: sql`version + 1`,
      updated_at: now,
      deleted_at: now,
      change_origin: origin,
      change_xid: sql`pg_current_xact_id()` as never,
    })
    .where('organization_id', '=', organizationId)
    .where('id', '=', companyId)
    .where('deleted_at', 'is', null)
    .execute();
}

/** The company change feed, in the order of each company's latest event; see listContacts. */
export async function listCompanies(db: Executor, organizationId: string, options: FeedFilter) {
  let query = db
    .selectFrom('feed_positions as p')
    .innerJoin('companies', (join) =>
      join.onRef('companies.organization_id', '=', 'p.organization_id').onRef('companies.id', '=', 'p.resource_id'),
    )
    .selectAll('companies')
    .select('p.seq as feed_seq')
    .where('p.organization_id', '=', organizationId)
    .where('p.resource_type', '=', 'company');
  if (options.after !== null) query = query.where('p.seq', '>', options.after.seq);
  if (options.updatedSince !== null) query = query.where('p.updated_at', '>=', options.updatedSince);
  if (!options.includeDeleted) query = query.where('companies.deleted_at', 'is', null);
  return (await db.executeQuery(prepared(query.orderBy('p.seq').limit(options.limit + 1)))).rows;
}
