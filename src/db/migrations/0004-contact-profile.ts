import { type Kysely, sql } from 'kysely';

/**
 * The contact profile's fields beyond names and channels (contact.fields.ts declares each): postal
 * address, website, time zone, birth date, lead source and owner, and do-not-disturb. Every column is
 * nullable or has a constant default, so adding them rewrites no existing row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE contacts
      ADD COLUMN address1 text,
      ADD COLUMN city text,
      ADD COLUMN state text,
      ADD COLUMN postal_code text,
      -- ISO 3166-1 alpha-2, upper-case.
      ADD COLUMN country text,
      ADD COLUMN website text,
      -- An IANA zone name as the tz database spells it.
      ADD COLUMN timezone text,
      ADD COLUMN date_of_birth date,
      ADD COLUMN source text,
      ADD COLUMN assigned_to text,
      ADD COLUMN dnd boolean NOT NULL DEFAULT false,
      -- Per-channel do-not-disturb; NULL when never set.
      ADD COLUMN dnd_settings jsonb
  `.execute(db);
}
