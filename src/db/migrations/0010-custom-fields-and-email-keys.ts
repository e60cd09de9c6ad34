import { type Kysely, sql } from 'kysely';
import { emailKey } from '../../contacts/email.js';

/** Rows keyed per round trip: bounded memory, whatever the table's size. */
const BATCH = 5_000;

/**
 * Typed custom fields, every email of a contact as compared, and companies by name.
 *
 * `contact_field_definitions` holds each organization's custom fields (contact-fields/); a
 * contact's values live in `contacts.custom_fields`, one jsonb object keyed by definition key. The
 * object is never NULL, so a write merges keys into it without a COALESCE and "no values" is `{}`.
 *
 * `email_keys` lists all of a contact's emails in the form they are compared in (contacts/email.ts:
 * emailKey), computed by the application like phone_key (migration 0005), so search finds a contact
 * by any of its emails exactly as matching would. Existing rows are keyed here in batches.
 *
 * `companies_live_name` serves companyName on contact writes (the live company of that name, in any case).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE contact_field_definitions (
      organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      -- Never changes: values on contacts are stored under it.
      key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,49}$'),
      label text NOT NULL,
      type text NOT NULL CHECK (type IN ('text', 'number', 'boolean', 'date', 'datetime', 'url', 'email', 'phone',
                                          'single_select', 'multi_select')),
      -- [{ "value", "label" }] for the select types, [] otherwise.
      options jsonb NOT NULL DEFAULT '[]'::jsonb,
      archived boolean NOT NULL DEFAULT false,
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
      PRIMARY KEY (organization_id, key)
    )
  `.execute(db);
  await sql`
    ALTER TABLE contacts
      ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}'::jsonb,
      ADD COLUMN email_keys text[] NOT NULL DEFAULT '{}'::text[]
  `.execute(db);

  // companyName on a contact write finds the live company of that name, in any case.
  await sql`
    CREATE INDEX companies_live_name ON companies (organization_id, lower(name)) WHERE deleted_at IS NULL
  `.execute(db);

  let after: { organization_id: string; id: string } | null = null;
  for (;;) {
    const position: { organization_id: string; id: string } | null = after;
    const { rows } = await sql<{ organization_id: string; id: string; addresses: string[] }>`
      SELECT c.organization_id, c.id, ARRAY(SELECT e ->> 'address' FROM jsonb_array_elements(c.emails) AS e) AS addresses
      FROM contacts c
      WHERE c.emails <> '[]'::jsonb
        AND (${position === null} OR (c.organization_id, c.id) > (${position?.organization_id ?? null}::uuid, ${position?.id ?? null}::uuid))
      ORDER BY c.organization_id, c.id
      LIMIT ${BATCH}
    `.execute(db);
    if (rows.length === 0) break;
    // Postgres arrays of arrays must be rectangular; each contact's keys travel as one JSON array.
    await sql`
      UPDATE contacts c SET email_keys = ARRAY(SELECT jsonb_array_elements_text(k.email_keys))
      FROM unnest(${rows.map((row) => row.organization_id)}::uuid[], ${rows.map((row) => row.id)}::uuid[],
                  ${rows.map((row) => JSON.stringify(row.addresses.map(emailKey)))}::jsonb[]) AS k(organization_id, id, email_keys)
      WHERE c.organization_id = k.organization_id AND c.id = k.id
    `.execute(db);
    after = rows.at(-1) as { organization_id: string; id: string };
  }
}
