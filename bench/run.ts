/**
 * `npm run bench`: the real server (production build) and the floor (bench/floor.ts) side by side
 * on one PostgreSQL, each scenario driven by autocannon on loopback, bounded in time.
 *
 *   npm run bench -- [--contacts 10000] [--duration 10] [--warmup 3] [--connections 32,1]
 *                    [--only upsert-update,get] [--profile] [--workers 1]
 *
 * DATABASE_URL set: that server (the bench creates its own tables' rows in a new organization and a
 * bench_floor_contacts table). Unset: an embedded PostgreSQL in a temporary folder.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { seedSearchContacts } from '../scripts/seed-search.js';
import { connectDatabase } from '../src/db/database.js';
import { TABLE_PLACEMENTS } from '../src/db/distribution.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { sequenceAllEvents } from '../src/events/event.repository.js';
import { encodeCursor } from '../src/http/cursor.js';
import { createApiToken, createOrganization } from '../src/organizations/organization.service.js';
import { summarizeProfile } from './profile.js';

const { values: args } = parseArgs({
  options: {
    contacts: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32,1' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    // WEB_CONCURRENCY of the API server; the warm-up also covers workers still starting.
    workers: { type: 'string', default: '1' },
  },
});
const CONTACTS = Number(args.contacts);
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const CONNECTIONS = (args.connections as string).split(',').map(Number);
const ONLY = args.only ? new Set(args.only.split(',')) : null;
const WORKERS = Number(args.workers);
const ROOT = path.resolve(import.meta.dirname, '..');
const log = (message: string) => process.stderr.write(`${message}\n`);

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

async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer within 60 s`);
}

// CPU time from /proc, in clock ticks: the process's own (utime + stime, fields 14 and 15).
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function processCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0; // the process ended between the listing and the read
  }
}

/** CPU seconds of every PostgreSQL process of the machine, by pid (the bench's database is the only busy one). */
function postgresCpu(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') {
        byPid.set(Number(entry), processCpuSeconds(Number(entry)));
      }
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** `root` and every process below it: with WEB_CONCURRENCY above 1 the requests are served by its workers. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree = [root];
  for (let index = 0; index < tree.length; index += 1) tree.push(...(children.get(tree[index] as number) ?? []));
  return tree;
}

/** CPU seconds of a server (the process and its workers), by pid. */
function serverCpu(pid: number): Map<number, number> {
  return new Map(processTree(pid).map((member) => [member, processCpuSeconds(member)]));
}

/** CPU spent since `before` by the processes alive now (one that exited meanwhile takes its time with it). */
function cpuSince(before: Map<number, number>, now: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of now) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** Resident memory of a server, its workers included. */
function rssMegabytes(pid: number): number {
  let kb = 0;
  for (const member of processTree(pid)) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${member}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return Math.round(kb / 1024);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

// ---------------------------------------------------------------------------------------------
log('building (npm run build)…');
execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

let embedded: EmbeddedPostgres | null = null;
let tempDir: string | null = null;
let databaseUrl = process.env.DATABASE_URL ?? '';
if (!databaseUrl) {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'contacts-api-bench-'));
  embedded = await startEmbeddedPostgres({ dataDir: tempDir });
  databaseUrl = embedded.url;
}
// The bench's own statements (seeding, VACUUM between scenarios) take longer at a million contacts
// than the 10 s a request's may.
const database = connectDatabase(databaseUrl, {
  poolSize: 4,
  applicationName: 'contacts-api-bench',
  statementTimeoutMs: 600_000,
});
const { db } = database;
await migrateToLatest(db);
const postgresVersion =
  (await sql<{ server_version: string }>`SHOW server_version`.execute(db)).rows[0]?.server_version ?? '?';

