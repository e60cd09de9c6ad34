/**
 * Rate limiting shared through a real Redis by two real server processes, and what happens when that
 * Redis dies or freezes. Needs the redis-server binary (Debian: `apt-get install -y redis-server`, or
 * scripts/ci/redis.sh); without it the test fails rather than skips, so CI cannot pass without it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createTestApp, databaseUrl, request } from '../helpers/app.js';
import { newOrganization } from '../helpers/factories.js';
import { killServers, type ServerProcess, startServer } from '../helpers/process.js';

const REDIS_SERVER = 'redis-server';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const SETTINGS = '/api/v1/organization/settings';
const BUDGET = 4;
// Long enough for ioredis to reconnect (at most a second apart) on a loaded machine.
const RECONNECT_DEADLINE_MS = 15_000;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A throwaway redis-server: no persistence, loopback only. Resolves once it accepts connections. */
async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    REDIS_SERVER,
    ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return child;
}

async function stopRedis(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

function serviceLimit(response: globalThis.Response): { r: number; t: number } | null {
  const header = response.headers.get('ratelimit');
  if (header === null) return null;
  const match = /^"default";r=(\d+);t=(\d+)$/.exec(header);
  assert.ok(match, `RateLimit: ${header}`);
  return { r: Number(match[1]), t: Number(match[2]) };
}

async function storeErrors(baseUrl: string): Promise<number> {
  const response = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(response.status, 200);
  const line = (await response.text())
    .split('\n')
    .find((candidate) => candidate.startsWith('rate_limit_store_errors_total '));
  assert.ok(line, 'no rate_limit_store_errors_total');
  return Number(line.split(' ')[1]);
}

describe('rate limits shared through Redis by two server processes', { timeout: 120_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contacts-api-redis-'));
  let port: number;
  let redisUrl: string;
  let redis: ChildProcess;
  let servers: ServerProcess[];
  let urls: string[];
  let newToken: () => Promise<Record<string, string>>;
  let closeSetup: () => Promise<void>;

  before(async () => {
    const probe = spawnSync(REDIS_SERVER, ['--version']);
    if (probe.error) {
      throw new Error(
        `${REDIS_SERVER} is not installed (${probe.error.message}); install it to run this test: ` +
          '`apt-get install -y redis-server` on Debian, or scripts/ci/redis.sh',
      );
    }
    port = await freePort();
    redisUrl = `redis://127.0.0.1:${port}`;
    redis = await startRedis(port, dir);
    const env = {
      DATABASE_URL: databaseUrl(),
      REDIS_URL: redisUrl,
      RATE_LIMIT_PER_MINUTE: String(BUDGET),
      METRICS_TOKEN,
    };
    servers = [startServer(env), startServer(env)];
    urls = await Promise.all(servers.map((server) => server.listening()));
    // Organizations come from an unlimited app on the same database, so setup spends no budget.
    const setup = await createTestApp();
    newToken = async () => (await newOrganization(setup.app)).headers;
    closeSetup = () => setup.close();
  });

  after(async () => {
    await killServers();
    await closeSetup?.();
    if (redis) await stopRedis(redis);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const read = (baseUrl: string, headers: Record<string, string>) => fetch(`${baseUrl}${SETTINGS}`, { headers });

  /** Requests until one is measured by Redis (the server reconnects on its own); returns its RateLimit. */
  async function untilLimited(baseUrl: string, headers: Record<string, string>): Promise<{ r: number; t: number }> {
    const deadline = performance.now() + RECONNECT_DEADLINE_MS;
    for (;;) {
      assert.ok(performance.now() < deadline, `${baseUrl} did not use Redis again`);
      const response = await read(baseUrl, headers);
      assert.equal(response.status, 200);
      const limit = serviceLimit(response);
      if (limit !== null) return limit;
      await sleep(100);
    }
  }

  it('spends one budget across both processes', async () => {
    const headers = await newToken();
    const [first, second] = urls as [string, string];
    const left: Array<number | undefined> = [];
    for (const baseUrl of [first, second, first, second]) {
      const response = await read(baseUrl, headers);
      assert.equal(response.status, 200);
      left.push(serviceLimit(response)?.r);
    }
    assert.deepEqual(left, [3, 2, 1, 0]);
    for (const baseUrl of [first, second]) {
      const refused = await read(baseUrl, headers);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      const retryAfter = Number(refused.headers.get('retry-after'));
      // 4 a minute: one token every 15 s.
      assert.ok(retryAfter >= 1 && retryAfter <= 15, `Retry-After ${retryAfter}`);
      assert.deepEqual(serviceLimit(refused), { r: 0, t: retryAfter });
    }
  });

  it('serves requests unchecked while Redis is down (counted, logged once), and limits again once it is back', async () => {
    const headers = await newToken();
    const [first] = urls as [string];
    const server = servers[0] as ServerProcess;
    const errorsBefore = await storeErrors(first);
    await stopRedis(redis);

    for (let i = 0; i < BUDGET + 3; i += 1) {
      const response = await read(first, headers);
      assert.equal(response.status, 200, await response.text());
      assert.equal(serviceLimit(response), null, 'no limit can be measured without Redis');
    }
    assert.equal((await storeErrors(first)) - errorsBefore, BUDGET + 3);
    const warnings = server
      .stdout()
      .split('\n')
      .filter((line) => line.includes('rate-limit store unavailable'));
    assert.ok(warnings.length >= 1 && warnings.length <= 2, `${warnings.length} warnings for ${BUDGET + 3} failures`);

    redis = await startRedis(port, dir);
    // Redis restarted empty: a full bucket, of which the request that found it back took one.
    assert.equal((await untilLimited(first, headers)).r, BUDGET - 1);
    for (let i = 1; i < BUDGET; i += 1) assert.equal((await read(first, headers)).status, 200);
    assert.equal((await read(first, headers)).status, 429);
  });

  it('serves requests unchecked when Redis stops answering, after a short wait rather than a hang', async () => {
    const headers = await newToken();
    const [, second] = urls as [string, string];
    // Connected again after the previous test's restart, so the next requests wait on a live but silent socket.
    await untilLimited(second, headers);
    const errorsBefore = await storeErrors(second);
    redis.kill('SIGSTOP');
    try {
      for (let i = 0; i < 2; i += 1) {
        const response = await read(second, headers);
        assert.equal(response.status, 200);
        assert.equal(serviceLimit(response), null);
      }
      assert.equal((await storeErrors(second)) - errorsBefore, 2);
    } finally {
      redis.kill('SIGCONT');
    }
  });

  it('closes its Redis connection when the app closes', async () => {
    const observer = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await observer.connect();
    const ours = async () =>
      String(await observer.client('LIST'))
        .split('\n')
        .filter((line) => line.includes('name=contacts-api-rate-limit')).length;
    try {
      const before = await ours();
      const t = await createTestApp({ RATE_LIMIT_PER_MINUTE: '10', REDIS_URL: redisUrl });
      // The app waits for its connection while starting, so the first requests are already limited.
      const organization = await newOrganization(t.app);
      const response = await request(t.app, { method: 'GET', url: SETTINGS, headers: organization.headers });
      assert.match(String(response.headers.ratelimit), /^"default";r=\d+;t=\d+$/);
      assert.equal(await ours(), before + 1);
      await t.close();
      assert.equal(await ours(), before);
    } finally {
      observer.disconnect();
    }
  });
});
