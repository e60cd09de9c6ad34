import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { connectDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { databaseUrl } from '../helpers/app.js';
import { killServers, startServer } from '../helpers/process.js';

describe('two servers starting at once against one PostgreSQL', { timeout: 60_000 }, () => {
  const name = `contacts_concurrent_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl() });
  let url: string;

  before(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const target = new URL(databaseUrl());
    target.pathname = `/${name}`;
    url = target.toString();
  });
  after(async () => {
    await killServers();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('migrates the empty database once and both come up', async () => {
    const servers = [startServer({ DATABASE_URL: url }), startServer({ DATABASE_URL: url })];
    const urls = await Promise.all(servers.map((server) => server.listening()));
    for (const base of urls) {
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
    }

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM kysely_migration ORDER BY name');
      assert.deepEqual(
        rows.map((row) => row.name),
        Object.keys(migrations).sort(),
      );
    } finally {
      await client.end();
    }
    // Exactly one of them applied the migrations; the other found them done.
    const migrated = servers.filter((server) => /"msg":"database migrated"/.test(server.stdout()));
    assert.equal(migrated.length, 1);

    for (const server of servers) server.child.kill('SIGTERM');
    for (const server of servers) assert.equal((await server.exited(10_000)).code, 0);
  });

  it('applies each migration once when many migrators race on an empty database', async () => {
    const racing = `${name}_race`;
    await admin.query(`CREATE DATABASE ${racing}`);
    const target = new URL(databaseUrl());
    target.pathname = `/${racing}`;
    const handles = Array.from({ length: 6 }, () => connectDatabase(target.toString(), { poolSize: 1 }));
    try {
      const outcomes = await Promise.all(handles.map((handle) => migrateToLatest(handle.db)));
      const applied = outcomes.flatMap((outcome) => outcome.applied).sort();
      assert.deepEqual(applied, Object.keys(migrations).sort());
    } finally {
      await Promise.all(handles.map((handle) => handle.close()));
      await admin.query(`DROP DATABASE IF EXISTS ${racing} WITH (FORCE)`);
    }
  });
});