log(`seeding ${CONTACTS} contacts through SQL…`);
// Phones without a country code are read as US numbers (the phone search scenario sends them so).
const organization = await createOrganization(db, {
  name: `Bench ${new Date().toISOString()}`,
  settings: { defaultPhoneRegion: 'US' },
});
const orgId = organization.id;
const { token } = await createApiToken(db, orgId, {
  name: 'bench',
  scopes: ['contacts.read', 'contacts.write', 'companies.read', 'companies.write', 'webhooks.read', 'webhooks.write'],
});
const seedStarted = Date.now();
// Contact i: First<i> Last<i>, c<i>@bench.test, bench:r<i>, and the search columns (scripts/seed-search.ts).
await seedSearchContacts(db, orgId, CONTACTS);
await sql`
  CREATE TABLE IF NOT EXISTS bench_floor_contacts (
    organization_id uuid NOT NULL, external_id text NOT NULL, id uuid NOT NULL DEFAULT gen_random_uuid(),
    first_name text, last_name text, email text,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, external_id)
  )`.execute(db);
await sql`CREATE UNIQUE INDEX IF NOT EXISTS bench_floor_contacts_id ON bench_floor_contacts (organization_id, id)`.execute(
  db,
);
await sql`
  INSERT INTO bench_floor_contacts (organization_id, external_id, first_name, last_name, email)
  SELECT ${orgId}::uuid, 'r' || i, 'First' || i, 'Last' || i, 'c' || i || '@bench.test'
  FROM generate_series(0, ${CONTACTS - 1}::int) AS i`.execute(db);
// The seed's events (the trigger appended them) get their numbers, as a server would give them.
await sequenceAllEvents(db);
await sql`ANALYZE contacts`.execute(db);
await sql`ANALYZE contact_external_refs`.execute(db);
await sql`ANALYZE contact_search_terms`.execute(db);
await sql`ANALYZE bench_floor_contacts`.execute(db);
// Flush the seed's writes now rather than in a checkpoint in the middle of a scenario (needs superuser).
await sql`CHECKPOINT`
  .execute(db)
  .catch(() => log('no CHECKPOINT (not a superuser); the first scenario may be noisier'));
log(`seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

const sample = (
  await sql<{ id: string; i: number }>`
    SELECT id, substr(external_refs -> 0 ->> 'id', 2)::int AS i FROM contacts
    WHERE organization_id = ${orgId} ORDER BY random() LIMIT 10000`.execute(db)
).rows;
const floorIds = (
  await sql<{
    id: string;
  }>`SELECT id FROM bench_floor_contacts WHERE organization_id = ${orgId} ORDER BY random() LIMIT 10000`.execute(db)
).rows.map((row) => row.id);
const secret = (await sql<{ secret: Buffer }>`SELECT secret FROM server_secrets WHERE name = 'cursor'`.execute(db))
  .rows[0]?.secret as Buffer;
// Start positions deep in the feed (between 50% and 90%), one per connection, for list-page.
const deepCursors: string[] = [];
for (let k = 0; k < 32; k += 1) {
  const offset = Math.floor(CONTACTS * (0.5 + (0.4 * k) / 32));
  const row = (
    await sql<{ seq: number }>`
      SELECT seq FROM events WHERE organization_id = ${orgId} AND resource_type = 'contact'
      ORDER BY seq OFFSET ${offset} LIMIT 1`.execute(db)
  ).rows[0];
  if (row) deepCursors.push(encodeCursor({ o: orgId, f: 'contacts', q: row.seq, s: null, d: false }, secret));
}

// ---------------------------------------------------------------------------------------------
const serverPort = await freePort();
const floorPort = await freePort();
const profileDir = path.join(ROOT, 'bench', 'results', 'profiles');
const serverEnv = {
  ...process.env,
  DATABASE_URL: databaseUrl,
  PORT: String(serverPort),
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_MINUTE: '0',
  WEB_CONCURRENCY: String(WORKERS),
  // The webhook scenario delivers to a receiver in this process, on loopback.
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
};

// The webhook scenario's endpoint: answers every delivery 204 and counts them.
const deliveries = { count: 0, last: 0 };
const receiver = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    deliveries.count += 1;
    deliveries.last = Date.now();
    response.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as net.AddressInfo).port}/hook`;
let webhookId: string | null = null;
const webhookFigures: string[] = [];
const server = spawn(
  process.execPath,
  [...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), 'dist/cluster.js'],
  { cwd: ROOT, env: serverEnv, stdio: ['ignore', 'inherit', 'inherit'] },
);
const floor = spawn(process.execPath, ['--import', 'tsx', 'bench/floor.ts'], {
  cwd: ROOT,
  env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(floorPort) },
  stdio: ['ignore', 'ignore', 'inherit'],
});
// If the bench fails midway, take the servers down with it.
process.on('exit', () => {
  server.kill('SIGKILL');
  floor.kill('SIGKILL');
});
const base = `http://127.0.0.1:${serverPort}`;
const floorBase = `http://127.0.0.1:${floorPort}`;
await waitForHttp(`${base}/healthz`, server);
await waitForHttp(`${floorBase}/floor/healthz`, floor);

