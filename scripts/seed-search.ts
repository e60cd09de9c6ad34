/**
 * Contacts to measure search on, written with SQL (the API would take hours for a million), through
 * the same trigger and sequencer as the API's writes, so the feed and the event log are what the
 * application would have: `npm run bench` seeds its organization with seedSearchContacts, and
 *
 *   DATABASE_URL=postgres://… tsx scripts/seed-search.ts [--contacts 1000000] [--other-contacts 100000]
 *
 * makes an organization (phone region US) with that many contacts, plus another organization whose
 * contacts share every value (so tenant isolation has something to skip), and prints the first
 * one's id for scripts/explain-search.ts. Autovacuum may be off: it ends with VACUUM ANALYZE.
 *
 * Contacts are created in a shuffled order of i (a fixed permutation), so no value clusters in the
 * feed the way it would if contact i were the i-th change: a search walking the feed meets matches
 * spread as in real data. Contact i (0-based) has:
 *   first_name 'First<i>', last_name 'Last<i>'; primary email c<i>@bench.test, and every tenth a
 *     second one, w<i>@work.test
 *   every second one a phone +1555<i, 7 digits> (E.164, US)
 *   tags: customer or lead (half each), vip (1 %), region-<i % 20> (5 %), cohort-<i % 1000> (0.1 %)
 *   custom fields: tier (single_select: gold/silver/bronze, a third each), industry (single_select,
 *     ind-<i % 50>: 2 %), score (number, i % 100), active (boolean, half), since (date),
 *     interests (multi_select, int-<i % 10> and int-<i / 10 % 10>: about 19 % hold each)
 *   external refs bench:r<i>, and for every tenth hubspot:hs-<i>
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Kysely, sql } from 'kysely';
import { connectDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import type { Database } from '../src/db/schema.js';
import { sequenceAllEvents } from '../src/events/event.repository.js';
import { createOrganization } from '../src/organizations/organization.service.js';

const options = (values: string[]) => JSON.stringify(values.map((value) => ({ value, label: value })));

/** The custom fields the seeded contacts hold values of. */
export const SEARCH_FIELD_DEFINITIONS = [
  { key: 'tier', type: 'single_select', options: options(['gold', 'silver', 'bronze']) },
  {
    key: 'industry',
    type: 'single_select',
    options: options(Array.from({ length: 50 }, (_, n) => `ind-${n}`)),
  },
  { key: 'score', type: 'number', options: '[]' },
  { key: 'active', type: 'boolean', options: '[]' },
  { key: 'since', type: 'date', options: '[]' },
  {
    key: 'interests',
    type: 'multi_select',
    options: options(Array.from({ length: 10 }, (_, n) => `int-${n}`)),
  },
] as const;

export async function seedSearchDefinitions(db: Kysely<Database>, organizationId: string): Promise<void> {
  await db
    .insertInto('contact_field_definitions')
    .values(
      SEARCH_FIELD_DEFINITIONS.map((field) => ({
        organization_id: organizationId,
        key: field.key,
        label: field.key,
        type: field.type,
        options: field.options,
        archived: false,
        version: 1,
      })),
    )
    .onConflict((conflict) => conflict.columns(['organization_id', 'key']).doNothing())
    .execute();
}

/** A multiplier coprime with `count`: k → k × it mod count shuffles 0 … count - 1. */
function shuffleStep(count: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const step = [7_919, 104_729, 1_299_709, 15_485_863].find((prime) => gcd(prime, count) === 1);
  if (step === undefined) throw new Error(`no shuffle for ${count} contacts`);
  return step;
}

/**
 * The contacts created `from`-th to `to - 1`-th of the `count` of an organization, as described
 * above, with their external references; their events wait in the outbox (sequenceAllEvents
 * numbers them).
 */
