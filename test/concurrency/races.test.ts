/**
 * The promise sync clients rely on: whatever runs in parallel, one key yields one contact and no
 * update is lost. Each scenario runs once against one app and once with the requests alternating
 * between two real server processes on the same PostgreSQL (the guarantees live in the database).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, createTestApp, databaseUrl, type TestApp } from '../helpers/app.js';
import { killServers, startServer } from '../helpers/process.js';

interface Sent {
  status: number;
  headers: Record<string, string>;
  body: any;
}

type Send = (method: string, url: string, headers: Record<string, string>, payload?: unknown) => Promise<Sent>;

function injectClient(t: TestApp): Send {
  return async (method, url, headers, payload) => {
    const response = await t.app.inject({ method: method as 'GET', url, headers, payload: payload as object });
    return {
      status: response.statusCode,
      headers: response.headers as Record<string, string>,
      body: response.body ? response.json() : null,
    };
  };
}

function httpClient(baseUrl: string): Send {
  return async (method, url, headers, payload) => {
    const response = await fetch(`${baseUrl}${url}`, {
      method,
      headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers.entries()),
      body: text ? JSON.parse(text) : null,
    };
  };
}

/** Spreads requests over the clients in turn, as a load balancer in front of several servers would. */
function roundRobin(clients: Send[]): (index: number) => Send {
  return (index) => clients[index % clients.length] as Send;
}

async function newTenant(send: Send): Promise<Record<string, string>> {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const organization = await send('POST', '/api/v1/admin/organizations', admin, { name: `Race ${randomUUID()}` });
  assert.equal(organization.status, 201);
  const token = await send('POST', `/api/v1/admin/organizations/${organization.body.id}/tokens`, admin, {});
  assert.equal(token.status, 201);
  return { authorization: `Bearer ${token.body.token}` };
}