// Fresh objects per request: autocannon writes Content-Length into the headers object it is given.
const authHeaders = () => ({ authorization: `Bearer ${token}` });
const jsonHeaders = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;
// Every tenth contact has a second email, for the search scenarios: the write scenarios leave them
// alone, since a write that sends only `email` replaces the list (an upsert-noop would not be one).
const part = (from: number, to: number) =>
  sample.filter((row) => row.i % 10 !== 0 && row.i >= from * CONTACTS && row.i < to * CONTACTS);
const updateRows = part(0, 0.4);
const noopRows = part(0.4, 0.8);
const tail = part(0.8, 1);
const ifMatchRows = tail.slice(0, Math.min(512, Math.floor(tail.length / 2)));
const matchRows = tail.slice(ifMatchRows.length);
let counter = 0;

type Request = autocannon.Request;
interface Scenario {
  name: string;
  target: 'api' | 'floor';
  /** Which floor scenario this one is measured against (by records per second). */
  against?: 'floor-upsert' | 'floor-get' | 'floor-batch-100';
  /** Records one request writes (a batch's items); 1 otherwise. */
  records?: number;
  prepare?: (connections: number) => Promise<void>;
  /** After the measured run: undo what prepare set up, report what the table does not show. */
  finish?: (connections: number, measuredFrom: number) => Promise<void>;
  requests: (connections: number) => Request[];
}

interface IfMatchEntry {
  id: string;
  etag: string;
}
const ifMatchFree: IfMatchEntry[] = [];
const openCursors: string[] = [];

function upsertUpdateRequests(): Request[] {
  return [
    {
      method: 'PATCH',
      setupRequest: (request) => {
        const row = pick(updateRows);
        counter += 1;
        return {
          ...request,
          path: `/api/v1/network/contacts/external/bench/r${row.i}`,
          headers: jsonHeaders(),
          body: JSON.stringify({ firstName: `F${counter}`, lastName: `Last${row.i}`, email: `c${row.i}@bench.test` }),
        };
      },
    },
  ];
}

/** Where a list-page answer says to go next: only its trailing page object is parsed (see list-page). */
function nextCursorOf(body: string): string | null {
  const page = JSON.parse(body.slice(body.lastIndexOf('"page":') + 7, -1)) as {
    nextCursor: string | null;
    hasMore: boolean;
  };
  return page.hasMore ? page.nextCursor : null;
}

/** A search scenario: a first page with `query()`'s filters, then its cursor chain (the cursor carries the filters). */
function listSearch(name: string, query: () => string): Scenario {
  return {
    name,
    target: 'api',
    against: 'floor-get',
    prepare: async () => {
      openCursors.length = 0;
    },
    requests: () => [
      {
        method: 'GET',
        setupRequest: (request) => {
          const cursor = openCursors.shift();
          const search = cursor === undefined ? query() : `cursor=${cursor}`;
          return { ...request, path: `/api/v1/network/contacts?limit=100&${search}`, headers: authHeaders() };
        },
        onResponse: (status, body) => {
          if (status !== 200) return;
          const next = nextCursorOf(body);
          if (next !== null) openCursors.push(next);
        },
      },
    ],
  };
}

