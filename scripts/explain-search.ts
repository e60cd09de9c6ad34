/**
 * The plans of the contacts list's searches, on an organization seeded by scripts/seed-search.ts:
 * for each filter (and some combinations) the exact statement the API runs, EXPLAIN (ANALYZE,
 * BUFFERS) of it sent as the API sends it (unnamed, so planned with its values; without parallel
 * workers), and its median time over warm runs, next to the unfiltered list's.
 *
 *   DATABASE_URL=postgres://… tsx scripts/explain-search.ts --organization <id> [--runs 7] [--only tag,q] [--parallel]
 */
import { parseArgs } from 'node:util';
import { CompiledQuery, sql } from 'kysely';
import { listDefinitions } from '../src/contact-fields/custom-field.repository.js';
import { listContactsStatement, searchPlan } from '../src/contacts/contact.repository.js';
import { contactSearch, searchTerms } from '../src/contacts/contact-search.js';
import { connectDatabase } from '../src/db/database.js';
import type { FeedFilter } from '../src/http/feed.js';

const { values: args } = parseArgs({
  options: {
    organization: { type: 'string' },
    runs: { type: 'string', default: '7' },
    only: { type: 'string' },
    limit: { type: 'string', default: '100' },
    // Let searches have parallel workers (and JIT), which the API does not (contact.repository.ts: listContacts).
    parallel: { type: 'boolean', default: false },
  },
});
if (!process.env.DATABASE_URL || !args.organization) {
  throw new Error('Usage: DATABASE_URL=… tsx scripts/explain-search.ts --organization <id>');
}
const organizationId = args.organization;
const RUNS = Number(args.runs);
const LIMIT = Number(args.limit);
const ONLY = args.only ? args.only.split(',') : null;

interface Case {
  name: string;
  params: Record<string, string | string[]>;
  /** Start after this share of the feed (a reader deep into its pages); 0: the first page. */
  deep?: number;
  includeDeleted?: boolean;
  updatedSinceShare?: number;
}

const cases: Case[] = [
  { name: 'unfiltered, first page', params: {} },
  { name: 'unfiltered, deep (after 50 %)', params: {}, deep: 0.5 },
  { name: 'email (primary)', params: { email: 'C654321@bench.test' } },
  { name: 'email (second address)', params: { email: 'w654320@work.test' } },
  { name: 'phone (national, region US)', params: { phone: '(555) 065-4320' } },
  { name: 'phone + include_deleted', params: { phone: '+15550654320' }, includeDeleted: true },
  { name: 'tag 50 % (customer)', params: { tag: ['customer'] } },
  { name: 'tag 50 %, deep', params: { tag: ['customer'] }, deep: 0.5 },
  { name: 'tag 5 % (region-3)', params: { tag: ['region-3'] } },
  { name: 'tag 1 % (vip)', params: { tag: ['vip'] } },
  { name: 'tag 1 %, deep', params: { tag: ['vip'] }, deep: 0.5 },
  { name: 'tag 0.1 % (cohort-7)', params: { tag: ['cohort-7'] } },
  { name: 'tags customer + vip', params: { tag: ['customer', 'vip'] } },
  { name: 'external_ref', params: { external_ref: 'bench:r654321' } },
  { name: 'namespace 10 % (hubspot)', params: { namespace: 'hubspot' } },
  { name: 'namespace 10 %, deep', params: { namespace: 'hubspot' }, deep: 0.5 },
  { name: 'q 11 % (first1)', params: { q: 'first1' } },
  { name: 'q 1.1 % (first42)', params: { q: 'first42' } },
  { name: 'q 0.01 % (first4242)', params: { q: 'first4242' } },
  { name: 'q email prefix (c654321@)', params: { q: 'c654321@' } },
  { name: 'q full name (first4242 last4242)', params: { q: 'first4242 last4242' } },
  { name: 'custom.tier 33 %', params: { 'custom.tier': 'gold' } },
  { name: 'custom.tier 33 %, deep', params: { 'custom.tier': 'gold' }, deep: 0.5 },
  { name: 'custom.industry 2 %', params: { 'custom.industry': 'ind-7' } },
  { name: 'custom.score 1 %', params: { 'custom.score': '42' } },
  { name: 'custom.interests 19 % (multi_select)', params: { 'custom.interests': 'int-3' } },
  { name: 'custom.since 0.07 % (date)', params: { 'custom.since': '2021-05-05' } },
  {
    name: 'combined: tag customer + custom.tier gold + q first1',
    params: { tag: ['customer'], 'custom.tier': 'gold', q: 'first1' },
  },
  {
    name: 'combined: namespace hubspot + custom.industry ind-7',
    params: { namespace: 'hubspot', 'custom.industry': 'ind-7' },
  },
  { name: 'combined: email + tag', params: { email: 'c654320@bench.test', tag: ['customer'] } },
  { name: 'combined: tag vip + updated_since (last 10 %)', params: { tag: ['vip'] }, updatedSinceShare: 0.9 },
];

