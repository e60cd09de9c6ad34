import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE organizations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      settings jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
    )
  `.execute(db);

  await sql`
    CREATE TABLE api_tokens (
      organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      name text,
      token_hash bytea NOT NULL,
      scopes text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      expires_at timestamptz,
      revoked_at timestamptz,
      PRIMARY KEY (organization_id, id)
    )
  `.execute(db);
  // The one lookup that cannot start from an organization: authentication, where the token is all we know.
  await sql`CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash)`.execute(db);
}