function countBy(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

function scenarios(label: string, clients: () => Send[]) {
  describe(label, () => {
    it('creates exactly one contact from 50 concurrent upserts of one new external reference', async () => {
      const pick = roundRobin(clients());
      const auth = await newTenant(pick(0));
      const url = `/api/v1/network/contacts/external/hubspot/${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          pick(i)('PATCH', url, auth, {
            firstName: 'Race',
            lastName: 'Winner',
            email: `race-${randomUUID()}@example.com`.replace(/race-.*@/, 'same@'),
          }),
        ),
      );
      assert.deepEqual(countBy(results.map((r) => r.status)), { 200: 49, 201: 1 });
      const actions = results.map((r) => r.headers['x-propstreet-upsert-action']);
      assert.equal(actions.filter((action) => action === 'created').length, 1);
      assert.equal(actions.filter((action) => action === 'updated').length, 49);
      assert.equal(new Set(results.map((r) => r.body.id)).size, 1);
      assert.equal(new Set(results.map((r) => r.headers.etag)).size, 1, 'repeats of one body change nothing');
      assert.equal(await waitForCount(pick(0), auth, 1), 1);
    });

    it('lets exactly one of 20 concurrent PATCHes with the same If-Match win', async () => {
      const pick = roundRobin(clients());
      const auth = await newTenant(pick(0));
      const created = await pick(0)('POST', '/api/v1/network/contacts', auth, { firstName: 'Original' });
      assert.equal(created.status, 201);
      const etag = created.headers.etag as string;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          pick(i)(
            'PATCH',
            `/api/v1/network/contacts/${created.body.id}`,
            { ...auth, 'if-match': etag },
            { firstName: `Writer ${i}` },
          ),
        ),
      );
      assert.deepEqual(countBy(results.map((r) => r.status)), { 200: 1, 412: 19 });
      const winner = results.find((r) => r.status === 200) as Sent;
      const stored = await pick(1)('GET', `/api/v1/network/contacts/${created.body.id}`, auth);
      assert.equal(stored.body.firstName, winner.body.firstName);
      assert.equal(stored.headers.etag, winner.headers.etag);
    });

    it('accepts one of several concurrent creates with one email in different cases and answers 409 to the rest', async () => {
      const pick = roundRobin(clients());
      const auth = await newTenant(pick(0));
      const local = `dup-${randomUUID().slice(0, 8)}`;
      const variants = [`${local}@example.com`, `${local.toUpperCase()}@EXAMPLE.COM`, `${local}@Example.Com`];
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          pick(i)('POST', '/api/v1/network/contacts', auth, { firstName: `Twin ${i}`, email: variants[i % 3] }),
        ),
      );
      assert.deepEqual(countBy(results.map((r) => r.status)), { 201: 1, 409: 11 });
      const winner = results.find((r) => r.status === 201) as Sent;
      for (const conflict of results.filter((r) => r.status === 409)) {
        assert.equal(conflict.headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal(conflict.body.conflictField, 'email');
        assert.equal(conflict.body.conflictingContactId, winner.body.id);
      }
    });

    it('creates one contact when 20 email/phone upserts with the same new email race', async () => {
      const pick = roundRobin(clients());
      const auth = await newTenant(pick(0));
      const email = `match-${randomUUID()}@example.com`;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          pick(i)('POST', '/api/v1/network/contacts/upsert', auth, { email, tags: [`call-${i}`] }),
        ),
      );
      assert.deepEqual(countBy(results.map((r) => r.status)), { 200: 19, 201: 1 });
      assert.equal(new Set(results.map((r) => r.body.contact.id)).size, 1);
      assert.equal(results.filter((r) => r.body.new === true).length, 1);
    });

    it('never lets an email/phone upsert undo a concurrent change of the matched email', async () => {
      const pick = roundRobin(clients());
      const auth = await newTenant(pick(0));
      for (let round = 0; round < 15; round += 1) {
        const [before, moved] = [`before-${randomUUID()}@example.com`, `moved-${randomUUID()}@example.com`];
        const created = await pick(0)('POST', '/api/v1/network/contacts', auth, { firstName: 'X', email: before });
        assert.equal(created.status, 201);
        const [patched, upserted] = await Promise.all([
          pick(round)('PATCH', `/api/v1/network/contacts/${created.body.id}`, auth, { email: moved }),
          pick(round + 1)('POST', '/api/v1/network/contacts/upsert', auth, { email: before, lastName: 'Matched' }),
        ]);
        assert.equal(patched.status, 200);
        assert.ok(upserted.status === 200 || upserted.status === 201, `upsert answered ${upserted.status}`);
        const stored = await pick(0)('GET', `/api/v1/network/contacts/${created.body.id}`, auth);
        // Either order is fine, but the PATCH's email must survive: the upsert ran first (and
        // updated the contact) or ran after (and, the email gone, created a new contact).
        assert.equal(stored.body.email, moved);
        if (upserted.status === 200) {
          assert.equal(upserted.body.contact.id, created.body.id);
          assert.equal(stored.body.lastName, 'Matched');
        } else {
          assert.notEqual(upserted.body.contact.id, created.body.id);
          assert.equal(upserted.body.contact.email, before);
        }
      }
    });

    it('never answers 5xx while upserts of overlapping references race with deletes and revivals', async () => {
      const pick = roundRobin(clients());
      const auth = await newTenant(pick(0));
      const refs = Array.from({ length: 4 }, () => randomUUID());
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const ref = refs[i % refs.length] as string;
          return pick(i)('PATCH', `/api/v1/network/contacts/external/pipedrive/${ref}`, auth, {
            lastName: `Round ${i % 3}`,
          });
        }),
      );
      assert.ok(
        results.every((r) => r.status === 200 || r.status === 201),
        JSON.stringify(countBy(results.map((r) => r.status))),
      );
      assert.equal(results.filter((r) => r.status === 201).length, refs.length);
      const ids = new Set(results.map((r) => r.body.id));
      assert.equal(ids.size, refs.length);
      const churn = await Promise.all(
        [...ids].flatMap((id, i) => [
          pick(i)('DELETE', `/api/v1/network/contacts/${id}`, auth),
          pick(i + 1)('PATCH', `/api/v1/network/contacts/external/pipedrive/${refs[i]}`, auth, { firstName: 'Back' }),
        ]),
      );
      assert.ok(
        churn.every((r) => r.status < 500),
        JSON.stringify(churn.map((r) => r.status)),
      );
      assert.equal(await waitForCount(pick(0), auth, refs.length), refs.length);
    });

    it('runs overlapping batches in opposite orders without a deadlock or a duplicate', async () => {
      const pick = roundRobin(clients());
      const auth = await newTenant(pick(0));
      const refs = Array.from({ length: 20 }, () => randomUUID());
      const emails = Array.from({ length: 10 }, (_, i) => `batch-${i}-${randomUUID()}@example.com`);
      const items = [
        ...refs.map((id) => ({ externalRef: { namespace: 'salesforce', id }, data: { firstName: 'Batch' } })),
        ...emails.map((email) => ({ data: { firstName: 'Match', email } })),
      ];
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          pick(i)('POST', '/api/v1/network/contacts/batch', auth, {
            items: i % 2 === 0 ? items : [...items].reverse(),
          }),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(8).fill(200),
        JSON.stringify(results.filter((r) => r.status !== 200).map((r) => r.body)),
      );
      const itemResults = results.flatMap((r) => r.body.results as Array<{ status: number; id: string }>);
      assert.ok(itemResults.every((r) => r.status === 200 || r.status === 201));
      assert.equal(itemResults.filter((r) => r.status === 201).length, refs.length + emails.length);
      assert.equal(new Set(itemResults.map((r) => r.id)).size, refs.length + emails.length);
      assert.equal(await waitForCount(pick(0), auth, refs.length + emails.length), refs.length + emails.length);
    });
  });
}

/** Contacts of the tenant, live or deleted, once every concurrent write is visible to the feed. */
async function waitForCount(send: Send, auth: Record<string, string>, expected: number): Promise<number> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const list = await send('GET', '/api/v1/network/contacts?limit=500&include_deleted=true', auth);
    const count = list.body.data.length as number;
    if (count === expected || Date.now() > deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('concurrent writers', () => {
  let single: TestApp;
  const servers: Send[] = [];

  before(async () => {
    single = await createTestApp();
    const env = { DATABASE_URL: databaseUrl(), RATE_LIMIT_PER_MINUTE: '0' };
    const [first, second] = [startServer(env), startServer(env)];
    servers.push(httpClient(await first.listening()), httpClient(await second.listening()));
  });

  after(async () => {
    await single.close();
    await killServers();
  });

  scenarios('in one server', () => [injectClient(single)]);
  scenarios('across two server processes on one PostgreSQL', () => servers);
});