const database = connectDatabase(process.env.DATABASE_URL, {
  poolSize: 1,
  statementTimeoutMs: 600_000,
  applicationName: 'explain-search',
});
const { db } = database;
// As the API runs searches; one connection (poolSize 1), so the setting holds for every statement below.
if (!args.parallel) {
  await sql`SELECT set_config('max_parallel_workers_per_gather', '0', false), set_config('jit', 'off', false)`.execute(
    db,
  );
}

const total = Number(
  (
    await sql<{ n: string }>`SELECT count(*) AS n FROM feed_positions
      WHERE organization_id = ${organizationId} AND resource_type = 'contact'`.execute(db)
  ).rows[0]?.n ?? 0,
);
process.stdout.write(
  `${(await sql<{ v: string }>`SELECT version() AS v`.execute(db)).rows[0]?.v}\n${total} contacts in ${organizationId}; page size ${LIMIT}; median of ${RUNS} warm runs\n`,
);

async function feedAt(share: number): Promise<{ seq: number; updatedAt: Date }> {
  const row = (
    await sql<{ seq: string; updated_at: Date }>`
      SELECT seq, updated_at FROM feed_positions
      WHERE organization_id = ${organizationId} AND resource_type = 'contact'
      ORDER BY seq OFFSET ${Math.floor(total * share)} LIMIT 1`.execute(db)
  ).rows[0];
  if (row === undefined) throw new Error('empty feed');
  return { seq: Number(row.seq), updatedAt: row.updated_at };
}

const summary: string[] = [];
let unfilteredMs = 0;
for (const testCase of cases) {
  if (ONLY !== null && !ONLY.some((word) => testCase.name.includes(word))) continue;
  // As the query-string schema would hand them over (tag is always a list there).
  const search = await contactSearch(testCase.params, 'US', () => listDefinitions(db, organizationId));
  if (Object.keys(search).length !== Object.keys(testCase.params).length)
    throw new Error(`${testCase.name}: filters lost`);
  const filter: FeedFilter = {
    after: testCase.deep ? { seq: (await feedAt(testCase.deep)).seq } : null,
    updatedSince: testCase.updatedSinceShare ? (await feedAt(testCase.updatedSinceShare)).updatedAt : null,
    includeDeleted: testCase.includeDeleted ?? false,
    search,
    limit: LIMIT,
  };
  // The plan the API would pick (contact.repository.ts: searchPlan); what it measures is not timed below.
  const searched =
    Object.keys(search).length === 0
      ? ({ route: 'feed' } as const)
      : await searchPlan(db, organizationId, searchTerms(search), filter.after?.seq ?? null);
  const route = searched.route;
  const statement = listContactsStatement(db, organizationId, filter, searched);
  // Sent with its parameters and without a name, as the API sends a search: planned with its values.
  const run = (prefix: string) =>
    db.executeQuery(CompiledQuery.raw(`${prefix}${statement.sql}`, [...statement.parameters]));
  for (let warm = 0; warm < 2; warm += 1) await run('');
  const times: number[] = [];
  let rows = 0;
  for (let index = 0; index < RUNS; index += 1) {
    const started = process.hrtime.bigint();
    rows = (await run('')).rows.length;
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] as number;
  if (testCase.name === 'unfiltered, first page') unfilteredMs = median;
  const plan = (await run('EXPLAIN (ANALYZE, BUFFERS) ')).rows.map(
    (row) => (row as { 'QUERY PLAN': string })['QUERY PLAN'],
  );
  process.stdout.write(
    `\n=== ${testCase.name} (${route}): ${JSON.stringify(testCase.params)}${testCase.deep ? ` after ${testCase.deep * 100} %` : ''}\n` +
      `rows ${rows}, median ${median.toFixed(2)} ms (client round trip)\n${plan.join('\n')}\n`,
  );
  summary.push(
    `| ${testCase.name} | ${rows} | ${median.toFixed(2)} | ${unfilteredMs > 0 ? (median / unfilteredMs).toFixed(2) : ''} | ${plan.at(-1)?.replace('Execution Time: ', '')} |`,
  );
}
process.stdout.write(
  `\n| case | rows | median ms | × unfiltered first page | execution time (EXPLAIN ANALYZE) |\n|---|---|---|---|---|\n${summary.join('\n')}\n`,
);
await database.close();
