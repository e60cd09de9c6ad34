import { type Kysely, sql } from 'kysely';

/**
 * The stored answers of requests sent with an Idempotency-Key. A row is written in the same
 * transaction as the request's own write, so the two exist together or not at all. The admin API's
 * keys use the nil UUID as their organization: they belong to the operator, not to a tenant.
 *
 * Neither the key nor the answer's body is stored readable: the key as its SHA-256, the body
 * encrypted with a key derived from the Idempotency-Key itself. An answer can hold a secret (a new
 * API token), and only the client that holds the key can have it replayed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE idempotency_keys (
      organization_id uuid NOT NULL,
      key_hash text NOT NULL,
      request_hash text NOT NULL,
      response_status integer NOT NULL,
      response_headers jsonb NOT NULL,
      response_body text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (organization_id, key_hash)
    )
  `.execute(db);
  // The purge scans by age across organizations.
  await sql`CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)`.execute(db);
}