const scenarios: Scenario[] = [
  {
    name: 'floor-upsert',
    target: 'floor',
    requests: () => [
      {
        method: 'PATCH',
        setupRequest: (request) => {
          const row = pick(updateRows);
          counter += 1;
          return {
            ...request,
            path: `/floor/${orgId}/contacts/r${row.i}`,
            headers: { 'content-type': 'application/json' } as Record<string, string>,
            body: JSON.stringify({ firstName: `F${counter}`, lastName: `Last${row.i}`, email: `c${row.i}@bench.test` }),
          };
        },
      },
    ],
  },
  {
    name: 'floor-get',
    target: 'floor',
    requests: () => [
      {
        method: 'GET',
        setupRequest: (request) => ({ ...request, path: `/floor/${orgId}/contacts/by-id/${pick(floorIds)}` }),
      },
    ],
  },
  {
    name: 'upsert-create',
    target: 'api',
    against: 'floor-upsert',
    requests: () => [
      {
        method: 'PATCH',
        setupRequest: (request) => {
          const ref = randomUUID();
          return {
            ...request,
            path: `/api/v1/network/contacts/external/bench-new/${ref}`,
            headers: jsonHeaders(),
            body: JSON.stringify({ firstName: 'New', lastName: 'Contact', email: `${ref}@bench.test` }),
          };
        },
      },
    ],
  },
  {
    name: 'upsert-update',
    target: 'api',
    against: 'floor-upsert',
    requests: upsertUpdateRequests,
  },
  {
    // The same writes while one subscription receives every contact event: what delivering costs the API.
    name: 'upsert-update-webhook',
    target: 'api',
    against: 'floor-upsert',
    prepare: async () => {
      // Prepare runs before the warm-up and again before the measured run: count from the latter.
      deliveries.count = 0;
      if (webhookId !== null) return;
      const response = await fetch(`${base}/api/v1/webhooks`, {
        method: 'POST',
        headers: jsonHeaders(),
        body: JSON.stringify({ url: receiverUrl, events: ['contact.*'], description: 'bench' }),
      });
      if (response.status !== 201) throw new Error(`webhook not created: ${await response.text()}`);
      webhookId = ((await response.json()) as { id: string }).id;
    },
    finish: async (connections, measuredFrom) => {
      const atEnd = deliveries.count;
      const events = Number(
        (
          await sql<{ n: string }>`
            SELECT count(*) AS n FROM events
            WHERE organization_id = ${orgId} AND occurred_at >= ${new Date(measuredFrom)}`.execute(db)
        ).rows[0]?.n ?? 0,
      );
      // Drain: wait until deliveries stop arriving for a second.
      for (let quiet = 0; quiet < 10; ) {
        const before = deliveries.count;
        await new Promise((resolve) => setTimeout(resolve, 100));
        quiet = deliveries.count === before ? quiet + 1 : 0;
      }
      await fetch(`${base}/api/v1/webhooks/${webhookId}`, { method: 'DELETE', headers: authHeaders() });
      webhookId = null;
      const seconds = (deliveries.last - measuredFrom) / 1000;
      webhookFigures.push(
        `webhook @ ${connections} connection(s): ${deliveries.count} deliveries; ` +
          `${events} events in the measured run, ${deliveries.count - atEnd} still being delivered when the load stopped; ` +
          `${Math.round(deliveries.count / Math.max(seconds, 0.001))} deliveries/s until drained`,
      );
      deliveries.count = 0;
    },
    requests: upsertUpdateRequests,
  },
  {
    name: 'upsert-noop',
    target: 'api',
    against: 'floor-upsert',
    requests: () => [
      {
        method: 'PATCH',
        setupRequest: (request) => {
          const row = pick(noopRows);
          return {
            ...request,
            path: `/api/v1/network/contacts/external/bench/r${row.i}`,
            headers: jsonHeaders(),
            body: JSON.stringify({
              firstName: `First${row.i}`,
              lastName: `Last${row.i}`,
              email: `c${row.i}@bench.test`,
            }),
          };
        },
      },
    ],
  },
  {
    name: 'get',
    target: 'api',
    against: 'floor-get',
    requests: () => [
      {
        method: 'GET',
        setupRequest: (request) => ({
          ...request,
          path: `/api/v1/network/contacts/${pick(sample).id}`,
          headers: authHeaders(),
        }),
      },
    ],
  },
  {
    name: 'get-by-ref',
    target: 'api',
    against: 'floor-get',
    requests: () => [
      {
        method: 'GET',
        setupRequest: (request) => ({
          ...request,
          path: `/api/v1/network/contacts/external/bench/r${pick(sample).i}`,
          headers: authHeaders(),
        }),
      },
    ],
  },
  {
    name: 'patch-if-match',
    target: 'api',
    against: 'floor-upsert',
    // Contacts are checked out by one request at a time, so every If-Match is current: a 412 is a bug.
    prepare: async () => {
      ifMatchFree.length = 0;
      for (const row of ifMatchRows) {
        const response = await fetch(`${base}/api/v1/network/contacts/${row.id}`, { headers: authHeaders() });
        ifMatchFree.push({ id: row.id, etag: response.headers.get('etag') as string });
      }
    },
    requests: () => [
      {
        method: 'PATCH',
        setupRequest: (request, context) => {
          const entry = ifMatchFree.shift() as IfMatchEntry;
          (context as { entry?: IfMatchEntry }).entry = entry;
          counter += 1;
          return {
            ...request,
            path: `/api/v1/network/contacts/${entry.id}`,
            headers: { ...jsonHeaders(), 'if-match': entry.etag },
            body: JSON.stringify({ strategy: `S${counter}` }),
          };
        },
        onResponse: (status, body, context) => {
          const entry = (context as { entry?: IfMatchEntry }).entry;
          if (entry === undefined) return;
          if (status === 200) entry.etag = JSON.parse(body).etag;
          ifMatchFree.push(entry);
        },
      },
    ],
  },
  {
    name: 'list-page',
    target: 'api',
    against: 'floor-get',
    // Readers follow cursor chains that start deep in the feed; a finished chain starts over.
    prepare: async () => {
      openCursors.length = 0;
    },
    requests: () => [
      {
        method: 'GET',
        setupRequest: (request) => {
          const cursor = openCursors.shift() ?? pick(deepCursors);
          return { ...request, path: `/api/v1/network/contacts?limit=100&cursor=${cursor}`, headers: authHeaders() };
        },
        onResponse: (status, body) => {
          if (status !== 200) return;
          // Only the trailing page object: parsing the whole 100-contact body here would take CPU
          // from the server under test (they share the machine).
          const next = nextCursorOf(body);
          if (next !== null) openCursors.push(next);
        },
      },
    ],
  },
  // Searches (contact-search.ts) on the seeded values: lookups of one contact answer a first page;
  // the others follow cursor chains from the first page, like list-page, a finished chain starting
  // a new search. Compared with list-page in the summary after the table.
  listSearch('list-filtered-email', () => `email=c${pick(sample).i}%40bench.test`),
  listSearch('list-filtered-phone', () => {
    const digits = String(2 * Math.floor(pick(sample).i / 2)).padStart(7, '0');
    return `phone=${encodeURIComponent(`(555) ${digits.slice(0, 3)}-${digits.slice(3)}`)}`;
  }),
  listSearch('list-filtered-external-ref', () => `external_ref=bench%3Ar${pick(sample).i}`),
  listSearch('list-filtered-q', () => `q=first${100 + Math.floor(Math.random() * 900)}`),
  listSearch('list-filtered-tag', () => `tag=region-${Math.floor(Math.random() * 20)}`),
  listSearch('list-filtered-tag-rare', () => `tag=cohort-${Math.floor(Math.random() * 1000)}`),
  listSearch('list-filtered-namespace', () => 'namespace=hubspot'),
  listSearch('list-filtered-custom', () => `custom.tier=${pick(['gold', 'silver', 'bronze'])}`),
  listSearch(
    'list-filtered-combined',
    () => `tag=region-${Math.floor(Math.random() * 20)}&custom.tier=${pick(['gold', 'silver', 'bronze'])}`,
  ),
  {
    name: 'match-upsert',
    target: 'api',
    against: 'floor-upsert',
    requests: () => [
      {
        method: 'POST',
        setupRequest: (request) => {
          const row = pick(matchRows);
          counter += 1;
          return {
            ...request,
            path: '/api/v1/network/contacts/upsert',
            headers: jsonHeaders(),
            body: JSON.stringify({ email: `c${row.i}@bench.test`, lastName: `M${counter}` }),
          };
        },
      },
    ],
  },
  {
    name: 'floor-batch-100',
    target: 'floor',
    records: 100,
    requests: () => [
      {
        method: 'POST',
        setupRequest: (request) => ({
          ...request,
          path: `/floor/${orgId}/contacts/batch`,
          headers: { 'content-type': 'application/json' } as Record<string, string>,
          body: JSON.stringify({ items: batchItems(100, 'update') }),
        }),
      },
    ],
  },
  ...(
    [
      ['batch-100-update', 100, 'update'],
      ['batch-100-create', 100, 'create'],
      ['batch-1000-update', 1000, 'update'],
    ] as const
  ).map(
    ([name, size, kind]): Scenario => ({
      name,
      target: 'api',
      against: 'floor-batch-100',
      records: size,
      requests: () => [
        {
          method: 'POST',
          setupRequest: (request) => ({
            ...request,
            path: '/api/v1/network/contacts/batch',
            headers: jsonHeaders(),
            body: JSON.stringify({ match: 'none', items: batchItems(size, kind) }),
          }),
        },
      ],
    }),
  ),
];

