/**
 * The schema stays ready for Citus (docs/scaling.md): every table is placed by src/db/distribution.ts,
 * every key of a distributed table can be enforced inside one shard, and the hot paths name their
 * organization in every statement that touches a distributed table, so each runs on one node.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { connectDatabase, type DatabaseHandle } from '../../src/db/database.js';
import {
  citusDistributionSql,
  DISTRIBUTION_COLUMN,
  type Placement,
  TABLE_PLACEMENTS,
} from '../../src/db/distribution.js';
import { createTestApp, databaseUrl, type TestApp } from '../helpers/app.js';
import { COMPANIES, CONTACTS, client, newCompany, newContact, refPath } from '../helpers/contacts.js';
import { newOrganization, newToken } from '../helpers/factories.js';

type Executor = Kysely<any>;

/** The tables in the order their Citus calls run, read back from the calls themselves. */
function callOrder(placements: Record<string, Placement>): string[] {
  return citusDistributionSql(placements).map((statement) => /\('([^']+)'/.exec(statement)?.[1] ?? statement);
}

function describeKey(row: { primary: boolean; exclusion: boolean; contype: string | null }): string {
  if (row.primary) return 'primary key';
  if (row.exclusion) return 'exclusion constraint';
  return row.contype === 'u' ? 'unique constraint' : 'unique index';
}

/**
 * Everything in `schema` that Citus could not take as `placements` declares it. Citus enforces a
 * unique key or a foreign key only within a shard, so each must include the distribution column
 * (the house rule is stricter: organization_id leads every key); and a reference table, copied to
 * every node, cannot point at rows that live on one.
 */
