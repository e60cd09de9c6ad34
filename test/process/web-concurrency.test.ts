import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { databaseUrl } from '../helpers/app.js';
import {
  isRunning,
  killServers,
  postgresPid,
  removeDataDir,
  type ServerProcess,
  startServer,
  temporaryDataDir,
} from '../helpers/process.js';

function startCluster(env: Record<string, string>, options: { detached?: boolean } = {}): ServerProcess {
  return startServer({ RATE_LIMIT_PER_MINUTE: '0', ...env }, { entry: 'src/cluster.ts', ...options });
}

function logLines(server: ServerProcess): Array<Record<string, unknown>> {
  return server
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The pids the primary reports forking, in order. */
function forkedPids(server: ServerProcess): number[] {
  return logLines(server)
    .filter((line) => /^worker \d+ started$/.test(String(line.msg)))
    .map((line) => line.workerPid as number);
}

function parentPid(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * One request on a connection of its own (the cluster hands out connections, not requests), and the
 * pid of the process that answered it, from that process's own request log line.
 */
async function answeringPid(server: ServerProcess, base: string): Promise<number> {
  const requestId = `web-concurrency-${randomUUID()}`;
  const status = await new Promise<number>((resolve, reject) => {
    http
      .get(`${base}/healthz`, { agent: false, headers: { 'x-request-id': requestId } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      })
      .on('error', reject);
  });
  assert.equal(status, 200);
  const line = await server.waitForOutput(new RegExp(`"reqId":"${requestId}".*"msg":"request completed"`));
  return (JSON.parse(line) as { pid: number }).pid;
}

async function answeringPids(server: ServerProcess, base: string, requests: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let index = 0; index < requests; index += 1) pids.add(await answeringPid(server, base));
  return pids;
}

const sorted = (pids: Iterable<number>) => [...pids].sort((a, b) => a - b);

describe('WEB_CONCURRENCY=2 against DATABASE_URL', { timeout: 120_000 }, () => {
  let server: ServerProcess;
  let base: string;

  before(async () => {
    server = startCluster({ DATABASE_URL: databaseUrl(), WEB_CONCURRENCY: '2' });
    base = await server.listening();
    await server.waitForOutput(/"msg":"all 2 workers listening"/);
  });
  after(killServers);

  it('answers on one port from two worker processes of the primary', async () => {
    const workers = forkedPids(server);
    assert.equal(workers.length, 2);
    for (const pid of workers) assert.equal(parentPid(pid), server.child.pid);
    assert.deepEqual(sorted(await answeringPids(server, base, 6)), sorted(workers));
  });

  it('replaces a worker killed with SIGKILL and keeps answering', async () => {
    const [killed, survivor] = forkedPids(server) as [number, number];
    process.kill(killed, 'SIGKILL');
    const exitLine = await server.waitForOutput(
      new RegExp(`"workerPid":${killed},.*"msg":"worker \\d+ exited unexpectedly`),
    );
    assert.equal((JSON.parse(exitLine) as { signal: string }).signal, 'SIGKILL');
    await server.waitForOutput(/"msg":"worker 3 started"/);
    const replacement = forkedPids(server)[2] as number;
    await server.waitForOutput(new RegExp(`"pid":${replacement},.*"msg":"Server listening at`));

    assert.equal(isRunning(killed), false);
    assert.deepEqual(sorted(await answeringPids(server, base, 6)), sorted([survivor, replacement]));
  });

  it('on SIGTERM stops every worker, one still starting included, and exits 0', async () => {
    const [, crashed, listening] = forkedPids(server) as [number, number, number];
    process.kill(crashed, 'SIGKILL');
    // Its replacement is forked but still loading when the signal comes.
    await server.waitForOutput(/"msg":"worker 4 started"/);
    const starting = forkedPids(server)[3] as number;
    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited(30_000), { code: 0, signal: null });
    for (const pid of forkedPids(server)) assert.equal(isRunning(pid), false, `worker ${pid} still running`);
    const stopped = logLines(server)
      .filter((line) => line.msg === 'shutting down')
      .map((line) => line.pid as number);
    // The primary and the listening worker shut down gracefully, once each (never a second signal).
    assert.deepEqual(
      sorted(stopped.filter((pid) => pid !== starting)),
      sorted([server.child.pid as number, listening]),
    );
  });
});

