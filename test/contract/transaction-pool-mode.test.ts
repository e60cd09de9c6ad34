/**
 * DATABASE_POOL_MODE=transaction: behind a transaction pooler any backend may run the next
 * transaction, so nothing may outlive one. These tests run on a direct connection (no pooler needed)
 * and look at the backend itself; scripts/ci/pgbouncer.sh runs the real thing through PgBouncer.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../../src/db/migrate.js';
import { EXPIRING_ENTRY_TTL_MS } from '../../src/http/auth-cache.js';
import { createTestApp, databaseUrl, request } from '../helpers/app.js';
import { CONTACTS, client, refPath } from '../helpers/contacts.js';
import { newOrganization } from '../helpers/factories.js';

const SETTINGS = '/api/v1/organization/settings';

/** PostgreSQL itself, even when the run goes through a pooler. */
function directUrl(): string {
  return process.env.DATABASE_DIRECT_URL || databaseUrl();
}

/** One connection, so every statement of every request runs on the backend the test then inspects. */
function oneConnectionApp(poolMode: 'session' | 'transaction', env: Record<string, string> = {}) {
  return createTestApp(
    { DATABASE_URL: directUrl(), DATABASE_POOL_MODE: poolMode, DATABASE_DIRECT_URL: '', ...env },
    { pool: { poolSize: 1 } },
  );
}

/** Sends a request down every path that has a registered (preparable) statement. */
async function exerciseHotPaths(app: Parameters<typeof newOrganization>[0]): Promise<void> {
  const org = await newOrganization(app);
  const api = client(app, org);
  const ref = randomUUID();
  for (let round = 0; round < 2; round += 1) {
    const upserted = await api.patch(refPath('crm', ref), { firstName: `Ada ${round}`, email: `${ref}@example.com` });
    assert.ok([200, 201].includes(upserted.statusCode), upserted.body);
    const read = await api.get(`${CONTACTS}/${upserted.json().id}`);
    assert.equal(read.statusCode, 200, read.body);
    assert.equal((await api.get(refPath('crm', ref))).statusCode, 200);
    const patched = await api.patch(
      `${CONTACTS}/${upserted.json().id}`,
      { lastName: `Lovelace ${round}` },
      { 'if-match': read.headers.etag as string },
    );
    assert.equal(patched.statusCode, 200, patched.body);
    const matched = await api.post(`${CONTACTS}/upsert`, { email: `${ref}@example.com`, tags: [`r${round}`] });
    assert.equal(matched.statusCode, 200, matched.body);
    const batch = await api.post(`${CONTACTS}/batch`, {
      items: [{ externalRef: { namespace: 'crm', id: `${ref}-batch` }, data: { firstName: `Batch ${round}` } }],
    });
    assert.equal(batch.statusCode, 200, batch.body);
    const company = await api.patch(`/api/v1/network/companies/external/crm/${ref}`, { name: `Acme ${round}` });
    assert.ok([200, 201].includes(company.statusCode), company.body);
    assert.equal((await api.get(`${CONTACTS}?limit=10`)).statusCode, 200);
  }
}

describe('DATABASE_POOL_MODE=transaction', () => {
  it('leaves no named prepared statement on the backend', async () => {
    const t = await oneConnectionApp('transaction');
    try {
      await exerciseHotPaths(t.app);
      const { rows } = await t.database.pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
      assert.deepEqual(
        rows.map((row) => row.name),
        [],
      );
    } finally {
      await t.close();
    }
  });

  it('(control) prepares the hot statements by name in session mode, where the backend is the session', async () => {
    const t = await oneConnectionApp('session');
    try {
      await exerciseHotPaths(t.app);
      const { rows } = await t.database.pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
      assert.ok(rows.length >= 5, `named statements: ${rows.map((row) => row.name).join(', ')}`);
    } finally {
      await t.close();
    }
  });

  it("sets the timeouts in each transaction and leaves the session's own untouched", async () => {
    const plain = new pg.Client({ connectionString: directUrl() });
    await plain.connect();
    const defaults = (await plain.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0];
    await plain.end();

    const t = await oneConnectionApp('transaction', { DATABASE_STATEMENT_TIMEOUT: '5000' });
    try {
      const inside = await t.database.db.transaction().execute(async (trx) => ({
        statement: (await sql<{ statement_timeout: string }>`SHOW statement_timeout`.execute(trx)).rows[0],
        idle: (
          await sql<{ idle_in_transaction_session_timeout: string }>`SHOW idle_in_transaction_session_timeout`.execute(
            trx,
          )
        ).rows[0],
      }));
      assert.equal(inside.statement?.statement_timeout, '4500ms');
      assert.equal(inside.idle?.idle_in_transaction_session_timeout, '30s');
      // Outside a transaction (and on the next transaction's backend, under a pooler) nothing remains,
      // and the connection was opened without the startup parameters PgBouncer refuses.
      const after = await sql<{ statement_timeout: string }>`SHOW statement_timeout`.execute(t.database.db);
      assert.deepEqual(after.rows[0], defaults);
    } finally {
      await t.close();
    }
  });

  it('migrates in one transaction, so the migration lock cannot outlive it', async () => {
    const statements: string[] = [];
    const t = await createTestApp(
      { DATABASE_URL: directUrl(), DATABASE_POOL_MODE: 'transaction', DATABASE_DIRECT_URL: '' },
      { pool: { poolSize: 1, onQuery: (text) => statements.push(text) } },
    );
    try {
      statements.length = 0;
      await migrateToLatest(t.database.db);
      assert.match(statements[0] ?? '', /^begin\b/i);
      assert.match(statements.at(-1) ?? '', /^commit$/i);
      assert.ok(!statements.some((text) => /pg_advisory_lock|pg_advisory_unlock/.test(text)), statements.join('\n'));
      const { rows } = await t.database.pool.query<{ held: number }>(
        "SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
      );
      assert.equal(rows[0]?.held, 0);
    } finally {
      await t.close();
    }
  });

  it('without a direct connection, serves a revoked token only until its cache entry expires, within seconds', async (context) => {
    context.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const t = await createTestApp(
      { DATABASE_URL: directUrl(), DATABASE_POOL_MODE: 'transaction', DATABASE_DIRECT_URL: '' },
      { authCache: true },
    );
    try {
      const org = await newOrganization(t.app);
      assert.equal((await request(t.app, { method: 'GET', url: SETTINGS, headers: org.headers })).statusCode, 200);
      // Revoked behind this process's back: no notification could reach it anyway.
      await t.database.pool.query('UPDATE api_tokens SET revoked_at = now() WHERE organization_id = $1', [org.id]);
      assert.equal(
        (await request(t.app, { method: 'GET', url: SETTINGS, headers: org.headers })).statusCode,
        200,
        'the entry is still fresh',
      );
      context.mock.timers.tick(EXPIRING_ENTRY_TTL_MS + 1);
      assert.equal((await request(t.app, { method: 'GET', url: SETTINGS, headers: org.headers })).statusCode, 401);
    } finally {
      await t.close();
    }
  });
});