async function findCitusViolations(
  db: Executor,
  schema: string,
  placements: Record<string, Placement>,
): Promise<string[]> {
  const violations: string[] = [];
  const kindOf = (table: string) => placements[table]?.kind;

  const { rows: tables } = await sql<{ table: string }>`
    SELECT c.relname AS table
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  `.execute(db);
  const present = new Set(tables.map((row) => row.table));
  for (const table of present) {
    if (kindOf(table) === undefined) {
      violations.push(`${table}: placed nowhere; declare it in TABLE_PLACEMENTS (src/db/distribution.ts)`);
    }
  }
  for (const [table, placement] of Object.entries(placements)) {
    if (placement.kind !== 'coordinator' && !present.has(table)) {
      violations.push(`${table}: declared ${placement.kind}, but the database has no such table`);
    }
  }

  const { rows: columns } = await sql<{ table: string; type: string; not_null: boolean }>`
    SELECT c.relname AS table, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p') AND a.attname = ${DISTRIBUTION_COLUMN}
      AND a.attnum > 0 AND NOT a.attisdropped
  `.execute(db);
  const distributionColumn = new Map(columns.map((row) => [row.table, row]));
  const order = callOrder(placements);
  const distributed = order.filter((table) => present.has(table) && kindOf(table) === 'distributed');
  // Colocated tables must hash the same type as the first, or one organization's rows land on different shards.
  const anchorType = distributionColumn.get(distributed[0] ?? '')?.type;
  for (const table of distributed) {
    const column = distributionColumn.get(table);
    if (column === undefined) {
      violations.push(`${table}: distributed by ${DISTRIBUTION_COLUMN}, but has no such column`);
      continue;
    }
    if (!column.not_null) violations.push(`${table}: ${DISTRIBUTION_COLUMN} must be NOT NULL`);
    if (column.type !== anchorType) {
      violations.push(`${table}: ${DISTRIBUTION_COLUMN} is ${column.type}, not ${anchorType} as in ${distributed[0]}`);
    }
  }

  const { rows: keys } = await sql<{
    table: string;
    index: string;
    primary: boolean;
    exclusion: boolean;
    contype: string | null;
    columns: string[];
    first_operator: string | null;
  }>`
    SELECT t.relname AS table, ix.relname AS index, i.indisprimary AS primary, i.indisexclusion AS exclusion,
           con.contype::text AS contype,
           ARRAY(
             SELECT coalesce(a.attname::text, '(expression)')
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.n <= i.indnkeyatts
             ORDER BY k.n
           ) AS columns,
           (SELECT o.oprname::text FROM pg_operator o WHERE o.oid = con.conexclop[1]) AS first_operator
    FROM pg_index i
    JOIN pg_class ix ON ix.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
    WHERE n.nspname = ${schema} AND NOT t.relispartition AND (i.indisunique OR i.indisprimary OR i.indisexclusion)
  `.execute(db);
  for (const table of distributed) {
    // A shard move copies rows by logical replication, which needs a replica identity.
    if (!keys.some((key) => key.table === table && key.primary)) violations.push(`${table}: has no primary key`);
  }
  for (const key of keys) {
    if (kindOf(key.table) !== 'distributed') continue;
    const what = `${describeKey(key)} ${key.index} (${key.columns.join(', ')})`;
    if (key.columns[0] !== DISTRIBUTION_COLUMN) {
      violations.push(`${key.table}: ${what} does not lead with ${DISTRIBUTION_COLUMN}`);
    } else if (key.exclusion && key.first_operator !== '=') {
      violations.push(`${key.table}: ${what} compares ${DISTRIBUTION_COLUMN} with ${key.first_operator}, not =`);
    }
  }

  const { rows: foreignKeys } = await sql<{
    constraint: string;
    table: string;
    referenced: string;
    columns: string[];
    referenced_columns: string[];
  }>`
    SELECT con.conname AS constraint, t.relname AS table, rt.relname AS referenced,
           ARRAY(
             SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.n
           ) AS columns,
           ARRAY(
             SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.n
           ) AS referenced_columns
    FROM pg_constraint con
    JOIN pg_class t ON t.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    JOIN pg_class rt ON rt.oid = con.confrelid
    WHERE con.contype = 'f' AND n.nspname = ${schema} AND NOT t.relispartition
  `.execute(db);
  for (const fk of foreignKeys) {
    const from = kindOf(fk.table);
    const to = kindOf(fk.referenced);
    const what = `foreign key ${fk.constraint} (${fk.columns.join(', ')}) → ${fk.referenced} (${fk.referenced_columns.join(', ')})`;
    if (from === 'distributed' && to === 'distributed') {
      const position = fk.columns.indexOf(DISTRIBUTION_COLUMN);
      if (position === -1 || fk.referenced_columns[position] !== DISTRIBUTION_COLUMN) {
        violations.push(`${fk.table}: ${what} does not pair ${DISTRIBUTION_COLUMN} with ${DISTRIBUTION_COLUMN}`);
      }
    } else if (from === 'reference' && to === 'distributed') {
      violations.push(`${fk.table}: reference table with ${what}, a distributed table (Citus refuses it)`);
    } else if (
      (from === 'distributed') !== (to === 'distributed') &&
      (from === 'coordinator' || to === 'coordinator')
    ) {
      violations.push(`${fk.table}: ${what} joins a distributed table and a coordinator table (Citus refuses it)`);
    }
    // Citus needs the referenced table placed before the one whose key points at it.
    const referencing = order.indexOf(fk.table);
    const referenced = order.indexOf(fk.referenced);
    if (fk.table !== fk.referenced && referencing !== -1 && referenced > referencing) {
      violations.push(`${fk.table}: ${what}, but ${fk.referenced} is placed after it; list ${fk.referenced} first`);
    }
  }
  return violations.sort();
}

const DISTRIBUTED_TABLES = Object.entries(TABLE_PLACEMENTS)
  .filter(([, placement]) => placement.kind === 'distributed')
  .map(([table]) => table);

const IDENTIFIER = '[a-z_][a-z0-9_]*';
const NOT_AN_ALIAS = new Set(
  'as where set on join inner left right full cross natural lateral using order group limit offset returning values union except intersect for window having select with'.split(
    ' ',
  ),
);

/**
 * The distributed tables `statement` reads or writes, and the references to them that no
 * organization_id predicate scopes. Textual, on purpose: a reference (after FROM, JOIN, UPDATE, INTO,
 * or a comma in a FROM list) is scoped when its alias is compared with a parameter
 * (`c.organization_id = $1`, or an unqualified `organization_id = $1` for a reference without alias)
 * or with the organization_id of a scoped reference (`c.organization_id = r.organization_id`); an
 * INSERT is scoped when it writes organization_id. Its limits: it does not know SQL scopes (an alias
 * reused in two subqueries counts as scoped if one of them is), nor boolean logic
 * (`organization_id = $1 OR true` passes), nor whether the parameter is the caller's organization.
 * It guards against a forgotten predicate; it is not a proof (the tenant-isolation tests check the
 * data).
 */