export async function insertSearchContacts(
  db: Kysely<Database>,
  organizationId: string,
  from: number,
  to: number,
  count: number,
): Promise<void> {
  await sql`
    WITH numbered AS (
      SELECT k, i, 'c' || i || '@bench.test' AS email, 'w' || i || '@work.test' AS work_email,
             CASE WHEN i % 2 = 0 THEN '+1555' || lpad(i::text, 7, '0') END AS phone
      FROM (SELECT (k * ${shuffleStep(count)}::bigint % ${count}::bigint)::int AS i, k
            FROM generate_series(${from}::bigint, ${to - 1}::bigint) AS k) AS shuffled
    ), seeded AS (
      INSERT INTO contacts (organization_id, first_name, last_name, email, email_key, emails, email_keys, phone,
                            phone_key, phones, tags, custom_fields, external_refs, change_origin)
      SELECT ${organizationId}::uuid, 'First' || i, 'Last' || i, email, email,
             jsonb_build_array(jsonb_build_object('address', email, 'type', null, 'isPrimary', true))
               || CASE WHEN i % 10 = 0
                       THEN jsonb_build_array(jsonb_build_object('address', work_email, 'type', 'work', 'isPrimary', false))
                       ELSE '[]'::jsonb END,
             CASE WHEN i % 10 = 0 THEN ARRAY[email, work_email] ELSE ARRAY[email] END,
             phone, phone,
             CASE WHEN phone IS NULL THEN '[]'::jsonb
                  ELSE jsonb_build_array(jsonb_build_object('number', phone, 'type', 'mobile', 'isPrimary', true)) END,
             array_remove(ARRAY[CASE WHEN i % 2 = 0 THEN 'customer' ELSE 'lead' END,
                                CASE WHEN i % 100 = 0 THEN 'vip' END,
                                'region-' || (i % 20), 'cohort-' || (i % 1000)], NULL),
             jsonb_build_object(
               'tier', (ARRAY['gold', 'silver', 'bronze'])[1 + i % 3],
               'industry', 'ind-' || (i % 50),
               'score', i % 100,
               'active', i % 2 = 0,
               'since', to_char(date '2020-01-01' + i % 1500, 'YYYY-MM-DD'),
               'interests', to_jsonb(ARRAY(SELECT DISTINCT 'int-' || n FROM unnest(ARRAY[i % 10, i / 10 % 10]) AS n ORDER BY 1))),
             jsonb_build_array(jsonb_build_object('namespace', 'bench', 'id', 'r' || i))
               || CASE WHEN i % 10 = 0 THEN jsonb_build_array(jsonb_build_object('namespace', 'hubspot', 'id', 'hs-' || i))
                       ELSE '[]'::jsonb END,
             'bench'
      FROM numbered
      ORDER BY k
      RETURNING id, external_refs
    )
    INSERT INTO contact_external_refs (organization_id, namespace, external_id, contact_id)
    SELECT ${organizationId}::uuid, ref ->> 'namespace', ref ->> 'id', seeded.id
    FROM seeded, jsonb_array_elements(seeded.external_refs) AS ref
  `.execute(db);
}

/** `count` contacts in batches, their events numbered; returns the seconds it took. */
export async function seedSearchContacts(
  db: Kysely<Database>,
  organizationId: string,
  count: number,
  log: (message: string) => void = () => {},
): Promise<number> {
  const started = Date.now();
  await seedSearchDefinitions(db, organizationId);
  // Small enough that each statement stays well within the pool's statement timeout (10 s by default).
  const batch = 20_000;
  for (let from = 0; from < count; from += batch) {
    await insertSearchContacts(db, organizationId, from, Math.min(count, from + batch), count);
    // Numbered per batch: the outbox stays small, and the sequencer's passes stay short.
    await sequenceAllEvents(db, batch);
    log(`  ${Math.min(count, from + batch)} / ${count} contacts (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  return (Date.now() - started) / 1000;
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      contacts: { type: 'string', default: '1000000' },
      'other-contacts': { type: 'string', default: '100000' },
    },
  });
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('Set DATABASE_URL to the database to seed');
  const log = (message: string) => process.stderr.write(`${message}\n`);
  const database = connectDatabase(url, { poolSize: 2, statementTimeoutMs: 3_600_000, applicationName: 'seed-search' });
  const { db } = database;
  await migrateToLatest(db);
  const stamp = new Date().toISOString();
  const other = await createOrganization(db, {
    name: `Search neighbour ${stamp}`,
    settings: { defaultPhoneRegion: 'US' },
  });
  log(`seeding ${args['other-contacts']} contacts into the neighbour organization ${other.id}…`);
  await seedSearchContacts(db, other.id, Number(args['other-contacts']), log);
  const organization = await createOrganization(db, {
    name: `Search ${stamp}`,
    settings: { defaultPhoneRegion: 'US' },
  });
  log(`seeding ${args.contacts} contacts into ${organization.id}…`);
  const seconds = await seedSearchContacts(db, organization.id, Number(args.contacts), log);
  log(`seeded in ${seconds.toFixed(0)} s; VACUUM ANALYZE…`);
  await sql`VACUUM (ANALYZE) contacts, contact_external_refs, feed_positions, contact_search_terms, events, event_outbox, event_counters`.execute(
    db,
  );
  await database.close();
  process.stdout.write(`${organization.id}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
