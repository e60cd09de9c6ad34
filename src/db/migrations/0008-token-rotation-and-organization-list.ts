import { type Kysely, sql } from 'kysely';

/**
 * Token rotation and the operator's organization list.
 *
 * - api_tokens: a rotation gives the token a new secret (`token_hash`) and may keep the one it
 *   replaces working for a grace period: `previous_token_hash` until `previous_token_expires_at`.
 *   One previous secret at most: a second rotation within the grace period ends the first one's.
 *   Authentication looks the previous hash up too, so it gets an index like `token_hash`'s; partial,
 *   since most tokens are never rotated.
 * - organizations: listed by name, case-insensitively, with a name-prefix filter. The key is
 *   `lower(name)` under the "C" collation: byte order is the same on every cluster whatever its
 *   locale, and it is the collation under which a btree index serves `LIKE 'prefix%'` as a range.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE api_tokens
      ADD COLUMN previous_token_hash bytea,
      ADD COLUMN previous_token_expires_at timestamptz,
      ADD COLUMN rotated_at timestamptz,
      ADD CONSTRAINT api_tokens_previous_token_complete
        CHECK ((previous_token_hash IS NULL) = (previous_token_expires_at IS NULL))
  `.execute(db);
  await sql`
    CREATE UNIQUE INDEX api_tokens_previous_token_hash_key ON api_tokens (previous_token_hash)
    WHERE previous_token_hash IS NOT NULL
  `.execute(db);
  await sql`CREATE INDEX organizations_name_key ON organizations ((lower(name) COLLATE "C"), id)`.execute(db);
}