describe('WEB_CONCURRENCY=2 with the embedded PostgreSQL', { timeout: 120_000 }, () => {
  const dataDir = temporaryDataDir();
  after(async () => {
    await killServers();
    await removeDataDir(dataDir);
  });

  it('starts PostgreSQL once in the primary, serves from both workers and stops it all on SIGTERM', async () => {
    const server = startCluster({ DATA_DIR: dataDir, WEB_CONCURRENCY: '2' }, { detached: true });
    const base = await server.listening();
    await server.waitForOutput(/"msg":"all 2 workers listening"/);
    const postgres = postgresPid(dataDir) as number;
    assert.equal(parentPid(postgres), server.child.pid);
    assert.equal(logLines(server).filter((line) => /^embedded PostgreSQL ready/.test(String(line.msg))).length, 1);
    const workers = forkedPids(server);
    assert.deepEqual(sorted(await answeringPids(server, base, 4)), sorted(workers));

    // To the whole process group, as systemd and Heroku do: every worker gets it twice (directly and
    // from the primary) and must still shut down once, gracefully (a second signal would exit 1).
    process.kill(-(server.child.pid as number), 'SIGTERM');
    assert.deepEqual(await server.exited(40_000), { code: 0, signal: null });
    const stopped = logLines(server)
      .filter((line) => line.msg === 'shutting down')
      .map((line) => line.pid);
    assert.deepEqual(sorted(stopped as number[]), sorted([server.child.pid as number, ...workers]));
    assert.equal(isRunning(postgres), false);
    for (const pid of workers) assert.equal(isRunning(pid), false, `worker ${pid} still running`);
    assert.equal(fs.existsSync(path.join(dataDir, 'server.pid')), false);
  });
});

describe('WEB_CONCURRENCY failures and the single process', { timeout: 120_000 }, () => {
  after(killServers);

  it('exits 1 with the workers’ message when they cannot start, without restarting them', async () => {
    const occupant = net.createServer();
    await new Promise<void>((resolve) => occupant.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = occupant.address() as net.AddressInfo;
      const server = startCluster({ DATABASE_URL: databaseUrl(), WEB_CONCURRENCY: '2', PORT: String(port) });
      assert.equal((await server.exited()).code, 1);
      assert.match(server.stderr(), /^Failed to start: .*EADDRINUSE/m);
      const workers = forkedPids(server);
      assert.equal(workers.length, 2, server.stdout());
      for (const pid of workers) assert.equal(isRunning(pid), false, `worker ${pid} still running`);
    } finally {
      occupant.close();
    }
  });

  it('refuses a bad WEB_CONCURRENCY with one line naming it, before forking', async () => {
    const server = startCluster({ DATABASE_URL: databaseUrl(), WEB_CONCURRENCY: '65' });
    assert.equal((await server.exited()).code, 1);
    const lines = server.stderr().split('\n').filter(Boolean);
    assert.equal(lines.length, 1, server.stderr());
    assert.match(lines[0] as string, /^Invalid configuration: WEB_CONCURRENCY\b/);
    assert.equal(server.stdout(), '');
  });

  it('with WEB_CONCURRENCY=1 serves from its own process, as the server alone does', async () => {
    const server = startCluster({ DATABASE_URL: databaseUrl(), WEB_CONCURRENCY: '1' });
    const base = await server.listening();
    assert.deepEqual([...(await answeringPids(server, base, 2))], [server.child.pid]);
    assert.deepEqual(forkedPids(server), []);
    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited(), { code: 0, signal: null });
  });
});
