import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ADMIN_TOKEN } from '../helpers/app.js';
import {
  isRunning,
  killServers,
  postgresPid,
  removeDataDir,
  type ServerProcess,
  startServer,
  temporaryDataDir,
} from '../helpers/process.js';

const authorization = `Bearer ${ADMIN_TOKEN}`;

async function createOrganization(baseUrl: string, name: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/v1/admin/organizations`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  assert.equal(response.status, 201);
  return ((await response.json()) as { id: string }).id;
}

async function organizationName(baseUrl: string, id: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/v1/admin/organizations/${id}`, { headers: { authorization } });
  assert.equal(response.status, 200);
  return ((await response.json()) as { name: string }).name;
}

/**
 * Sends the headers and part of the body now; the returned function sends the rest and awaits the response.
 * The connection is kept alive with no idle timeout, as a pooling client or proxy would keep it.
 */
function startSlowRequest(baseUrl: string, agent: http.Agent, requestId: string, body: string) {
  const request = http.request(`${baseUrl}/api/v1/admin/organizations`, {
    agent,
    method: 'POST',
    headers: {
      authorization,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('error', reject);
    request.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
  });
  request.write(body.slice(0, 5));
  return async () => {
    request.end(body.slice(5));
    return response;
  };
}

describe('server with the embedded PostgreSQL', { timeout: 120_000 }, () => {
  const dataDir = temporaryDataDir();
  const env = { DATA_DIR: dataDir };
  const organizations: Array<{ id: string; name: string }> = [];
  let first: ServerProcess;
  let firstUrl: string;
  const keepAlive = new http.Agent({ keepAlive: true });

  after(async () => {
    keepAlive.destroy();
    await killServers();
    await removeDataDir(dataDir);
  });

  it('initialises a cluster in DATA_DIR on first start, with its log in DATA_DIR/postgres.log', async () => {
    first = startServer(env);
    firstUrl = await first.listening();
    assert.ok(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')));
    assert.match(first.stdout(), /initialising a new PostgreSQL cluster/);

    const postgresLog = fs.readFileSync(path.join(dataDir, 'postgres.log'), 'utf8');
    assert.match(postgresLog, /database system is ready to accept connections/);
    // The console carries only the server's own JSON log lines, none of PostgreSQL's or initdb's output.
    assert.doesNotMatch(first.stdout() + first.stderr(), /database system|Success\. You can now start/);
    for (const line of first.stdout().split('\n').filter(Boolean)) JSON.parse(line);

    const name = 'Survives restarts';
    organizations.push({ id: await createOrganization(firstUrl, name), name });
  });

  it('refuses a second server on the same DATA_DIR with one clear line and exit code 1', async () => {
    const second = startServer(env);
    const { code } = await second.exited();
    assert.equal(code, 1);
    const lines = second.stderr().split('\n').filter(Boolean);
    assert.equal(lines.length, 1, second.stderr());
    assert.match(lines[0] as string, /DATA_DIR/);
    assert.match(lines[0] as string, new RegExp(`in use by another server \\(pid ${first.child.pid}\\)`));

    const ready = await fetch(`${firstUrl}/readyz`);
    assert.equal(ready.status, 200, 'the first server is undisturbed');
  });

  it('on SIGTERM finishes the request in flight, closes its connection, stops PostgreSQL and exits 0', async () => {
    const postgres = postgresPid(dataDir);
    assert.ok(postgres !== null && isRunning(postgres));
    const name = 'Created during shutdown';
    const finish = startSlowRequest(firstUrl, keepAlive, 'in-flight-during-shutdown', JSON.stringify({ name }));
    await first.waitForOutput(/"reqId":"in-flight-during-shutdown".*"incoming request"/);

    first.child.kill('SIGTERM');
    await first.waitForOutput(/"msg":"shutting down"/);
    const response = await finish();
    assert.equal(response.status, 201, response.body);
    organizations.push({ id: (JSON.parse(response.body) as { id: string }).id, name });

    const { code } = await first.exited(10_000);
    assert.equal(code, 0, first.stderr());
    assert.equal(isRunning(postgres), false, 'PostgreSQL stopped with the server');
    assert.equal(fs.existsSync(path.join(dataDir, 'server.pid')), false);
    assert.equal(fs.existsSync(path.join(dataDir, 'connection.json')), false);
    assert.match(fs.readFileSync(path.join(dataDir, 'postgres.log'), 'utf8'), /database system is shut down/);
  });

  it('reuses the cluster on the next start, data intact, and recovers after kill -9', async () => {
    const second = startServer(env);
    const secondUrl = await second.listening();
    assert.doesNotMatch(second.stdout(), /initialising a new PostgreSQL cluster/);
    for (const { id, name } of organizations) assert.equal(await organizationName(secondUrl, id), name);
    const name = 'Written before kill -9';
    organizations.push({ id: await createOrganization(secondUrl, name), name });

    const orphan = postgresPid(dataDir);
    second.child.kill('SIGKILL');
    await second.exited();
    assert.ok(orphan !== null && isRunning(orphan), 'kill -9 leaves PostgreSQL running');

    const third = startServer(env);
    const thirdUrl = await third.listening();
    assert.equal(isRunning(orphan), false, 'the leftover PostgreSQL was stopped');
    assert.notEqual(postgresPid(dataDir), orphan);
    for (const { id, name } of organizations) assert.equal(await organizationName(thirdUrl, id), name);

    third.child.kill('SIGTERM');
    assert.equal((await third.exited(10_000)).code, 0, third.stderr());
  });
});