/**
 * Items of one batch: updates of distinct existing contacts (the floor table has the same keys), or
 * contacts that do not exist yet.
 */
let batchBlock = 0;
function batchItems(size: number, kind: 'update' | 'create') {
  // Consecutive requests take consecutive blocks of rows, so the batches in flight at one time
  // (one per connection) touch disjoint contacts, as parallel sync workers do; batches that share
  // keys would take turns by design.
  const blocks = Math.max(1, Math.floor(updateRows.length / size));
  const start = (batchBlock++ % blocks) * size;
  return Array.from({ length: size }, (_, offset) => {
    counter += 1;
    if (kind === 'create') {
      const ref = randomUUID();
      return {
        externalRef: { namespace: 'bench-new', id: ref },
        data: { firstName: 'New', email: `${ref}@bench.test` },
      };
    }
    const row = updateRows[(start + offset) % updateRows.length] as { i: number };
    return {
      externalRef: { namespace: 'bench', id: `r${row.i}` },
      data: { firstName: `F${counter}`, lastName: `Last${row.i}`, email: `c${row.i}@bench.test` },
    };
  });
}

/** The first non-2xx body of a run, so a failing scenario says why. */
let firstFailure: string | null = null;

function run(url: string, connections: number, duration: number, requests: Request[]) {
  firstFailure = null;
  const observed = requests.map(
    (request): Request => ({
      ...request,
      onResponse: (status, body, context, headers) => {
        if ((status < 200 || status > 299) && firstFailure === null) firstFailure = `${status} ${body.slice(0, 300)}`;
        if (typeof request.onResponse === 'function') request.onResponse(status, body, context, headers);
      },
    }),
  );
  return autocannon({ url, connections, duration, requests: observed, timeout: 10 });
}

