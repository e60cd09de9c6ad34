/**
 * The real server behind PgBouncer in transaction mode (DATABASE_POOL_MODE=transaction), with LISTEN
 * and migrations over DATABASE_DIRECT_URL. With PGBOUNCER_URL set (scripts/ci/pgbouncer.sh), through
 * that PgBouncer; otherwise the test starts its own in front of the test database. Without a
 * `pgbouncer` binary it fails, naming the package to install: a skipped smoke test reads too easily
 * as a passed one.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, databaseUrl } from '../helpers/app.js';
import { killServers, startServer } from '../helpers/process.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Debian installs it in /usr/sbin, which an unprivileged user's PATH often lacks. */
function findPgBouncer(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'pgbouncer');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {}
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A value in PgBouncer's connection string syntax. */
function quoted(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

interface PgBouncer {
  url: string;
  stop(): Promise<void>;
}

/** PgBouncer in transaction mode in front of `targetUrl`, in a private temporary directory. */
async function startPgBouncer(targetUrl: string): Promise<PgBouncer> {
  const binary = findPgBouncer();
  if (binary === null) {
    assert.fail('pgbouncer is not installed: install it (Debian: apt-get install -y pgbouncer) to run this test');
  }
  const target = new URL(targetUrl);
  const database = decodeURIComponent(target.pathname.slice(1)) || 'postgres';
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contacts-api-pgbouncer-'));
  const config = path.join(dir, 'pgbouncer.ini');
  const connection = [
    `host=${quoted(target.hostname)}`,
    `port=${target.port || '5432'}`,
    `dbname=${quoted(database)}`,
    `user=${quoted(decodeURIComponent(target.username) || 'postgres')}`,
    ...(target.password ? [`password=${quoted(decodeURIComponent(target.password))}`] : []),
  ].join(' ');
  fs.writeFileSync(
    config,
    [
      '[databases]',
      `smoke = ${connection}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      // Clients are this test's servers on loopback; PgBouncer logs in to PostgreSQL as the target's user.
      'auth_type = any',
      'pool_mode = transaction',
      'max_client_conn = 200',
      'default_pool_size = 10',
    ].join('\n'),
    { mode: 0o600 },
  );
  // PgBouncer refuses to run as root; it reads its configuration first, then switches user.
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pgbouncer did not start:\n${log}`)), 10_000);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      if (/process up/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`pgbouncer exited:\n${log}`));
    });
  });
  return {
    url: `postgres://pgbouncer@127.0.0.1:${port}/smoke`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function send(base: string, method: string, url: string, headers: Record<string, string>, payload?: unknown) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : null) as any };
}

describe('the server behind PgBouncer in transaction mode', { timeout: 90_000 }, () => {
  let bouncer: PgBouncer | null = null;
  let pooledUrl: string;
  let directUrl: string;

  before(async () => {
    directUrl = process.env.DATABASE_DIRECT_URL || databaseUrl();
    const given = process.env.PGBOUNCER_URL;
    if (given) {
      pooledUrl = given;
    } else {
      bouncer = await startPgBouncer(directUrl);
      pooledUrl = bouncer.url;
    }
  });

  after(async () => {
    await killServers();
    await bouncer?.stop();
  });

  it('serves writes, conditional updates, batches and the feed, and honours a revocation from another process', async () => {
    const env = {
      DATABASE_URL: pooledUrl,
      DATABASE_DIRECT_URL: directUrl,
      DATABASE_POOL_MODE: 'transaction',
      RATE_LIMIT_PER_MINUTE: '0',
    };
    const [serving, revoking] = await Promise.all([startServer(env).listening(), startServer(env).listening()]);

    const organization = await send(serving, 'POST', '/api/v1/admin/organizations', admin, { name: 'Pooled' });
    assert.equal(organization.status, 201);
    const orgId = organization.body.id as string;
    const token = await send(serving, 'POST', `/api/v1/admin/organizations/${orgId}/tokens`, admin, {});
    assert.equal(token.status, 201);
    const auth = { authorization: `Bearer ${token.body.token}` };
    const ref = randomUUID();

    const created = await send(serving, 'PATCH', `/api/v1/network/contacts/external/crm/${ref}`, auth, {
      firstName: 'Ada',
      email: `ada-${ref}@example.com`,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    // Hot statements from many pool connections at once, so PgBouncer spreads them over its backends:
    // a named prepared statement fails here with 26000 (unknown on this backend) or 42P05 (already
    // exists on it).
    for (let round = 0; round < 3; round += 1) {
      const burst = await Promise.all(
        Array.from({ length: 16 }, (_, index) =>
          index % 2 === 0
            ? send(serving, 'GET', `/api/v1/network/contacts/${id}`, auth)
            : send(serving, 'PATCH', `/api/v1/network/contacts/external/crm/${ref}`, auth, {
                lastName: `Lovelace ${round}`,
              }),
        ),
      );
      for (const response of burst) assert.equal(response.status, 200, JSON.stringify(response.body));
    }
    const read = await send(serving, 'GET', `/api/v1/network/contacts/${id}`, auth);
    assert.equal(read.status, 200);
    const etag = read.headers.get('etag') as string;
    const patched = await send(
      serving,
      'PATCH',
      `/api/v1/network/contacts/${id}`,
      { ...auth, 'if-match': etag },
      {
        tags: ['pooled'],
      },
    );
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const stale = await send(
      serving,
      'PATCH',
      `/api/v1/network/contacts/${id}`,
      { ...auth, 'if-match': etag },
      {
        tags: ['stale'],
      },
    );
    assert.equal(stale.status, 412);

    const batch = await send(serving, 'POST', '/api/v1/network/contacts/batch', auth, {
      items: [
        { externalRef: { namespace: 'crm', id: `${ref}-b1` }, data: { firstName: 'Grace' } },
        { externalRef: { namespace: 'crm', id: `${ref}-b2` }, data: { firstName: 'Edsger' } },
        { externalRef: { namespace: 'crm', id: ref }, data: { lastName: 'Byron' } },
      ],
    });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    assert.deepEqual(
      batch.body.results.map((result: { action: string }) => result.action),
      ['created', 'created', 'updated'],
    );

    // The feed holds back rows while any older transaction in the cluster still runs (other tests).
    let contacts: Array<{ id: string; lastName: string | null; tags: string[] }> = [];
    for (const deadline = Date.now() + 10_000; contacts.length < 3 && Date.now() < deadline; ) {
      const list = await send(serving, 'GET', '/api/v1/network/contacts?limit=100', auth);
      assert.equal(list.status, 200);
      contacts = list.body.data;
      if (contacts.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(contacts.length, 3);
    const ada = contacts.find((contact) => contact.id === id);
    assert.equal(ada?.lastName, 'Byron');
    assert.deepEqual(ada?.tags, ['pooled']);

    // The serving process has the token cached; only the notification, sent by the other process
    // through PgBouncer and received over the direct connection, can tell it about the revocation.
    assert.equal((await send(serving, 'GET', '/api/v1/organization/settings', auth)).status, 200);
    const revoked = await send(
      revoking,
      'DELETE',
      `/api/v1/admin/organizations/${orgId}/tokens/${token.body.id}`,
      admin,
    );
    assert.equal(revoked.status, 204);
    // Well under the cached entry's 30 s lifetime: only the notification can make this hold.
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await send(serving, 'GET', '/api/v1/organization/settings', auth)).status;
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 401, 'the revoked token still works on the process that had it cached');
  });
});
