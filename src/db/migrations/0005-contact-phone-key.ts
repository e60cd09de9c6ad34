import { type Kysely, sql } from 'kysely';
import { phoneKey } from '../../contacts/phone.js';

/**
 * The primary phone as compared (contacts/phone.ts: phoneKey) gets a column and the phone index
 * moves to it, so matching finds `(555) 987-6543` under `+15559876543`.
 *
 * Existing rows get their key here. A stored E.164 number is its own key, set in one statement;
 * only the others (stored as sent, because libphonenumber did not call them valid) are read and
 * keyed with their organization's phone region, as the application keys new writes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE contacts ADD COLUMN phone_key text`.execute(db);
  await sql`UPDATE contacts SET phone_key = phone WHERE phone ~ '^[+][1-9][0-9]{1,14}$'`.execute(db);
  const { rows } = await sql<{ organization_id: string; id: string; phone: string; region: string | null }>`
    SELECT c.organization_id, c.id, c.phone, o.settings ->> 'defaultPhoneRegion' AS region
    FROM contacts c JOIN organizations o ON o.id = c.organization_id
    WHERE c.phone IS NOT NULL AND c.phone_key IS NULL
  `.execute(db);
  for (let start = 0; start < rows.length; start += 1_000) {
    const chunk = rows.slice(start, start + 1_000);
    await sql`
      UPDATE contacts c SET phone_key = k.phone_key
      FROM unnest(${chunk.map((row) => row.organization_id)}::uuid[], ${chunk.map((row) => row.id)}::uuid[],
                  ${chunk.map((row) => phoneKey(row.phone, row.region))}::text[]) AS k(organization_id, id, phone_key)
      WHERE c.organization_id = k.organization_id AND c.id = k.id
    `.execute(db);
  }
  await sql`DROP INDEX contacts_phone`.execute(db);
  await sql`
    CREATE INDEX contacts_phone_key ON contacts (organization_id, phone_key)
    WHERE deleted_at IS NULL AND phone_key IS NOT NULL
  `.execute(db);
}