interface Row {
  scenario: string;
  connections: number;
  requestsPerSecond: number;
  recordsPerSecond: number;
  /** CPU time of the server under test (the API or the floor) and of PostgreSQL, per record written or read. */
  nodeMicrosPerRecord: number;
  postgresMicrosPerRecord: number;
  p50: number;
  p99: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  serverRssMb: number;
  ratioToFloor: number | null;
  /** For floor rows: requests/s of the run before and of the run after the API scenarios. */
  floorRuns?: number[];
}

const rows: Row[] = [];
const selected = scenarios.filter((s) => ONLY === null || ONLY.has(s.name) || s.target === 'floor');

/**
 * Every scenario starts from a vacuumed database, as autovacuum keeps a server's. Without it (some
 * machines run PostgreSQL with autovacuum off) each scenario inherits the dead rows of those before
 * it, and whatever runs later in a round, like the webhook scenario after the plain upsert, looks
 * slower than it is.
 */
async function vacuum(): Promise<void> {
  await sql`VACUUM (ANALYZE) contacts, contact_external_refs, companies, feed_positions, contact_search_terms, events,
    event_outbox, event_counters, webhooks, webhook_deliveries, webhook_attempts, bench_floor_contacts`.execute(db);
  await sql`CHECKPOINT`.execute(db).catch(() => {});
}

