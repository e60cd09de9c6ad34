import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { Type } from 'typebox';
import { purgeExpiredKeys } from '../../../src/db/idempotency-keys.js';
import { ADMIN_IDEMPOTENCY_SCOPE, IdempotencyHeaders, requestDb } from '../../../src/http/idempotency.js';
import { createTestApp, databaseUrl, request, type TestApp } from '../../helpers/app.js';
import { COMPANIES, CONTACTS, client, type Json, newContact } from '../../helpers/contacts.js';
import { adminHeaders, newOrganization, type TestOrganization } from '../../helpers/factories.js';

/** Keys are stored as their SHA-256, never as sent. */
const hashOf = (key: string) => createHash('sha256').update(key).digest('base64url');

describe('Idempotency-Key', () => {
  let test: TestApp;
  let org: TestOrganization;
  let api: ReturnType<typeof client>;

  before(async () => {
    test = await createTestApp();
    org = await newOrganization(test.app);
    api = client(test.app, org);
  });
  after(() => test.close());

  const key = () => `key-${randomUUID()}`;
  const countContacts = async (organizationId: string, email: string) =>
    Number(
      (
        await sql<{
          n: string;
        }>`SELECT count(*) AS n FROM contacts WHERE organization_id = ${organizationId} AND email = ${email}`.execute(
          test.database.db,
        )
      ).rows[0]?.n,
    );

  it('replays the first answer of a retried create, with its headers, and creates one contact', async () => {
    const idempotencyKey = key();
    const body = { firstName: 'Ada', email: `ada-${idempotencyKey}@example.com` };
    const first = await api.post(CONTACTS, body, { 'idempotency-key': idempotencyKey });
    assert.equal(first.statusCode, 201);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    const second = await api.post(CONTACTS, body, { 'idempotency-key': idempotencyKey });
    assert.equal(second.statusCode, 201);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.body, first.body);
    assert.equal(second.headers.location, first.headers.location);
    assert.equal(second.headers.etag, first.headers.etag);
    assert.match(String(second.headers['content-type']), /^application\/json/);
    assert.equal(await countContacts(org.id, body.email), 1);
  });

  it('answers a keyed write once its event is numbered: the event log and the feed show it at once', async () => {
    for (let round = 0; round < 3; round += 1) {
      const email = `${randomUUID()}@example.com`;
      const created = await api.post(CONTACTS, { firstName: 'Keyed', email }, { 'idempotency-key': key() });
      assert.equal(created.statusCode, 201, created.body);
      const events = await api.get('/api/v1/network/events?types=contact.created&limit=500');
      assert.ok(
        events.json().data.some((event: Json) => event.resourceId === created.json().id),
        'the event is readable as soon as the answer arrives',
      );
      const feed = await api.get(`${CONTACTS}?limit=500`);
      assert.ok(
        feed.json().data.some((contact: Json) => contact.id === created.json().id),
        'and the feed lists it',
      );
    }
  });

  it('treats the same body with its keys in another order as the same request', async () => {
    const idempotencyKey = key();
    const email = `order-${idempotencyKey}@example.com`;
    const first = await request(test.app, {
      method: 'POST',
      url: CONTACTS,
      headers: { ...org.headers, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      payload: `{"firstName":"A","email":"${email}"}`,
    });
    const second = await request(test.app, {
      method: 'POST',
      url: CONTACTS,
      headers: { ...org.headers, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      payload: `{ "email": "${email}", "firstName": "A" }`,
    });
    assert.equal(first.statusCode, 201);
    assert.equal(second.headers['idempotent-replayed'], 'true');
  });

  it('answers 422 when the key was used for a different body or path, and writes nothing', async () => {
    const idempotencyKey = key();
    assert.equal(
      (await api.post(CONTACTS, { firstName: 'One' }, { 'idempotency-key': idempotencyKey })).statusCode,
      201,
    );
    const email = `other-${idempotencyKey}@example.com`;
    const otherBody = await api.post(CONTACTS, { firstName: 'Two', email }, { 'idempotency-key': idempotencyKey });
    assert.equal(otherBody.statusCode, 422);
    assert.equal(otherBody.json().type, '/problems/idempotency-key-reused');
    const otherPath = await api.post(COMPANIES, { name: 'Two AB' }, { 'idempotency-key': idempotencyKey });
    assert.equal(otherPath.statusCode, 422);
    assert.equal(await countContacts(org.id, email), 0);
  });

  it('replays the upsert headers of POST /contacts/upsert', async () => {
    const idempotencyKey = key();
    const body = { firstName: 'Up', email: `up-${idempotencyKey}@example.com` };
    const first = await api.post(`${CONTACTS}/upsert`, body, { 'idempotency-key': idempotencyKey });
    assert.equal(first.statusCode, 201);
    const second = await api.post(`${CONTACTS}/upsert`, body, { 'idempotency-key': idempotencyKey });
    assert.equal(second.statusCode, 201);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.headers['x-propstreet-upsert-action'], 'created');
    assert.equal(second.headers['x-upsert-matched-by'], 'none');
    assert.equal(second.json().new, true);
    assert.equal(await countContacts(org.id, body.email), 1);
  });

  it('keeps a 4xx answer: the retry gets the same 409 even after the conflict is gone', async () => {
    const email = `taken-${randomUUID()}@example.com`;
    const owner = await newContact(api, { email });
    const idempotencyKey = key();
    const first = await api.post(CONTACTS, { firstName: 'Late', email }, { 'idempotency-key': idempotencyKey });
    assert.equal(first.statusCode, 409);
    assert.equal((await api.delete(`${CONTACTS}/${owner.id}`)).statusCode, 204);
    const second = await api.post(CONTACTS, { firstName: 'Late', email }, { 'idempotency-key': idempotencyKey });
    assert.equal(second.statusCode, 409);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.match(String(second.headers['content-type']), /^application\/problem\+json/);
    assert.equal(await countContacts(org.id, email), 1, 'only the deleted owner has the email');
  });

  it('answers 409 with Retry-After while a request with the same key is running', async () => {
    const idempotencyKey = key();
    // Hold the key's lock from another connection, as a request still running elsewhere would.
    const holder = new pg.Client({ connectionString: databaseUrl() });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `idempotency\u001f${org.id}\u001f${idempotencyKey}`,
      ]);
      const response = await api.post(CONTACTS, { firstName: 'Busy' }, { 'idempotency-key': idempotencyKey });
      assert.equal(response.statusCode, 409);
      assert.equal(response.json().type, '/problems/idempotency-key-in-use');
      assert.equal(response.headers['retry-after'], '1');
      await holder.query('ROLLBACK');
      const after = await api.post(CONTACTS, { firstName: 'Busy' }, { 'idempotency-key': idempotencyKey });
      assert.equal(after.statusCode, 201);
    } finally {
      await holder.end();
    }
  });

  it('lets concurrent retries create one contact: each gets the answer or 409, never a second contact', async () => {
    const idempotencyKey = key();
    const body = { firstName: 'Race', email: `race-${idempotencyKey}@example.com` };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => api.post(CONTACTS, body, { 'idempotency-key': idempotencyKey })),
    );
    const statuses = responses.map((response) => response.statusCode);
    assert.ok(
      statuses.every((status) => status === 201 || status === 409),
      statuses.join(','),
    );
    assert.ok(statuses.includes(201));
    const ids = new Set(responses.filter((r) => r.statusCode === 201).map((r) => r.json().id as string));
    assert.equal(ids.size, 1);
    assert.equal(await countContacts(org.id, body.email), 1);
  });

  it('scopes keys to the organization', async () => {
    const other = await newOrganization(test.app);
    const idempotencyKey = key();
    const mine = await api.post(CONTACTS, { firstName: 'Mine' }, { 'idempotency-key': idempotencyKey });
    const theirs = await client(test.app, other).post(
      CONTACTS,
      { firstName: 'Mine' },
      { 'idempotency-key': idempotencyKey },
    );
    assert.equal(mine.statusCode, 201);
    assert.equal(theirs.statusCode, 201);
    assert.equal(theirs.headers['idempotent-replayed'], undefined);
    assert.notEqual(theirs.json().id, mine.json().id);
  });

  it('works for companies and for the admin API', async () => {
    const idempotencyKey = key();
    const company = await api.post(COMPANIES, { name: 'Once AB' }, { 'idempotency-key': idempotencyKey });
    const again = await api.post(COMPANIES, { name: 'Once AB' }, { 'idempotency-key': idempotencyKey });
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.json().id, company.json().id);

    const adminKey = key();
    const send = () =>
      request(test.app, {
        method: 'POST',
        url: '/api/v1/admin/organizations',
        headers: { ...adminHeaders, 'content-type': 'application/json', 'idempotency-key': adminKey },
        payload: { name: `Idempotent ${adminKey.slice(4, 12)}` },
      });
    const created = await send();
    const replayed = await send();
    assert.equal(created.statusCode, 201);
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.equal(replayed.json().id, created.json().id);
    const stored = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM idempotency_keys WHERE organization_id = ${ADMIN_IDEMPOTENCY_SCOPE} AND key_hash = ${hashOf(adminKey)}`.execute(
      test.database.db,
    );
    assert.equal(Number(stored.rows[0]?.n), 1);

    const tokenKey = key();
    const tokenUrl = `/api/v1/admin/organizations/${org.id}/tokens`;
    const sendToken = () =>
      request(test.app, {
        method: 'POST',
        url: tokenUrl,
        headers: { ...adminHeaders, 'content-type': 'application/json', 'idempotency-key': tokenKey },
        payload: { name: 'sync' },
      });
    const token = await sendToken();
    const tokenAgain = await sendToken();
    assert.equal(token.statusCode, 201);
    assert.equal(tokenAgain.json().token, token.json().token);
    const list = await request(test.app, { method: 'GET', url: tokenUrl, headers: adminHeaders });
    assert.equal(list.json().data.filter((t: Json) => t.name === 'sync').length, 1);
    // The stored answer holds the new token, so neither the key nor the answer is stored readable.
    const rows = await sql<{
      key_hash: string;
      response_body: string;
    }>`SELECT key_hash, response_body FROM idempotency_keys WHERE organization_id = ${ADMIN_IDEMPOTENCY_SCOPE}`.execute(
      test.database.db,
    );
    const dump = JSON.stringify(rows.rows);
    assert.ok(!dump.includes(token.json().token), 'the token is not stored in the clear');
    assert.ok(!dump.includes(tokenKey), 'the key is not stored in the clear');
  });

  for (const [what, value] of [
    ['an empty key', ''],
    ['a key of 256 characters', 'k'.repeat(256)],
    ['a key with a non-ASCII character', 'clé'],
    ['a key with a tab', 'a\tb'],
  ] as const) {
    it(`answers 400 naming the header for ${what}`, async () => {
      const response = await request(test.app, {
        method: 'POST',
        url: CONTACTS,
        headers: { ...org.headers, 'content-type': 'application/json', 'idempotency-key': value },
        payload: { firstName: 'Bad key' },
      });
      assert.equal(response.statusCode, 400, response.body);
      assert.ok(response.json().errors['idempotency-key'], response.body);
    });
  }

  it('forgets keys after 24 hours: purged, and a reuse runs as a new request', async () => {
    const idempotencyKey = key();
    const first = await api.post(CONTACTS, { firstName: 'Old' }, { 'idempotency-key': idempotencyKey });
    await sql`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE organization_id = ${org.id} AND key_hash = ${hashOf(idempotencyKey)}`.execute(
      test.database.db,
    );
    const reused = await api.post(CONTACTS, { firstName: 'Old' }, { 'idempotency-key': idempotencyKey });
    assert.equal(reused.statusCode, 201);
    assert.equal(reused.headers['idempotent-replayed'], undefined);
    assert.notEqual(reused.json().id, first.json().id);

    const expiredKey = key();
    await api.post(CONTACTS, { firstName: 'Gone' }, { 'idempotency-key': expiredKey });
    await sql`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE organization_id = ${org.id} AND key_hash = ${hashOf(expiredKey)}`.execute(
      test.database.db,
    );
    assert.ok((await purgeExpiredKeys(test.database.db)) >= 1);
    const left = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM idempotency_keys WHERE organization_id = ${org.id} AND key_hash = ${hashOf(expiredKey)}`.execute(
      test.database.db,
    );
    assert.equal(Number(left.rows[0]?.n), 0);
  });

  it('leaves requests without the header as they were', async () => {
    const body = { firstName: 'Twice', email: `twice-${randomUUID()}@example.com` };
    assert.equal((await api.post(CONTACTS, body)).statusCode, 201);
    assert.equal((await api.post(CONTACTS, body)).statusCode, 409);
  });
});