function organizationScope(statement: string): { tables: string[]; unscoped: string[] } {
  const text = statement
    .toLowerCase()
    .replace(/--[^\n]*/g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replaceAll('"', '');
  const references: Array<{ table: string; alias: string; insert: boolean }> = [];
  const reference = (table: string, alias: string | undefined, insert: boolean) => {
    if (!DISTRIBUTED_TABLES.includes(table)) return;
    references.push({ table, alias: alias === undefined || NOT_AN_ALIAS.has(alias) ? table : alias, insert });
  };
  for (const match of text.matchAll(
    new RegExp(`\\b(from|join|update|into)\\s+(${IDENTIFIER})\\b(?![.(])(?:\\s+(?:as\\s+)?(${IDENTIFIER}))?`, 'g'),
  )) {
    reference(match[2] as string, match[3], match[1] === 'into');
  }
  for (const match of text.matchAll(
    new RegExp(`,\\s*(${IDENTIFIER})\\b(?![.(])(?:\\s+(?:as\\s+)?(${IDENTIFIER}))?`, 'g'),
  )) {
    reference(match[1] as string, match[2], false);
  }

  const scoped = new Set<string>();
  for (const { table, insert } of references) {
    if (insert && new RegExp(`\\binto\\s+${table}\\s*\\(([^)]*\\b)?organization_id\\b`).test(text)) scoped.add(table);
  }
  for (const match of text.matchAll(new RegExp(`\\b(${IDENTIFIER})\\.organization_id\\s*=\\s*\\$\\d+`, 'g'))) {
    scoped.add(match[1] as string);
  }
  for (const match of text.matchAll(
    new RegExp(`\\$\\d+(?:::uuid)?\\s*=\\s*(${IDENTIFIER})\\.organization_id\\b`, 'g'),
  )) {
    scoped.add(match[1] as string);
  }
  if (/(?<![.\w])organization_id\s*=\s*\$\d+/.test(text)) {
    for (const { table, alias } of references) if (alias === table) scoped.add(table);
  }
  const joins = [
    ...text.matchAll(
      new RegExp(`\\b(${IDENTIFIER})\\.organization_id\\s*=\\s*(${IDENTIFIER})\\.organization_id\\b`, 'g'),
    ),
  ].map((match) => [match[1] as string, match[2] as string] as const);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [left, right] of joins) {
      if (scoped.has(left) !== scoped.has(right)) {
        scoped.add(left).add(right);
        grew = true;
      }
    }
  }
  return {
    tables: [...new Set(references.map(({ table }) => table))],
    unscoped: references
      .filter(({ alias }) => !scoped.has(alias))
      .map(({ table, alias }) => (alias === table ? table : `${table} ${alias}`)),
  };
}

const unscopedReferences = (statement: string) => organizationScope(statement).unscoped;