async function measure(scenario: Scenario, connections: number) {
  await vacuum();
  await scenario.prepare?.(connections);
  const url = scenario.target === 'api' ? base : floorBase;
  if (WARMUP > 0) await run(url, connections, WARMUP, scenario.requests(connections));
  await scenario.prepare?.(connections);
  log(`${scenario.name} @ ${connections} connection(s)…`);
  const pid = (scenario.target === 'api' ? server.pid : floor.pid) as number;
  const nodeBefore = serverCpu(pid);
  const postgresBefore = postgresCpu();
  const measuredFrom = Date.now();
  const result = await run(url, connections, DURATION, scenario.requests(connections));
  const nodeAfter = serverCpu(pid);
  const postgresAfter = postgresCpu();
  await scenario.finish?.(connections, measuredFrom);
  const records = Math.max(1, result.requests.total * (scenario.records ?? 1));
  const perRecord = (seconds: number) => Math.round((seconds * 1e6) / records);
  if (firstFailure !== null) log(`  first failure: ${firstFailure}`);
  return {
    scenario: scenario.name,
    connections,
    requestsPerSecond: Math.round(result.requests.average),
    recordsPerSecond: Math.round(result.requests.average * (scenario.records ?? 1)),
    nodeMicrosPerRecord: perRecord(cpuSince(nodeBefore, nodeAfter)),
    postgresMicrosPerRecord: perRecord(cpuSince(postgresBefore, postgresAfter)),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [
        code,
        Number((stat as { count: number }).count),
      ]),
    ),
    errors: result.errors,
    serverRssMb: rssMegabytes(server.pid as number),
    ratioToFloor: null,
  } satisfies Row;
}

// The floor runs before and after the API scenarios of each round and counts as their mean, so a
// machine that speeds up or slows down during the round skews the ratios less.
for (const connections of CONNECTIONS) {
  const floors = selected.filter((s) => s.target === 'floor');
  const before: Row[] = [];
  for (const floor of floors) before.push(await measure(floor, connections));
  const apiRows: Row[] = [];
  for (const scenario of selected.filter((s) => s.target === 'api')) apiRows.push(await measure(scenario, connections));
  for (const [index, floor] of floors.entries()) {
    const again = await measure(floor, connections);
    const first = before[index] as Row;
    rows.push({
      ...first,
      requestsPerSecond: Math.round((first.requestsPerSecond + again.requestsPerSecond) / 2),
      recordsPerSecond: Math.round((first.recordsPerSecond + again.recordsPerSecond) / 2),
      nodeMicrosPerRecord: Math.round((first.nodeMicrosPerRecord + again.nodeMicrosPerRecord) / 2),
      postgresMicrosPerRecord: Math.round((first.postgresMicrosPerRecord + again.postgresMicrosPerRecord) / 2),
      p50: Math.max(first.p50, again.p50),
      p99: Math.max(first.p99, again.p99),
      non2xx: first.non2xx + again.non2xx,
      errors: first.errors + again.errors,
      floorRuns: [first.requestsPerSecond, again.requestsPerSecond],
    });
  }
  for (const row of apiRows) {
    const scenario = selected.find((s) => s.name === row.scenario) as Scenario;
    const floorRow = rows.find((r) => r.scenario === scenario.against && r.connections === connections);
    rows.push({
      ...row,
      ratioToFloor: floorRow ? Math.round((100 * row.recordsPerSecond) / floorRow.recordsPerSecond) / 100 : null,
    });
  }
}
const finalRss = rssMegabytes(server.pid as number);

// ---------------------------------------------------------------------------------------------
const header = [
  'scenario',
  'conns',
  'req/s',
  'records/s',
  'node µs/rec',
  'pg µs/rec',
  'p50 ms',
  'p99 ms',
  'non-2xx',
  'errors',
  'RSS MB',
  'x floor',
];
const lines = rows.map((row) => [
  row.scenario,
  String(row.connections),
  String(row.requestsPerSecond),
  String(row.recordsPerSecond),
  String(row.nodeMicrosPerRecord),
  String(row.postgresMicrosPerRecord),
  String(row.p50),
  String(row.p99),
  String(row.non2xx),
  String(row.errors),
  String(row.serverRssMb),
  row.ratioToFloor === null ? '' : row.ratioToFloor.toFixed(2),
]);
const widths = header.map((title, column) =>
  Math.max(title.length, ...lines.map((line) => (line[column] as string).length)),
);
const format = (cells: string[]) =>
  `| ${cells.map((cell, column) => cell.padEnd(widths[column] as number)).join(' | ')} |`;