describe('Idempotency-Key and server errors', () => {
  let test: TestApp;
  let org: TestOrganization;
  let calls = 0;

  before(async () => {
    test = await createTestApp(
      {},
      {
        // Writes a company, then fails the first time as a bug would: the write must not survive.
        routes: (app, database) =>
          app.post(
            '/test/flaky',
            { schema: { headers: IdempotencyHeaders, body: Type.Object({ organizationId: Type.String() }) } },
            async (request, reply) => {
              calls += 1;
              await requestDb(request, database.db)
                .insertInto('companies')
                .values({
                  organization_id: (request.body as { organizationId: string }).organizationId,
                  name: `Flaky ${calls}`,
                } as never)
                .execute();
              if (calls === 1) throw new TypeError('a bug');
              return reply.code(201).send({ calls });
            },
          ),
      },
    );
    org = await newOrganization(test.app);
  });
  after(() => test.close());

  it('keeps no 5xx answer and rolls its write back, so the retry runs afresh', async () => {
    const idempotencyKey = `key-${randomUUID()}`;
    const send = () =>
      request(test.app, {
        method: 'POST',
        url: '/test/flaky',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        payload: { organizationId: org.id },
      });
    const failed = await send();
    assert.equal(failed.statusCode, 500);
    const companies = async () =>
      (
        await sql<{ name: string }>`SELECT name FROM companies WHERE organization_id = ${org.id}`.execute(
          test.database.db,
        )
      ).rows.map((row) => row.name);
    assert.deepEqual(await companies(), []);
    const retried = await send();
    assert.equal(retried.statusCode, 201);
    assert.equal(retried.headers['idempotent-replayed'], undefined);
    assert.deepEqual(await companies(), ['Flaky 2']);
    const replayed = await send();
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replayed.json(), { calls: 2 });
    assert.equal(calls, 2);
  });
});