describe('Citus readiness', () => {
  let database: DatabaseHandle;

  before(() => {
    database = connectDatabase(databaseUrl(), { poolSize: 2 });
  });
  after(() => database.close());

  it('places every table of the migrated schema, with keys Citus can enforce', async () => {
    assert.deepEqual(await findCitusViolations(database.db, 'public', TABLE_PLACEMENTS), []);
  });

  it('reports each kind of violation, naming the table and the key', async () => {
    const schema = `citus_probe_${randomUUID().replaceAll('-', '')}`;
    const trx = await database.db.startTransaction().execute();
    try {
      const s = sql.id(schema);
      await sql`CREATE SCHEMA ${s}`.execute(trx);
      await sql`CREATE TABLE ${s}.organizations (id uuid PRIMARY KEY)`.execute(trx);
      await sql`
        CREATE TABLE ${s}.contacts (
          organization_id uuid NOT NULL REFERENCES ${s}.organizations (id), id uuid NOT NULL, email_key text,
          PRIMARY KEY (organization_id, id)
        )`.execute(trx);
      await sql`CREATE UNIQUE INDEX contacts_email_only ON ${s}.contacts (email_key)`.execute(trx);
      await sql`CREATE UNIQUE INDEX contacts_email_then_org ON ${s}.contacts (email_key, organization_id)`.execute(trx);
      await sql`
        CREATE TABLE ${s}.notes (
          organization_id uuid NOT NULL, id uuid NOT NULL, contact_id uuid NOT NULL, PRIMARY KEY (organization_id, id),
          CONSTRAINT notes_crossed FOREIGN KEY (contact_id, organization_id) REFERENCES ${s}.contacts (organization_id, id)
        )`.execute(trx);
      await sql`
        CREATE TABLE ${s}.calls (
          organization_id uuid NOT NULL, id uuid NOT NULL, contact_id uuid NOT NULL, PRIMARY KEY (organization_id, id),
          CONSTRAINT calls_contact FOREIGN KEY (organization_id, contact_id) REFERENCES ${s}.contacts (organization_id, id)
        )`.execute(trx);
      await sql`
        CREATE TABLE ${s}.bookings (
          organization_id uuid NOT NULL, id uuid NOT NULL, during tstzrange, PRIMARY KEY (organization_id, id),
          CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&)
        )`.execute(trx);
      await sql`
        CREATE TABLE ${s}.labels (
          id uuid PRIMARY KEY, organization_id uuid, contact_id uuid,
          CONSTRAINT labels_contact FOREIGN KEY (organization_id, contact_id) REFERENCES ${s}.contacts (organization_id, id)
        )`.execute(trx);
      await sql`CREATE TABLE ${s}.stray (id uuid PRIMARY KEY)`.execute(trx);
      await sql`CREATE TABLE ${s}.loose (organization_id text, note text)`.execute(trx);
      await sql`CREATE TABLE ${s}.undeclared (id integer)`.execute(trx);
      const probe: Record<string, Placement> = {
        organizations: { kind: 'reference', why: '' },
        labels: { kind: 'reference', why: '' },
        // Listed before contacts, which it references.
        calls: { kind: 'distributed', why: '' },
        contacts: { kind: 'distributed', why: '' },
        notes: { kind: 'distributed', why: '' },
        bookings: { kind: 'distributed', why: '' },
        stray: { kind: 'distributed', why: '' },
        loose: { kind: 'distributed', why: '' },
        vanished: { kind: 'distributed', why: '' },
      };
      const violations = await findCitusViolations(trx, schema, probe);
      const expected = [
        /^bookings: exclusion constraint bookings_no_overlap \(during\) does not lead with organization_id$/,
        /^calls: foreign key calls_contact .* but contacts is placed after it/,
        /^contacts: unique index contacts_email_only \(email_key\) does not lead with organization_id$/,
        /^contacts: unique index contacts_email_then_org \(email_key, organization_id\) does not lead/,
        /^labels: foreign key labels_contact .* but contacts is placed after it/,
        /^labels: reference table with foreign key labels_contact .* a distributed table/,
        /^loose: has no primary key$/,
        /^loose: organization_id is text, not uuid as in calls$/,
        /^loose: organization_id must be NOT NULL$/,
        /^notes: foreign key notes_crossed \(contact_id, organization_id\) → contacts \(organization_id, id\) does not pair/,
        /^stray: distributed by organization_id, but has no such column$/,
        /^stray: primary key stray_pkey \(id\) does not lead with organization_id$/,
        /^undeclared: placed nowhere/,
        /^vanished: declared distributed, but the database has no such table$/,
      ];
      for (const pattern of expected) {
        assert.ok(
          violations.some((violation) => pattern.test(violation)),
          `${pattern} not reported:\n${violations.join('\n')}`,
        );
      }
      // Nothing else: the well-formed keys (the other primary keys, the foreign keys to organizations,
      // calls' key to contacts) pass.
      assert.equal(violations.length, expected.length, violations.join('\n'));
    } finally {
      await trx.rollback().execute();
    }
  });

  it('fails on a unique index of contacts that does not start with organization_id', async () => {
    const trx = await database.db.startTransaction().execute();
    try {
      // Waits on no one for long: the index is built and dropped again inside this transaction.
      await sql`SET LOCAL lock_timeout = '5s'`.execute(trx);
      await sql`CREATE UNIQUE INDEX contacts_email_key_everywhere ON contacts (email_key) WHERE false`.execute(trx);
      assert.deepEqual(await findCitusViolations(trx, 'public', TABLE_PLACEMENTS), [
        'contacts: unique index contacts_email_key_everywhere (email_key) does not lead with organization_id',
      ]);
    } finally {
      await trx.rollback().execute();
    }
  });

  it('places referenced tables first and colocates every distributed table with the first', () => {
    const statements = citusDistributionSql();
    const [anchor, ...others] = DISTRIBUTED_TABLES;
    assert.equal(
      statements.filter((statement) => statement.includes(`colocate_with => '${anchor}'`)).length,
      others.length,
    );
    assert.ok(
      statements.includes(`SELECT create_distributed_table('${anchor}', 'organization_id', colocate_with => 'none');`),
    );
    const firstDistributed = statements.findIndex((statement) => statement.includes('create_distributed_table'));
    assert.ok(statements.slice(firstDistributed).every((statement) => statement.includes('create_distributed_table')));
  });

  it('shows in docs/scaling.md exactly the calls citusDistributionSql() yields', () => {
    const doc = fs.readFileSync(new URL('../../docs/scaling.md', import.meta.url), 'utf8');
    const block = /<!-- citus-distribution:begin -->\n```sql\n([\s\S]*?)```\n<!-- citus-distribution:end -->/.exec(doc);
    assert.ok(block, 'docs/scaling.md has no citus-distribution block');
    assert.equal(block[1], `${citusDistributionSql().join('\n')}\n`);
  });
});