const environment = {
  contacts: CONTACTS,
  durationSeconds: DURATION,
  database: embedded ? `embedded PostgreSQL ${postgresVersion}` : `DATABASE_URL (PostgreSQL ${postgresVersion})`,
  node: process.version,
  workers: WORKERS,
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
  serverRssAfterRunMb: finalRss,
};
process.stdout.write(
  `\n${environment.database}, ${CONTACTS} contacts, ${DURATION} s per scenario, ${WORKERS} worker(s), node ${process.version}, ${environment.cpus}\n\n`,
);
process.stdout.write(`${format(header)}\n${format(widths.map((width) => '-'.repeat(width)))}\n`);
for (const line of lines) process.stdout.write(`${format(line)}\n`);
process.stdout.write(`\nserver RSS after the run: ${finalRss} MB\n`);
for (const line of webhookFigures) process.stdout.write(`${line}\n`);
for (const connections of CONNECTIONS) {
  const plain = rows.find((row) => row.scenario === 'upsert-update' && row.connections === connections);
  const hooked = rows.find((row) => row.scenario === 'upsert-update-webhook' && row.connections === connections);
  if (plain && hooked) {
    process.stdout.write(
      `upsert-update with one subscription @ ${connections}: ${(hooked.requestsPerSecond / plain.requestsPerSecond).toFixed(2)}× without\n`,
    );
  }
}

for (const connections of CONNECTIONS) {
  const plain = rows.find((row) => row.scenario === 'list-page' && row.connections === connections);
  const searches = rows.filter((row) => row.scenario.startsWith('list-filtered-') && row.connections === connections);
  if (plain === undefined || searches.length === 0) continue;
  process.stdout.write(
    `\nsearch vs list-page @ ${connections} connection(s) (list-page: ${plain.requestsPerSecond} req/s, p50 ${plain.p50} ms, p99 ${plain.p99} ms):\n`,
  );
  for (const row of searches) {
    process.stdout.write(
      `  ${row.scenario.padEnd(28)} ${String(row.requestsPerSecond).padStart(6)} req/s (${(row.requestsPerSecond / plain.requestsPerSecond).toFixed(2)}×)  ` +
        `p50 ${row.p50} ms (${(row.p50 / Math.max(plain.p50, 1)).toFixed(2)}× list-page)  p99 ${row.p99} ms\n`,
    );
  }
}

const resultsDir = path.join(ROOT, 'bench', 'results');
fs.mkdirSync(resultsDir, { recursive: true });
const file = path.join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${CONTACTS}.json`);
fs.writeFileSync(file, `${JSON.stringify({ environment, rows }, null, 2)}\n`);
process.stdout.write(`results: ${path.relative(ROOT, file)}\n`);

await stop(server);
await stop(floor);
receiver.close();
if (args.profile) {
  const profiles = fs.readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile'));
  const newest = profiles
    .map((name) => path.join(profileDir, name))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (newest) process.stdout.write(`\n${summarizeProfile(newest)}\n`);
}
await sql`DROP TABLE IF EXISTS bench_floor_contacts`.execute(db);
// The event log and search tables have no foreign key to organizations (migration 0006 says why), so
// deleting the organization would leave their rows behind: a database benched again would carry
// every earlier run's search entries and events. Referencing tables come last in the placement
// list, so they go first here.
for (const [table, placement] of Object.entries(TABLE_PLACEMENTS).reverse()) {
  if (placement.kind !== 'distributed') continue;
  await sql`DELETE FROM ${sql.table(table)} WHERE organization_id = ${orgId}`.execute(db);
}
await sql`DELETE FROM organizations WHERE id = ${orgId}`.execute(db);
await database.close();
await embedded?.stop();
if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
