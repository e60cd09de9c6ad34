import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { pino } from 'pino';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { connectDatabase, type DatabaseHandle } from '../../../src/db/database.js';
import { createTestApp, databaseUrl, type Response, request, type TestApp } from '../../helpers/app.js';
import { adminHeaders, newOrganization } from '../../helpers/factories.js';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/** Asserts an RFC 9457 document with every standard member, and returns its body. */
function assertProblem(response: Response, status: number, code: string, instance?: string) {
  assert.equal(response.statusCode, status, response.body);
  assert.equal(response.headers['content-type'], PROBLEM_JSON);
  const body = response.json();
  assert.equal(body.type, `/problems/${code}`);
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.detail.length > 0);
  assert.equal(body.traceId, response.headers['x-request-id']);
  if (instance !== undefined) assert.equal(body.instance, instance);
  else assert.equal(typeof body.instance, 'string');
  return body;
}

function assertNothingInternal(response: Response) {
  assert.doesNotMatch(response.body, /postgres(ql)?:\/\/|SELECT |INSERT |stack|\bat .+\.[jt]s:\d+/i);
}

describe('problem+json for framework errors', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ BODY_LIMIT: '2048' });
  });
  after(() => t.close());

  const postOrganization = (payload: string, contentType = 'application/json') =>
    request(t.app, {
      method: 'POST',
      url: '/api/v1/admin/organizations',
      headers: { ...adminHeaders, 'content-type': contentType },
      payload,
    });

  it('answers an unknown route with 404 route-not-found', async () => {
    const body = assertProblem(
      await request(t.app, { method: 'GET', url: '/api/v1/nothing-here?x=1' }),
      404,
      'route-not-found',
      '/api/v1/nothing-here?x=1',
    );
    assert.match(body.detail, /GET \/api\/v1\/nothing-here/);
  });

  it('answers a known path with an unknown method with 404 route-not-found', async () => {
    assertProblem(
      await request(t.app, { method: 'PUT', url: '/api/v1/organization/settings' }),
      404,
      'route-not-found',
    );
  });

  it('answers malformed JSON with 400 malformed-request', async () => {
    assertProblem(await postOrganization('{"name": '), 400, 'malformed-request', '/api/v1/admin/organizations');
  });

  it('answers an empty JSON body with 400 malformed-request', async () => {
    assertProblem(await postOrganization(''), 400, 'malformed-request');
  });

  it('answers a body that is not application/json with 415', async () => {
    assertProblem(
      await postOrganization('name=Acme', 'application/x-www-form-urlencoded'),
      415,
      'unsupported-media-type',
    );
    assertProblem(await postOrganization('<name>Acme</name>', 'application/xml'), 415, 'unsupported-media-type');
  });

  it('answers a text/plain body with 415', async () => {
    assertProblem(await postOrganization('{"name":"Acme"}', 'text/plain'), 415, 'unsupported-media-type');
  });

  it('accepts application/json with a charset', async () => {
    const response = await postOrganization('{"name":"Charset"}', 'application/json; charset=utf-8');
    assert.equal(response.statusCode, 201);
  });

  it('answers a body over BODY_LIMIT with 413', async () => {
    const payload = JSON.stringify({ name: 'x'.repeat(3000) });
    assertProblem(await postOrganization(payload), 413, 'payload-too-large');
  });

  it('accepts a body just under BODY_LIMIT', async () => {
    const payload = JSON.stringify({ name: 'Under the limit', settings: {} }).padEnd(2000, ' ');
    assert.equal((await postOrganization(payload)).statusCode, 201);
  });

  for (const [what, payload] of [
    ['__proto__', '{"name":"Poisoned","__proto__":{"isAdmin":true}}'],
    ['nested __proto__', '{"name":"Poisoned","settings":{"__proto__":{"requireIfMatch":true}}}'],
    ['constructor.prototype', '{"name":"Poisoned","constructor":{"prototype":{"isAdmin":true}}}'],
  ] as const) {
    it(`rejects a body with ${what} with 400 and stores nothing`, async () => {
      const name = `Poisoned ${what}`;
      const response = await postOrganization(payload.replace('"Poisoned"', JSON.stringify(name)));
      assertProblem(response, 400, 'malformed-request');
      const stored = await t.database.db.selectFrom('organizations').select('id').where('name', '=', name).execute();
      assert.deepEqual(stored, []);
    });
  }

  it('answers a validation failure with 400 and every failing field', async () => {
    const response = await postOrganization(JSON.stringify({ settings: { requireIfMatch: 1 }, extra: true }));
    const body = assertProblem(response, 400, 'validation-failed');
    assert.deepEqual(body.errors, {
      name: ['is required'],
      extra: ['is not a known field'],
      'settings.requireIfMatch': ['must be boolean'],
    });
  });

  it('answers a malformed URL with 400 problem+json', async () => {
    assertProblem(await request(t.app, { method: 'GET', url: '/problems/%zz' }), 400, 'malformed-request');
  });
});