describe('hot-path statements on distributed tables', () => {
  it('are told apart by the textual check: a missing organization predicate is reported', () => {
    assert.deepEqual(unscopedReferences('select * from "contacts" where "id" = $1'), ['contacts']);
    assert.deepEqual(
      unscopedReferences(
        'SELECT c.id FROM contact_external_refs r JOIN contacts c ON c.id = r.contact_id WHERE r.organization_id = $1',
      ),
      ['contacts c'],
    );
    assert.deepEqual(unscopedReferences('DELETE FROM idempotency_keys WHERE created_at < now()'), ['idempotency_keys']);
    assert.deepEqual(unscopedReferences('insert into "companies" ("name") values ($1)'), ['companies']);
    assert.deepEqual(unscopedReferences('SELECT 1 FROM companies, contacts c WHERE companies.organization_id = $1'), [
      'contacts c',
    ]);
    assert.deepEqual(
      unscopedReferences(
        'SELECT c.id FROM contact_external_refs r JOIN contacts c ON c.organization_id = r.organization_id AND c.id = r.contact_id WHERE r.organization_id = $1::uuid',
      ),
      [],
    );
    assert.deepEqual(
      unscopedReferences('insert into "contacts" ("organization_id", "first_name") values ($1, $2)'),
      [],
    );
    assert.deepEqual(unscopedReferences('select "secret" from "server_secrets" where "name" = $1'), []);
  });

  for (const oneStatement of ['true', 'false']) {
    it(`name the organization in every statement on a distributed table (ONE_STATEMENT_WRITES=${oneStatement})`, async () => {
      let statements: string[] = [];
      const test: TestApp = await createTestApp(
        { ONE_STATEMENT_WRITES: oneStatement },
        { pool: { onQuery: (text) => statements.push(text) } },
      );
      try {
        const org = await newOrganization(test.app, {
          settings: { duplicateContactMatching: { fields: ['email', 'phone'] } },
        });
        const api = client(test.app, org);
        const offenders: string[] = [];
        const seen = new Set<string>();
        const all: string[] = [];
        const path = async (
          name: string,
          status: number,
          send: () => Promise<{ statusCode: number; body: string }>,
        ) => {
          statements = [];
          const response = await send();
          assert.equal(response.statusCode, status, `${name}: ${response.body}`);
          all.push(...statements);
          for (const statement of statements) {
            const { tables, unscoped } = organizationScope(statement);
            for (const table of tables) seen.add(table);
            if (unscoped.length > 0) offenders.push(`${name}: ${unscoped.join(', ')} in\n${statement}`);
          }
        };

        const company = await newCompany(api, { name: 'Scope AB' });
        await path('company upsert by reference (create)', 201, () =>
          api.patch(`${COMPANIES}/external/hubspot/c-1`, { name: 'Ref AB' }),
        );
        await path('company upsert by reference (update)', 200, () =>
          api.patch(`${COMPANIES}/external/hubspot/c-1`, { website: 'https://ref.example.com' }),
        );
        await path('POST /companies', 201, () => api.post(COMPANIES, { name: 'Posted AB' }));
        await path('POST /contacts', 201, () => api.post(CONTACTS, { firstName: 'Ada', email: 'ada@example.com' }));
        await path('contact upsert by reference (create)', 201, () =>
          api.patch(refPath('hubspot', 'p-1'), { firstName: 'Ref', email: 'ref@example.com', phone: '+46701234567' }),
        );
        await path('contact upsert by reference (update)', 200, () =>
          api.patch(refPath('hubspot', 'p-1'), { lastName: 'Two' }),
        );
        await path('contact upsert by reference (connections)', 200, () =>
          api.patch(refPath('hubspot', 'p-1'), {
            connections: [{ company: { kind: 'external', namespace: 'hubspot', id: 'c-1' }, primary: true }],
          }),
        );
        const contact = await newContact(api, { firstName: 'Patch', email: 'patch@example.com' });
        await path('GET /contacts/{id}', 200, () => api.get(`${CONTACTS}/${contact.id}`));
        await path('GET /contacts/external/{namespace}/{id}', 200, () => api.get(refPath('hubspot', 'p-1')));
        await path('PATCH /contacts/{id} with If-Match', 200, () =>
          api.patch(`${CONTACTS}/${contact.id}`, { lastName: 'Once' }, { 'if-match': contact.etag }),
        );
        await path('PATCH /contacts/{id} linking a company', 200, () =>
          api.patch(`${CONTACTS}/${contact.id}`, {
            connections: [{ company: { kind: 'existing', id: company.id }, jobTitle: 'CEO', primary: true }],
          }),
        );
        await path('POST /contacts/upsert (match by email)', 200, () =>
          api.post(`${CONTACTS}/upsert`, { email: 'REF@example.com', firstName: 'Matched' }),
        );
        await path('POST /contacts/upsert (match by phone)', 200, () =>
          api.post(`${CONTACTS}/upsert`, { phone: '+46701234567', lastName: 'Phoned' }),
        );
        await path('POST /contacts/upsert (create)', 201, () =>
          api.post(`${CONTACTS}/upsert`, { email: 'new-match@example.com', firstName: 'New' }),
        );
        await path('POST /contacts/batch', 200, () =>
          api.post(`${CONTACTS}/batch`, {
            items: [
              { ref: 'a', externalRef: { namespace: 'hubspot', id: 'b-1' }, data: { firstName: 'B1' } },
              { ref: 'b', externalRef: { namespace: 'hubspot', id: 'p-1' }, data: { lastName: 'Batched' } },
              { ref: 'c', data: { firstName: 'C', email: 'batch-match@example.com' } },
            ],
          }),
        );
        await path('POST /companies/batch', 200, () =>
          api.post(`${COMPANIES}/batch`, {
            items: [{ ref: 'a', externalRef: { namespace: 'hubspot', id: 'c-2' }, data: { name: 'Batch AB' } }],
          }),
        );
        const key = randomUUID();
        await path('idempotent POST /contacts', 201, () =>
          api.post(CONTACTS, { firstName: 'Once', email: 'once@example.com' }, { 'idempotency-key': key }),
        );
        await path('idempotent POST /contacts (replay)', 201, () =>
          api.post(CONTACTS, { firstName: 'Once', email: 'once@example.com' }, { 'idempotency-key': key }),
        );
        await path('DELETE /contacts/{id}', 204, () => api.delete(`${CONTACTS}/${contact.id}`));
        const gone = (await api.patch(refPath('hubspot', 'r-1'), { firstName: 'Gone' })).json();
        assert.equal((await api.delete(gone.uri)).statusCode, 204);
        await path('contact upsert by reference (revive)', 200, () =>
          api.patch(refPath('hubspot', 'r-1'), { firstName: 'Back' }),
        );
        const first = await api.get(`${CONTACTS}?limit=2&include_deleted=true`);
        assert.equal(first.statusCode, 200, first.body);
        await path('GET /contacts (feed, next page)', 200, () =>
          api.get(
            `${CONTACTS}?limit=2&include_deleted=true&cursor=${encodeURIComponent(first.json().page.nextCursor)}`,
          ),
        );
        await path('GET /contacts (updated_since)', 200, () =>
          api.get(`${CONTACTS}?limit=100&updated_since=2020-01-01T00:00:00Z`),
        );
        await path('GET /companies', 200, () => api.get(`${COMPANIES}?limit=100`));
        await path('GET /events', 200, () => api.get('/api/v1/network/events?limit=100'));
        await path('GET /events (filtered)', 200, () =>
          api.get('/api/v1/network/events?after=1&types=contact.*&exclude_origin=hubspot'),
        );
        const settingsToken = await newToken(test.app, org.id, ['contacts.read', 'contacts.write', 'settings.write']);
        const settings = client(test.app, { ...org, headers: { authorization: `Bearer ${settingsToken}` } });
        const FIELDS = '/api/v1/network/contact-fields';
        await path('POST /contact-fields', 201, () =>
          settings.post(FIELDS, { key: 'budget', label: 'Budget', type: 'number' }),
        );
        await path('GET /contact-fields', 200, () => settings.get(FIELDS));
        await path('GET /contact-fields/{key}', 200, () => settings.get(`${FIELDS}/budget`));
        await path('PATCH /contact-fields/{key}', 200, () =>
          settings.patch(`${FIELDS}/budget`, { label: 'Budget (SEK)' }),
        );
        const valued = (await settings.post(CONTACTS, { firstName: 'Valued' })).json();
        await path('PATCH /contacts/{id} (custom fields, company by name)', 200, () =>
          settings.patch(`${CONTACTS}/${valued.id}`, { customFields: { budget: 5 }, companyName: 'Named AB' }),
        );
        await path('DELETE /contact-fields/{key} (values held)', 409, () => settings.delete(`${FIELDS}/budget`));
        await settings.patch(`${CONTACTS}/${valued.id}`, { customFields: { budget: null } });
        await path('DELETE /contact-fields/{key}', 204, () => settings.delete(`${FIELDS}/budget`));
        const hookToken = await newToken(test.app, org.id, ['webhooks.read', 'webhooks.write']);
        const hooks = client(test.app, { ...org, headers: { authorization: `Bearer ${hookToken}` } });
        let webhookId = '';
        await path('POST /webhooks', 201, async () => {
          const response = await hooks.post('/api/v1/webhooks', {
            url: 'http://127.0.0.1:9/hook',
            events: ['*'],
            excludeOrigins: ['hubspot'],
          });
          webhookId = response.json().id;
          return response;
        });
        const hook = () => `/api/v1/webhooks/${webhookId}`;
        await path('GET /webhooks', 200, () => hooks.get('/api/v1/webhooks'));
        await path('GET /webhooks/{id}', 200, () => hooks.get(hook()));
        await path('PATCH /webhooks/{id} (disable)', 200, () => hooks.patch(hook(), { enabled: false }));
        await path('PATCH /webhooks/{id} (enable)', 200, () => hooks.patch(hook(), { enabled: true }));
        await path('POST /webhooks/{id}/rotate-secret', 200, () => hooks.post(`${hook()}/rotate-secret`, {}));
        await path('POST /webhooks/{id}/test', 200, () => hooks.post(`${hook()}/test`, {}));
        await path('GET /webhooks/{id}/deliveries', 200, () => hooks.get(`${hook()}/deliveries`));
        await path('POST /webhooks/{id}/replay', 202, () => hooks.post(`${hook()}/replay`, { fromSeq: 1, toSeq: 100 }));
        await path('DELETE /webhooks/{id}', 204, () => hooks.delete(hook()));

        assert.deepEqual(offenders, [], offenders.join('\n\n'));
        // The check saw every distributed table, so it cannot pass by seeing nothing; and with the
        // one-statement form on, it saw those statements too (they are sent as prepared statements).
        // (event_outbox too: the trigger fills it and the sequencer drains it, but deleting a custom
        // field reads it for values whose search terms are not listed yet.)
        assert.deepEqual([...seen].sort(), [...DISTRIBUTED_TABLES].sort());
        const oneStatementForms = all.filter((text) => /^\s*WITH (target|input) AS/.test(text)).length;
        assert.equal(oneStatementForms > 0, oneStatement === 'true', `one-statement forms seen: ${oneStatementForms}`);
      } finally {
        await test.close();
      }
    });
  }
});
