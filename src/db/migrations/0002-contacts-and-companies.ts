import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';

/**
 * Contacts and companies. Every key starts with organization_id. Lists, external references and
 * connections live in jsonb on the row, so a contact reads and writes as one row; the external
 * reference tables exist for what jsonb cannot do: enforce uniqueness and find the owner by index.
 *
 * change_xid is the id of the transaction that last changed the row. The change feed pages by it,
 * which (with the snapshot horizon applied at read time) never skips a change that commits late.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE companies (
      organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      name text NOT NULL,
      website text,
      external_refs jsonb NOT NULL DEFAULT '[]',
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      deleted_at timestamptz,
      change_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      PRIMARY KEY (organization_id, id)
    )
  `.execute(db);
  await sql`CREATE INDEX companies_change_feed ON companies (organization_id, change_xid, id)`.execute(db);

  await sql`
    CREATE TABLE company_external_refs (
      organization_id uuid NOT NULL,
      namespace text NOT NULL,
      external_id text NOT NULL,
      company_id uuid NOT NULL,
      PRIMARY KEY (organization_id, namespace, external_id),
      FOREIGN KEY (organization_id, company_id) REFERENCES companies (organization_id, id) ON DELETE CASCADE
    )
  `.execute(db);
  await sql`CREATE INDEX company_external_refs_company ON company_external_refs (organization_id, company_id)`.execute(
    db,
  );

  await sql`
    CREATE TABLE contacts (
      organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      first_name text,
      last_name text,
      email text,
      -- The primary email as compared: trimmed and lower-cased by the application.
      email_key text,
      phone text,
      linkedin_url text,
      emails jsonb NOT NULL DEFAULT '[]',
      phones jsonb NOT NULL DEFAULT '[]',
      primary_language text,
      tags text[] NOT NULL DEFAULT '{}',
      strategy text,
      blocked boolean NOT NULL DEFAULT false,
      external_refs jsonb NOT NULL DEFAULT '[]',
      connections jsonb NOT NULL DEFAULT '[]',
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      deleted_at timestamptz,
      change_type text NOT NULL DEFAULT 'created'
        CHECK (change_type IN ('created', 'updated', 'deleted', 'revived')),
      change_origin text NOT NULL DEFAULT 'api',
      change_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      PRIMARY KEY (organization_id, id)
    )
  `.execute(db);
  // A primary email belongs to one live contact; deleting a contact frees its address.
  await sql`
    CREATE UNIQUE INDEX contacts_email_key ON contacts (organization_id, email_key)
    WHERE deleted_at IS NULL AND email_key IS NOT NULL
  `.execute(db);
  await sql`CREATE INDEX contacts_phone ON contacts (organization_id, phone) WHERE deleted_at IS NULL AND phone IS NOT NULL`.execute(
    db,
  );
  await sql`CREATE INDEX contacts_change_feed ON contacts (organization_id, change_xid, id)`.execute(db);
  await sql`CREATE INDEX contacts_updated_at ON contacts (organization_id, updated_at)`.execute(db);

  // A reference names one contact, live or deleted, so a deleted contact can be revived by it.
  await sql`
    CREATE TABLE contact_external_refs (
      organization_id uuid NOT NULL,
      namespace text NOT NULL,
      external_id text NOT NULL,
      contact_id uuid NOT NULL,
      PRIMARY KEY (organization_id, namespace, external_id),
      FOREIGN KEY (organization_id, contact_id) REFERENCES contacts (organization_id, id) ON DELETE CASCADE
    )
  `.execute(db);
  await sql`CREATE INDEX contact_external_refs_contact ON contact_external_refs (organization_id, contact_id)`.execute(
    db,
  );

  // Signs list cursors. Kept in the database so every server process on it accepts the others' cursors.
  await sql`
    CREATE TABLE server_secrets (
      name text PRIMARY KEY,
      secret bytea NOT NULL
    )
  `.execute(db);
  await sql`INSERT INTO server_secrets (name, secret) VALUES ('cursor', ${randomBytes(32)})`.execute(db);
}
