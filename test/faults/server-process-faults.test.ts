import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ADMIN_TOKEN } from '../helpers/app.js';
import {
  isRunning,
  killServers,
  postgresPid,
  removeDataDir,
  type ServerProcess,
  startServer,
  temporaryDataDir,
  waitUntilStopped,
} from '../helpers/process.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** Requests until one answers 200, for up to `timeoutMs`; returns how long that took. */
async function untilServing(url: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const status = await fetch(url, { headers }).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return performance.now() - started;
    if (performance.now() - started > timeoutMs)
      assert.fail(`not serving ${timeoutMs} ms after the fault (last ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('server process: database faults under load', { timeout: 180_000 }, () => {
  const dataDir = temporaryDataDir();
  let server: ServerProcess;
  let baseUrl: string;
  let databaseUrl: string;
  let headers: Record<string, string>;
  let contactUrl: string;

  before(async () => {
    server = startServer({ DATA_DIR: dataDir, RATE_LIMIT_PER_MINUTE: '0' });
    baseUrl = await server.listening();
    databaseUrl = (JSON.parse(fs.readFileSync(path.join(dataDir, 'connection.json'), 'utf8')) as { url: string }).url;
    const organization = await json(
      await fetch(`${baseUrl}/api/v1/admin/organizations`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name: 'Faults' }),
      }),
    );
    const token = await json(
      await fetch(`${baseUrl}/api/v1/admin/organizations/${organization.id}/tokens`, {
        method: 'POST',
        headers: admin,
        body: '{}',
      }),
    );
    headers = { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' };
    const contact = await json(
      await fetch(`${baseUrl}/api/v1/network/contacts`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ firstName: 'Fault', email: 'fault@example.com' }),
      }),
    );
    contactUrl = `${baseUrl}/api/v1/network/contacts/${contact.id}`;
  });

  after(async () => {
    await killServers();
    await removeDataDir(dataDir);
  });

  /** Eight clients reading and upserting until stopped; every answer must be 200/201 or a 503 problem. */
  function load() {
    let running = true;
    const unexpected: string[] = [];
    const worker = async (index: number) => {
      for (let round = 0; running; round += 1) {
        const response = await (index % 2 === 0
          ? fetch(contactUrl, { headers })
          : fetch(`${baseUrl}/api/v1/network/contacts/external/load/w${index}`, {
              method: 'PATCH',
              headers,
              body: JSON.stringify({ firstName: `Round ${round}` }),
            })
        ).catch((error: unknown) => error as Error);
        if (response instanceof Error) {
          unexpected.push(`connection error: ${response.message}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        await response.arrayBuffer();
        const ok = response.status === 200 || response.status === 201;
        const unavailable =
          response.status === 503 &&
          /^application\/problem\+json/.test(response.headers.get('content-type') ?? '') &&
          /^\d+$/.test(response.headers.get('retry-after') ?? '');
        if (!ok && !unavailable) unexpected.push(String(response.status));
        if (!ok) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const workers = Array.from({ length: 8 }, (_, index) => worker(index));
    return {
      unexpected,
      async stop() {
        running = false;
        await Promise.all(workers);
      },
    };
  }

  it('survives pg_terminate_backend of all its connections and serves again within a second', async () => {
    const traffic = load();
    const recoveries: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const killer = new pg.Client({ connectionString: databaseUrl });
      await killer.connect();
      await killer.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'contacts-api'",
      );
      await killer.end();
      recoveries.push(await untilServing(contactUrl, headers, 1_000));
    }
    await traffic.stop();
    assert.equal(server.child.exitCode, null, `the server is still running${server.stderr()}`);
    assert.deepEqual(traffic.unexpected, []);
    assert.ok(recoveries.every((ms) => ms <= 1_000));
  });

  it('survives a kill -9 of PostgreSQL, answers 503 meanwhile, and serves again once it is restarted', async () => {
    const traffic = load();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const pid = postgresPid(dataDir);
    assert.ok(pid !== null && isRunning(pid));
    process.kill(pid, 'SIGKILL');
    assert.ok(await waitUntilStopped(pid, 10_000));
    // The server owns its embedded PostgreSQL and starts it again by itself.
    await untilServing(contactUrl, headers, 30_000);
    await traffic.stop();
    assert.equal(server.child.exitCode, null, `the server is still running${server.stderr()}`);
    assert.deepEqual(
      traffic.unexpected.filter((entry) => !entry.startsWith('connection error')),
      [],
    );
    assert.deepEqual(traffic.unexpected, [], 'no request lost its HTTP connection');
    assert.notEqual(postgresPid(dataDir), pid, 'a new PostgreSQL runs');
    assert.equal((await fetch(`${baseUrl}/readyz`)).status, 200);
  });
});
