import { type Kysely, sql } from 'kysely';
import { phoneKey } from '../../contacts/phone.js';

/** Rows keyed per round trip: bounded memory, whatever the table's size. */
const BATCH = 5_000;

/**
 * The primary phone as compared (contacts/phone.ts: phoneKey) gets a column and the phone index
 * moves to it, so matching finds `(555) 987-6543` under `+15559876543`.
 *
 * Every existing phone is keyed here with its organization's phone region, exactly as the
 * application keys new writes. None is taken as its own key on sight: a number stored as sent
 * (libphonenumber did not call it valid) may look like E.164 and still key differently
 * (`+4407700900123` → `+447700900123`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE contacts ADD COLUMN phone_key text`.execute(db);
  let after: { organization_id: string; id: string } | null = null;
  for (;;) {
    const position: { organization_id: string; id: string } | null = after;
    const { rows } = await sql<{ organization_id: string; id: string; phone: string; region: string | null }>`
      SELECT c.organization_id, c.id, c.phone, o.settings ->> 'defaultPhoneRegion' AS region
      FROM contacts c JOIN organizations o ON o.id = c.organization_id
      WHERE c.phone IS NOT NULL
        AND (${position === null} OR (c.organization_id, c.id) > (${position?.organization_id ?? null}::uuid, ${position?.id ?? null}::uuid))
      ORDER BY c.organization_id, c.id
      LIMIT ${BATCH}
    `.execute(db);
    if (rows.length === 0) break;
    await sql`
      UPDATE contacts c SET phone_key = k.phone_key
      FROM unnest(${rows.map((row) => row.organization_id)}::uuid[], ${rows.map((row) => row.id)}::uuid[],
                  ${rows.map((row) => phoneKey(row.phone, row.region))}::text[]) AS k(organization_id, id, phone_key)
      WHERE c.organization_id = k.organization_id AND c.id = k.id
    `.execute(db);
    after = rows.at(-1) as { organization_id: string; id: string };
  }
  await sql`DROP INDEX contacts_phone`.execute(db);
  await sql`
    CREATE INDEX contacts_phone_key ON contacts (organization_id, phone_key)
    WHERE deleted_at IS NULL AND phone_key IS NOT NULL
  `.execute(db);
}
