/**
 * `npm run resilience`: the production build (`node dist/cluster.js`, as `npm start` runs it) against a
 * PostgreSQL this script owns, so it can kill, freeze and restart it. Prints the figures the hardening
 * work is judged by; every phase is bounded in requests and time and talks to 127.0.0.1 only.
 *
 *   npm run resilience -- [--only fuzz,bodies,413,terminate,kill,freeze] [--fuzz-runs 2000]
 *
 * Phases:
 *   fuzz       generated malformed requests per route with a body or query → 5xx count, problem+json share
 *   bodies     worst-case bodies up to BODY_LIMIT on 4 connections → /healthz latency, server RSS
 *   413        Node's fetch streaming an oversized body → does it receive the 413?
 *   terminate  pg_terminate_backend of all the server's connections under load, 10× → exits, recovery
 *   kill       kill -9 of the postmaster under load, 5× (restarted at once) → exits, recovery
 *   freeze     SIGSTOP of PostgreSQL → time to 503, /readyz; SIGCONT → recovery
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import {
  type FuzzTarget,
  fuzzTargets,
  type HostileRequest,
  hostileBodyRequest,
  hostileQueryRequest,
  INTERNAL_TEXT,
} from '../test/helpers/hostile.js';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    'fuzz-runs': { type: 'string', default: '2000' },
  },
});
const ONLY = args.only ? new Set(args.only.split(',')) : null;
const FUZZ_RUNS = Number(args['fuzz-runs']);
const ROOT = path.resolve(import.meta.dirname, '..');
const ADMIN_TOKEN = 'resilience-admin-token-0123456789';
const STATEMENT_TIMEOUT_MS = 10_000;
const log = (message: string) => process.stderr.write(`${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const figures: Array<[string, string]> = [];
const report = (name: string, value: string) => {
  figures.push([name, value]);
  log(`  ${name}: ${value}`);
};

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function rssMegabytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

// --- the database and the server -------------------------------------------------------------

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'contacts-api-resilience-'));
fs.chmodSync(dataDir, 0o755);
const postgresEvents: Array<{ at: number; message: string }> = [];
const database = await startEmbeddedPostgres({
  dataDir,
  onLog: (message) => postgresEvents.push({ at: performance.now(), message }),
});
const postmasterPid = () =>
  Number.parseInt(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8'), 10);

log('building the server (npm run build)');
execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const server: ChildProcess = spawn(process.execPath, ['dist/cluster.js'], {
  cwd: ROOT,
  env: {
    ...process.env,
    DATABASE_URL: database.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    ADMIN_TOKEN,
    LOG_LEVEL: 'error',
    RATE_LIMIT_PER_MINUTE: '0',
    DATABASE_STATEMENT_TIMEOUT: String(STATEMENT_TIMEOUT_MS),
  },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let serverStderr = '';
server.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
  serverStderr += chunk;
});
let serverExits = 0;
server.on('exit', () => {
  serverExits += 1;
});

async function waitForServer(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited: ${serverStderr}`);
    if (
      await fetch(`${baseUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(100);
  }
  throw new Error('the server did not start within 60 s');
}

async function cleanup(): Promise<void> {
  server.kill('SIGTERM');
  await new Promise((resolve) => (server.exitCode !== null ? resolve(null) : server.once('exit', resolve)));
  await database.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

await waitForServer();
const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const post = async (url: string, body: unknown, headers: Record<string, string>) =>
  (await (await fetch(`${baseUrl}${url}`, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as Record<
    string,
    string
  >;
const organization = await post('/api/v1/admin/organizations', { name: 'Resilience' }, adminHeaders);
const token = await post(
  `/api/v1/admin/organizations/${organization.id}/tokens`,
  {
    scopes: [
      'contacts.read',
      'contacts.write',
      'companies.read',
      'companies.write',
      'settings.write',
      'webhooks.read',
      'webhooks.write',
    ],
  },
  adminHeaders,
);
const headers = { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' };
const contact = await post('/api/v1/network/contacts', { firstName: 'Probe', email: 'probe@example.com' }, headers);
const company = await post('/api/v1/network/companies', { name: 'Probe AB' }, headers);
const contactUrl = `${baseUrl}/api/v1/network/contacts/${contact.id}`;

const enabled = (phase: string) => ONLY === null || ONLY.has(phase);

// --- fuzz -------------------------------------------------------------------------------------

async function send(hostile: HostileRequest): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(`${baseUrl}${hostile.url}`, {
    method: hostile.method,
    headers: hostile.headers,
    ...(hostile.payload === undefined ? {} : { body: hostile.payload }),
  });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}

if (enabled('fuzz')) {
  log(`fuzz: ${FUZZ_RUNS} generated malformed requests per route`);
  const document = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as Parameters<typeof fuzzTargets>[0];
  const targets: FuzzTarget[] = fuzzTargets(document, {
    contactId: contact.id as string,
    companyId: company.id as string,
    // No webhook exists: a well-formed request gets 404, a malformed one its 400.
    webhookId: randomUUID(),
    organizationId: organization.id as string,
    tokenId: token.id as string,
    // No such field: a well-formed request gets 404, a malformed one its 400.
    contactFieldKey: 'resilience_field',
  });
  for (const target of targets) {
    const targetHeaders = target.path.startsWith('/api/v1/admin') ? adminHeaders : headers;
    const arbitrary =
      target.method === 'GET' ? hostileQueryRequest(target, targetHeaders) : hostileBodyRequest(target, targetHeaders);
    const requests = fc.sample(arbitrary, { numRuns: FUZZ_RUNS, seed: 1 });
    let serverErrors = 0;
    let problems = 0;
    let leaks = 0;
    let other = 0;
    const examples: string[] = [];
    for (let index = 0; index < requests.length; index += 8) {
      const answers = await Promise.all(requests.slice(index, index + 8).map(send));
      answers.forEach((answer, offset) => {
        if (answer.status >= 500) serverErrors += 1;
        else if (answer.status < 400) other += 1;
        if (answer.type.startsWith('application/problem+json')) problems += 1;
        if (INTERNAL_TEXT.test(answer.body)) leaks += 1;
        if ((answer.status >= 500 || answer.status < 400) && examples.length < 3) {
          examples.push(`${answer.status} for ${requests[index + offset]?.defect}`);
        }
      });
    }
    report(
      `fuzz ${target.name}`,
      `${requests.length} requests, ${serverErrors} × 5xx, ${other} × 2xx/3xx, ${((100 * problems) / requests.length).toFixed(1)} % problem+json, ${leaks} with internal text${examples.length ? ` (${examples.join('; ')})` : ''}`,
    );
  }
}

// --- worst-case bodies ------------------------------------------------------------------------

if (enabled('bodies')) {
  const limit = 10 * 1024 * 1024 - 1024;
  const bodies: Array<[string, Buffer]> = [
    [
      '1M-element tags array',
      Buffer.from(JSON.stringify({ firstName: 'x', tags: Array.from({ length: 1_300_000 }, (_, i) => i) })),
    ],
    [
      '800k-string tags array',
      Buffer.from(JSON.stringify({ firstName: 'x', tags: Array.from({ length: 800_000 }, (_, i) => `t${i}`) })),
    ],
    [
      '500k unknown keys',
      Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: 500_000 }, (_, i) => [`k${i}`, 1])))),
    ],
    [
      '100k invalid emails',
      Buffer.from(
        JSON.stringify({
          firstName: 'x',
          emails: Array.from({ length: 100_000 }, () => ({ address: 'not an email', type: 'x' })),
        }),
      ),
    ],
    ['10 MB string', Buffer.from(JSON.stringify({ firstName: 'x'.repeat(limit - 40) }))],
    ['5M-deep nesting', Buffer.from(`{"tags":${'['.repeat(limit / 2 - 20)}${']'.repeat(limit / 2 - 20)}}`)],
    [
      'invalid UTF-8 at the end',
      Buffer.concat([Buffer.from(`{"firstName":"${'x'.repeat(limit - 40)}`), Buffer.from([0xff, 0x22, 0x7d])]),
    ],
  ];
  for (const [name, body] of bodies) {
    if (body.length > limit) throw new Error(`${name} is ${body.length} bytes, over the limit`);
  }
  log(`bodies: ${bodies.map(([name, body]) => `${name} (${(body.length / 1e6).toFixed(1)} MB)`).join(', ')}`);
  const serverPid = server.pid as number;
  const DURATION_MS = 15_000;
  const started = performance.now();
  const statuses = new Map<number, number>();
  let maxRss = rssMegabytes(serverPid);
  const rssTimer = setInterval(() => {
    maxRss = Math.max(maxRss, rssMegabytes(serverPid));
  }, 50);
  const attacker = async (offset: number) => {
    for (let round = offset; performance.now() - started < DURATION_MS; round += 1) {
      const [, body] = bodies[round % bodies.length] as [string, Buffer];
      const response = await fetch(`${baseUrl}/api/v1/network/contacts`, { method: 'POST', headers, body });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  };
  const latencies: number[] = [];
  const prober = async () => {
    await sleep(500);
    while (performance.now() - started < DURATION_MS) {
      const sent = performance.now();
      await (await fetch(`${baseUrl}/healthz`)).arrayBuffer();
      latencies.push(performance.now() - sent);
      await sleep(20);
    }
  };
  await Promise.all([...Array.from({ length: 4 }, (_, i) => attacker(i)), prober()]);
  clearInterval(rssTimer);
  const afterRss = rssMegabytes(serverPid);
  report(
    'worst-case bodies, 4 connections, 15 s',
    `${[...statuses].map(([status, count]) => `${count} × ${status}`).join(', ')}; /healthz p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (${latencies.length} probes); server RSS max ${maxRss.toFixed(0)} MB, after ${afterRss.toFixed(0)} MB`,
  );
}

// --- 413 --------------------------------------------------------------------------------------

if (enabled('413')) {
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const outcomes: string[] = [];
  for (const [name, megabytes] of [
    ['streamed (chunked) 20 MiB', 20],
    ['streamed (chunked) 60 MiB', 60],
  ] as const) {
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < megabytes; i += 1) controller.enqueue(chunk);
        controller.close();
      },
    });
    const outcome = await fetch(`${baseUrl}/api/v1/network/contacts`, {
      method: 'POST',
      headers,
      body,
      duplex: 'half',
    } as RequestInit).then(
      async (response) => `${response.status} ${response.headers.get('content-type')}`,
      (error: Error & { cause?: { code?: string } }) => `error ${error.cause?.code ?? error.message}`,
    );
    outcomes.push(`${name}: ${outcome}`);
  }
  const buffered = await fetch(`${baseUrl}/api/v1/network/contacts`, {
    method: 'POST',
    headers,
    body: Buffer.alloc(20 * 1024 * 1024, 0x20),
  }).then(
    (response) => `${response.status}`,
    (error: Error & { cause?: { code?: string } }) => `error ${error.cause?.code ?? error.message}`,
  );
  outcomes.push(`with Content-Length 20 MiB: ${buffered}`);
  report("Node's fetch, oversized bodies", outcomes.join('; '));
}

// --- database faults --------------------------------------------------------------------------

/** Eight clients reading and upserting; counts what they get back. */
function load() {
  let running = true;
  const statuses = new Map<string, number>();
  const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
  const worker = async (index: number) => {
    for (let round = 0; running; round += 1) {
      try {
        const response =
          index % 2 === 0
            ? await fetch(contactUrl, { headers })
            : await fetch(`${baseUrl}/api/v1/network/contacts/external/load/w${index}-${round % 20}`, {
                method: 'PATCH',
                headers,
                body: JSON.stringify({ firstName: `Round ${round}` }),
              });
        await response.arrayBuffer();
        const retryAfter = response.headers.get('retry-after');
        count(response.status === 503 && retryAfter !== null ? '503+Retry-After' : String(response.status));
        if (response.status !== 200 && response.status !== 201) await sleep(20);
      } catch {
        count('connection error');
        await sleep(50);
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, index) => worker(index));
  return {
    statuses,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

async function firstSuccessAfter(since: number, timeoutMs: number): Promise<number> {
  for (;;) {
    const ok = await fetch(contactUrl, { headers }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status === 200;
      },
      () => false,
    );
    if (ok) return performance.now() - since;
    if (performance.now() - since > timeoutMs) return Number.POSITIVE_INFINITY;
    await sleep(10);
  }
}

const describeStatuses = (statuses: Map<string, number>) =>
  [...statuses].map(([status, count]) => `${count} × ${status}`).join(', ');

if (enabled('terminate')) {
  const traffic = load();
  const recoveries: number[] = [];
  let killed = 0;
  for (let round = 0; round < 10; round += 1) {
    await sleep(1_000);
    const killer = new pg.Client({ connectionString: database.url });
    await killer.connect();
    const result = await killer.query(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'contacts-api'",
    );
    await killer.end();
    const at = performance.now();
    killed += result.rows[0].n as number;
    recoveries.push(await firstSuccessAfter(at, 10_000));
  }
  await traffic.stop();
  report(
    'pg_terminate_backend × 10 under load',
    `${killed} connections killed; server exits ${serverExits}; first success after ${recoveries.map((ms) => ms.toFixed(0)).join(', ')} ms (max ${Math.max(...recoveries).toFixed(0)}); answers ${describeStatuses(traffic.statuses)}`,
  );
}

if (enabled('kill')) {
  const traffic = load();
  const afterBack: number[] = [];
  const outages: number[] = [];
  for (let round = 0; round < 5; round += 1) {
    await sleep(1_000);
    const pid = postmasterPid();
    const eventsBefore = postgresEvents.length;
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    // startEmbeddedPostgres supervises its PostgreSQL and starts it again; wait for "is back".
    while (!postgresEvents.slice(eventsBefore).some((event) => event.message.includes('is back'))) {
      if (performance.now() - killedAt > 60_000) throw new Error('PostgreSQL did not come back within 60 s');
      await sleep(10);
    }
    const back = postgresEvents.slice(eventsBefore).find((event) => event.message.includes('is back'))?.at as number;
    const served = await firstSuccessAfter(back, 30_000);
    afterBack.push(served);
    outages.push(back + served - killedAt);
  }
  await traffic.stop();
  report(
    'postmaster kill -9 and restart × 5 under load',
    `server exits ${serverExits}; first success ${afterBack.map((ms) => ms.toFixed(0)).join(', ')} ms after PostgreSQL was back (whole outage ${outages.map((ms) => ms.toFixed(0)).join(', ')} ms); answers ${describeStatuses(traffic.statuses)}`,
  );
}

/** The postmaster and its children (each backend is its own session leader, so no process group holds them all). */
function postgresProcesses(): number[] {
  const postmaster = postmasterPid();
  const children = fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

if (enabled('freeze')) {
  const frozen = postgresProcesses();
  for (const pid of frozen) process.kill(pid, 'SIGSTOP');
  const frozenAt = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const response = await fetch(contactUrl, { headers });
      await response.arrayBuffer();
      return { status: response.status, ms: performance.now() - frozenAt };
    }),
  );
  const ready = await fetch(`${baseUrl}/readyz`);
  const readyStatus = ready.status;
  for (const pid of frozen) process.kill(pid, 'SIGCONT');
  const thawedAt = performance.now();
  const recovered = await firstSuccessAfter(thawedAt, 30_000);
  report(
    `database frozen (SIGSTOP), statement timeout ${STATEMENT_TIMEOUT_MS} ms`,
    `${answers.map((a) => a.status).join(', ')} after at most ${Math.max(...answers.map((a) => a.ms)).toFixed(0)} ms; /readyz ${readyStatus}; first success ${recovered.toFixed(0)} ms after SIGCONT; server exits ${serverExits}`,
  );
}

await cleanup();
process.stdout.write('\n| check | result |\n|---|---|\n');
for (const [name, value] of figures) process.stdout.write(`| ${name} | ${value} |\n`);
