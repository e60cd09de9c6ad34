import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';

/** How long a key is kept and honoured; after that it is purged and a reuse is a new request. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

export interface StoredResponse {
  requestHash: string;
  status: number;
  headers: Record<string, string>;
  /** Sealed by the caller; stored as given. */
  body: string;
}

/**
 * Tries to become the one request running under this key, for the rest of the transaction. False
 * means another request with the key is running now (in any server process).
 */
export async function tryClaimKey(trx: Kysely<Database>, organizationId: string, key: string): Promise<boolean> {
  const { rows } = await sql<{ claimed: boolean }>`
    SELECT pg_try_advisory_xact_lock(hashtextextended(${`idempotency\u001f${organizationId}\u001f${key}`}, 0)) AS claimed
  `.execute(trx);
  return rows[0]?.claimed === true;
}

export async function findStoredResponse(
  db: Kysely<Database>,
  organizationId: string,
  keyHash: string,
): Promise<StoredResponse | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'response_status', 'response_headers', 'response_body'])
    .where('organization_id', '=', organizationId)
    .where('key_hash', '=', keyHash)
    .where('created_at', '>', sql<Date>`now() - make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})`)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        requestHash: row.request_hash,
        status: row.response_status,
        headers: row.response_headers,
        body: row.response_body,
      };
}

/** Stores the answer; an expired row under the same key (not yet purged) is replaced. */
export async function storeResponse(
  trx: Kysely<Database>,
  organizationId: string,
  keyHash: string,
  response: StoredResponse,
): Promise<void> {
  await trx
    .insertInto('idempotency_keys')
    .values({
      organization_id: organizationId,
      key_hash: keyHash,
      request_hash: response.requestHash,
      response_status: response.status,
      response_headers: JSON.stringify(response.headers),
      response_body: response.body,
    })
    .onConflict((conflict) =>
      conflict.columns(['organization_id', 'key_hash']).doUpdateSet((excluded) => ({
        request_hash: excluded.ref('excluded.request_hash'),
        response_status: excluded.ref('excluded.response_status'),
        response_headers: excluded.ref('excluded.response_headers'),
        response_body: excluded.ref('excluded.response_body'),
        created_at: sql`now()`,
      })),
    )
    .execute();
}

/**
 * Deletes expired keys in bounded slices, so a large backlog never holds one long transaction. The
 * one query that spans organizations: a maintenance sweep by age, not a request's read.
 */
export async function purgeExpiredKeys(db: Kysely<Database>, batchSize = 5_000): Promise<number> {
  let purged = 0;
  for (;;) {
    // The age is checked again on the row deleted: a key answered afresh since the subquery read it
    // (an expired key reused) must stay.
    const result = await sql`
      DELETE FROM idempotency_keys
      WHERE (organization_id, key_hash) IN (
        SELECT organization_id, key_hash FROM idempotency_keys
        WHERE created_at < now() - make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})
        LIMIT ${batchSize}
      )
        AND created_at < now() - make_interval(hours => ${IDEMPOTENCY_KEY_TTL_HOURS})
    `.execute(db);
    const count = Number(result.numAffectedRows ?? 0);
    purged += count;
    if (count < batchSize) return purged;
  }
}