describe('problem+json for server-side failures', () => {
  let app: FastifyInstance;
  let database: DatabaseHandle;
  const logLines: Array<Record<string, unknown>> = [];
  let organizationId: string;

  before(async () => {
    const config = loadConfig({
      ADMIN_TOKEN: 'test-admin-token-0123456789',
      RATE_LIMIT_PER_MINUTE: '0',
      DATABASE_URL: databaseUrl(),
    });
    database = connectDatabase(databaseUrl(), { poolSize: 2 });
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
        done();
      },
    });
    app = await buildApp({ config, db: database.db, logger: pino({ level: 'info' }, sink) });
    // Routes that fail the way a buggy or unlucky handler would, to observe the error path end to end.
    app.get('/test/missing-table', async () => sql`SELECT * FROM no_such_table_for_tests`.execute(database.db));
    app.get('/test/duplicate', async () =>
      database.db
        .insertInto('organizations')
        .values({ id: organizationId, name: 'Duplicate', settings: '{}' })
        .execute(),
    );
    app.get('/test/bug', async () => {
      throw new TypeError(`Cannot read properties of undefined (reading 'id') at ${databaseUrl()}`);
    });
    await app.ready();
    organizationId = (await newOrganization(app)).id;
  });
  after(async () => {
    await app.close();
    await database.close();
  });

  it('answers 500 with a generic detail for a failing query and keeps the SQL to the log', async () => {
    const response = await request(app, { method: 'GET', url: '/test/missing-table' });
    const body = assertProblem(response, 500, 'internal-error');
    assert.doesNotMatch(response.body, /no_such_table|relation/);
    assertNothingInternal(response);
    const logged = logLines.find((line) => line.reqId === body.traceId && line.level === 50);
    assert.ok(logged, 'the error is logged with the request id');
    assert.match(JSON.stringify(logged.err), /no_such_table_for_tests/);
  });

  it('answers 409 conflict for a unique violation', async () => {
    const response = await request(app, { method: 'GET', url: '/test/duplicate' });
    assertProblem(response, 409, 'conflict');
    assertNothingInternal(response);
  });

  it('answers 500 for a programming error without its message', async () => {
    const response = await request(app, { method: 'GET', url: '/test/bug' });
    assertProblem(response, 500, 'internal-error');
    assert.doesNotMatch(response.body, /Cannot read|undefined/);
    assertNothingInternal(response);
  });

  it('never writes the token or the admin secret to the log', async () => {
    const organization = await newOrganization(app);
    await request(app, { method: 'GET', url: '/api/v1/organization/settings', headers: organization.headers });
    const log = JSON.stringify(logLines);
    assert.ok(!log.includes(organization.token));
    assert.ok(!log.includes(adminHeaders.authorization.slice('Bearer '.length)));
  });
});

describe('problem+json when the database is unreachable', () => {
  let app: FastifyInstance;
  let database: DatabaseHandle;
  const unreachable = 'postgres://app:db-password-secret@127.0.0.1:1/contacts';

  before(async () => {
    const config = loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_MINUTE: '0', DATABASE_URL: unreachable });
    database = connectDatabase(unreachable, { poolSize: 1 });
    app = await buildApp({ config, db: database.db });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await database.close();
  });

  it('answers /readyz with 503 and Retry-After', async () => {
    const response = await request(app, { method: 'GET', url: '/readyz' });
    assertProblem(response, 503, 'service-unavailable');
    assert.match(String(response.headers['retry-after']), /^\d+$/);
  });

  it('answers an authenticated route with 503 and never shows the connection string', async () => {
    const response = await request(app, {
      method: 'GET',
      url: '/api/v1/organization/settings',
      headers: { authorization: 'Bearer cst_any' },
    });
    assertProblem(response, 503, 'service-unavailable');
    assert.match(String(response.headers['retry-after']), /^\d+$/);
    assert.doesNotMatch(response.body, /db-password-secret|127\.0\.0\.1|ECONNREFUSED/);
    assertNothingInternal(response);
  });
});
