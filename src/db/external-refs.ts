import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, ExternalRefJson } from './schema.js';

/** The uniqueness tables behind contacts' and companies' external references. */
export type ExternalRefTable =
  | { table: 'contact_external_refs'; owner: 'contact_id'; owners: 'contacts' }
  | { table: 'company_external_refs'; owner: 'company_id'; owners: 'companies' };

export const CONTACT_REFS: ExternalRefTable = {
  table: 'contact_external_refs',
  owner: 'contact_id',
  owners: 'contacts',
};
export const COMPANY_REFS: ExternalRefTable = {
  table: 'company_external_refs',
  owner: 'company_id',
  owners: 'companies',
};

/** Identity of a reference: namespace (already lower-cased) and id. */
export const refKey = (ref: ExternalRefJson) => `${ref.namespace}\u0000${ref.id}`;

/**
 * Makes the table's rows for one owner match `refs`. Returns the references another owner already
 * holds (left alone); the caller turns them into a conflict.
 */
export async function replaceExternalRefs(
  trx: Transaction<Database>,
  target: ExternalRefTable,
  organizationId: string,
  ownerId: string,
  previous: readonly ExternalRefJson[],
  refs: readonly ExternalRefJson[],
): Promise<ExternalRefJson[]> {
  const wanted = new Set(refs.map(refKey));
  const had = new Set(previous.map(refKey));
  const removed = previous.filter((ref) => !wanted.has(refKey(ref)));
  const added = refs.filter((ref) => !had.has(refKey(ref)));
  const table = sql.table(target.table);
  const owner = sql.ref(target.owner);
  if (removed.length > 0) {
    await sql`
      DELETE FROM ${table}
      WHERE organization_id = ${organizationId} AND ${owner} = ${ownerId}
        AND (namespace, external_id) IN (
          SELECT * FROM unnest(${removed.map((ref) => ref.namespace)}::text[], ${removed.map((ref) => ref.id)}::text[])
        )
    `.execute(trx);
  }
  if (added.length === 0) return [];
  const inserted = await sql<{ namespace: string; external_id: string }>`
    INSERT INTO ${table} (organization_id, namespace, external_id, ${owner})
    SELECT ${organizationId}, r.namespace, r.external_id, ${ownerId}
    FROM unnest(${added.map((ref) => ref.namespace)}::text[], ${added.map((ref) => ref.id)}::text[]) AS r(namespace, external_id)
    ON CONFLICT DO NOTHING
    RETURNING namespace, external_id
  `.execute(trx);
  const insertedKeys = new Set(inserted.rows.map((row) => refKey({ namespace: row.namespace, id: row.external_id })));
  return added.filter((ref) => !insertedKeys.has(refKey(ref)));
}

export async function findExternalRefOwner(
  db: Kysely<Database> | Transaction<Database>,
  target: ExternalRefTable,
  organizationId: string,
  ref: ExternalRefJson,
): Promise<string | null> {
  const result = await sql<{ owner_id: string }>`
    SELECT ${sql.ref(target.owner)} AS owner_id FROM ${sql.table(target.table)}
    WHERE organization_id = ${organizationId} AND namespace = ${ref.namespace} AND external_id = ${ref.id}
  `.execute(db);
  return result.rows[0]?.owner_id ?? null;
}

/**
 * Gives a deleted record's reference to the new record that replaces it (an upsert with
 * revive=false). The deleted record no longer lists the reference; its tombstone stays in the
 * change feed with a new version.
 */
export async function moveExternalRef(
  trx: Transaction<Database>,
  target: ExternalRefTable,
  organizationId: string,
  ref: ExternalRefJson,
  fromOwnerId: string,
  toOwnerId: string,
  origin: string,
): Promise<void> {
  await sql`
    UPDATE ${sql.table(target.table)} SET ${sql.ref(target.owner)} = ${toOwnerId}
    WHERE organization_id = ${organizationId} AND namespace = ${ref.namespace} AND external_id = ${ref.id}
      AND ${sql.ref(target.owner)} = ${fromOwnerId}
  `.execute(trx);
  await sql`
    UPDATE ${sql.table(target.owners)} SET
      external_refs = coalesce((
        SELECT jsonb_agg(e.value ORDER BY e.n) FROM jsonb_array_elements(external_refs) WITH ORDINALITY AS e(value, n)
        WHERE NOT (e.value ->> 'namespace' = ${ref.namespace} AND e.value ->> 'id' = ${ref.id})
      ), '[]'::jsonb),
      version = version + 1,
      updated_at = date_trunc('milliseconds', now()),
      change_origin = ${origin},
      change_xid = pg_current_xact_id()
    WHERE organization_id = ${organizationId} AND id = ${fromOwnerId}
  `.execute(trx);
}
