import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { connectDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { databaseUrl } from '../helpers/app.js';

/** The last migration before the contact profile's custom fields and email keys. */
const BEFORE_PROFILE = '0009-webhook-head-leases';

/**
 * Migrations run on databases that already hold contacts: these tests bring a database of its own
 * to the schema before a migration, fill it as the older version would have, then migrate it.
 */
describe('migrations carry existing data', () => {
  const name = `migration_${randomUUID().replaceAll('-', '')}`;
  let admin: pg.Client;
  let database: DatabaseHandle;

  before(async () => {
    admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(databaseUrl());
    url.pathname = `/${name}`;
    database = connectDatabase(url.toString(), { poolMode: 'session', poolSize: 2 });
  });
  after(async () => {
    await database?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  });

  async function migrateThrough(db: Kysely<any>, last: string): Promise<void> {
    await db.transaction().execute(async (trx) => {
      await sql`CREATE TABLE kysely_migration (name varchar(255) NOT NULL PRIMARY KEY, "timestamp" varchar(255) NOT NULL)`.execute(
        trx,
      );
      for (const migration of Object.keys(migrations).sort()) {
        if (migration > last) break;
        await (migrations[migration] as (typeof migrations)[string]).up(trx);
        await sql`INSERT INTO kysely_migration VALUES (${migration}, ${new Date().toISOString()})`.execute(trx);
      }
    });
  }

  it('keys every email of existing contacts and gives them empty custom fields, without new versions or events', async () => {
    const db = database.db as Kysely<any>;
    await migrateThrough(db, BEFORE_PROFILE);
    const { rows } = await sql<{ id: string }>`
      INSERT INTO organizations (name, settings) VALUES ('Older', '{"defaultPhoneRegion":null,"duplicateContactMatching":{"fields":["email"]},"requireIfMatch":false}')
      RETURNING id`.execute(db);
    const organizationId = (rows[0] as { id: string }).id;
    const emails = (addresses: string[]) =>
      JSON.stringify(addresses.map((address, index) => ({ address, type: null, isPrimary: index === 0 })));
    const contacts = [
      { first: 'Two', addresses: ['Ada@Example.com', ' second@EXAMPLE.org '] },
      { first: 'None', addresses: [] },
      ...Array.from({ length: 5_100 }, (_, index) => ({
        first: `Bulk ${index}`,
        addresses: [`bulk${index}@Example.com`],
      })),
    ];
    for (let start = 0; start < contacts.length; start += 1_000) {
      const chunk = contacts.slice(start, start + 1_000);
      await sql`
        INSERT INTO contacts (organization_id, first_name, email, email_key, emails, version, change_type, change_origin)
        SELECT ${organizationId}::uuid, c.first, c.email, lower(trim(c.email)), c.emails::jsonb, 1, 'created', 'api'
        FROM unnest(${chunk.map((contact) => contact.first)}::text[],
                    ${chunk.map((contact) => contact.addresses[0]?.trim() ?? null)}::text[],
                    ${chunk.map((contact) => emails(contact.addresses))}::text[]) AS c(first, email, emails)
      `.execute(db);
    }
    await sql`DELETE FROM event_outbox`.execute(db);

    const outcome = await migrateToLatest(db);
    assert.ok(outcome.applied.includes('0010-custom-fields-and-email-keys'), JSON.stringify(outcome));

    const migrated = await sql<{ first_name: string; email_keys: string[]; custom_fields: unknown; version: number }>`
      SELECT first_name, email_keys, custom_fields, version FROM contacts WHERE first_name IN ('Two', 'None', 'Bulk 5099')
      ORDER BY first_name`.execute(db);
    assert.deepEqual(
      migrated.rows.map((row) => [row.first_name, row.email_keys, row.custom_fields, row.version]),
      [
        ['Bulk 5099', ['bulk5099@example.com'], {}, 1],
        ['None', [], {}, 1],
        ['Two', ['ada@example.com', 'second@example.org'], {}, 1],
      ],
    );
    const unkeyed = await sql<{ count: string }>`
      SELECT count(*) FROM contacts WHERE emails <> '[]'::jsonb AND cardinality(email_keys) = 0`.execute(db);
    assert.equal(Number(unkeyed.rows[0]?.count), 0, 'every contact with emails was keyed, across batches');
    const outbox = await sql<{ count: string }>`SELECT count(*) FROM event_outbox`.execute(db);
    assert.equal(Number(outbox.rows[0]?.count), 0, 'keying is bookkeeping: no contact changed version, no event');
  });
});
