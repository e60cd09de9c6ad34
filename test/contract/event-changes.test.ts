/**
 * The columns an event says changed (events.changed_columns, mapped to `changedFields`) come from
 * changed_column_names(new, old), which migration 0016 writes per table from the catalog. A column
 * added to contacts or companies later is compared only once a migration writes the function again
 * (define_changed_column_names); until then its changes would go unreported. These tests fail, naming
 * the column, when the function and the table disagree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { type Json, newContact, newProfileApi } from '../helpers/contacts.js';

const TABLES = ['contacts', 'companies'] as const;

describe('changed_column_names (migration 0016)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('compares every column of contacts and companies, and nothing else', async () => {
    for (const table of TABLES) {
      const { rows: columns } = await sql<{ name: string }>`
        SELECT attname AS name FROM pg_attribute
        WHERE attrelid = ${table}::regclass AND attnum > 0 AND NOT attisdropped
      `.execute(t.database.db);
      const { rows: functions } = await sql<{ body: string }>`
        SELECT prosrc AS body FROM pg_proc
        WHERE proname = 'changed_column_names' AND proargtypes[0] = ${table}::regtype
      `.execute(t.database.db);
      assert.equal(functions.length, 1, `one changed_column_names for ${table}`);
      const compared = [...(functions[0]?.body ?? '').matchAll(/WHEN n\.("(?:[^"]|"")+"|\w+) IS DISTINCT FROM/g)].map(
        (match) => (match[1] as string).replace(/^"|"$/g, '').replaceAll('""', '"'),
      );
      const missing = columns.map((column) => column.name).filter((name) => !compared.includes(name));
      const extra = compared.filter((name) => !columns.some((column) => column.name === name));
      assert.deepEqual(missing, [], `${table}: columns not compared (call define_changed_column_names('${table}'))`);
      assert.deepEqual(extra, [], `${table}: compared columns the table no longer has`);
      assert.ok(compared.length >= 10, `${table}: ${compared.length} columns compared`);
    }
  });

  it('names exactly the column that differs, whichever it is', async () => {
    const { org, api } = await newProfileApi(t.app);
    const contact: Json = await newContact(api, {
      firstName: 'Every',
      lastName: 'Field',
      email: 'every@example.com',
      phone: '+46701234567',
      linkedInUrl: 'https://www.linkedin.com/in/every-field',
      primaryLanguage: 'sv',
      tags: ['vip'],
      strategy: 'Everything set',
      address1: 'Main street 1',
      city: 'Stockholm',
      state: 'Stockholm',
      postalCode: '111 22',
      country: 'SE',
      website: 'https://example.com',
      timezone: 'Europe/Stockholm',
      dateOfBirth: '1990-01-02',
      source: 'fair',
      assignedTo: 'owner-1',
      dndSettings: { SMS: { status: 'active' } },
      externalRefs: [{ namespace: 'hubspot', id: 'every' }],
    });
    const id = contact.id as string;
    // Each column the row holds a value in, set to NULL in a copy: only that column differs.
    const { rows } = await sql<{ name: string; changed: string[] }>`
      SELECT field.key AS name,
             changed_column_names(c, jsonb_populate_record(c, jsonb_build_object(field.key, NULL))) AS changed
      FROM contacts c CROSS JOIN LATERAL jsonb_each(to_jsonb(c)) AS field
      WHERE c.organization_id = ${org.id} AND c.id = ${id} AND field.value <> 'null'::jsonb
    `.execute(t.database.db);
    const wrong = rows.filter((row) => row.changed.length !== 1 || row.changed[0] !== row.name);
    assert.deepEqual(wrong, []);
    // Not vacuous: every column but deleted_at holds a value.
    assert.ok(rows.length >= 30, `${rows.length} columns tried`);

    const { rows: same } = await sql<{ changed: string[] }>`
      SELECT changed_column_names(c, c) AS changed FROM contacts c
      WHERE c.organization_id = ${org.id} AND c.id = ${id}
    `.execute(t.database.db);
    assert.deepEqual(same[0]?.changed, [], 'a row compared with itself changed nothing');
  });
});
