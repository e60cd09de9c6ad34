import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createTestApp, databaseUrl, type Response, request, type TestApp } from '../helpers/app.js';
import { CONTACTS, client, newContact, refPath } from '../helpers/contacts.js';
import { adminHeaders, newOrganization, type TestOrganization } from '../helpers/factories.js';
import { type FreezableProxy, startFreezableProxy } from '../helpers/freezable-proxy.js';

/** An app whose connections carry their own application_name, so the test can kill exactly those. */
function faultApp(url: string, applicationName: string, env: Record<string, string> = {}): Promise<TestApp> {
  return createTestApp({ DATABASE_URL: url, ...env }, { pool: { poolSize: 8, applicationName } });
}

function assertUnavailable(response: Response, context: string): void {
  assert.equal(response.statusCode, 503, `${context}: ${response.statusCode} ${response.body}`);
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/, context);
  assert.match(String(response.headers['retry-after']), /^\d+$/, context);
  assert.equal(response.json().type, '/problems/service-unavailable');
}

async function terminateBackends(applicationName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
  try {
    const result = await admin.query(
      'SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) AS killed',
      [applicationName],
    );
    return result.rows[0].n as number;
  } finally {
    await admin.end();
  }
}

describe('database faults: connections terminated under load', () => {
  const applicationName = `contacts-api-fault-${randomUUID().slice(0, 8)}`;
  let fault: TestApp;
  let org: TestOrganization;
  let contactId: string;

  before(async () => {
    fault = await faultApp(databaseUrl(), applicationName);
    org = await newOrganization(fault.app);
    contactId = (await newContact(client(fault.app, org), { email: 'fault@example.com' })).id;
  });
  after(() => fault.close());

  it('answers 200 or 503 with Retry-After while its backends are killed, and recovers within a second', async () => {
    const api = client(fault.app, org);
    let running = true;
    const statuses = new Map<number, number>();
    const problems: string[] = [];
    const worker = async (index: number) => {
      for (let round = 0; running; round += 1) {
        const response =
          index % 4 === 0
            ? await api.get(`${CONTACTS}/${contactId}`)
            : index % 4 === 2
              ? await api.get(`/api/v1/network/events?limit=10&after=${round}`)
              : await api.patch(refPath('fault', `w${index}-${round % 5}`), { firstName: `Round ${round}` });
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        if (response.statusCode === 503) {
          try {
            assertUnavailable(response, 'during the fault');
          } catch (error) {
            problems.push(String(error));
          }
        } else if (response.statusCode !== 200 && response.statusCode !== 201) {
          problems.push(`${response.statusCode} ${response.body}`);
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, index) => worker(index));
    let killed = 0;
    for (let round = 0; round < 6; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      killed += await terminateBackends(applicationName);
    }
    running = false;
    await Promise.all(workers);
    assert.ok(killed > 0, 'the test killed some connections');
    assert.deepEqual(problems, [], `statuses: ${JSON.stringify([...statuses])}`);

    // The pool heals by itself: the next requests open fresh connections.
    await terminateBackends(applicationName);
    const started = performance.now();
    let response = await api.get(`${CONTACTS}/${contactId}`);
    while (response.statusCode !== 200 && performance.now() - started < 1_000) {
      response = await api.get(`${CONTACTS}/${contactId}`);
    }
    assert.equal(response.statusCode, 200, `a request succeeds within 1 s of the fault: ${response.body}`);
  });
});

describe('database faults: a database that stops answering', () => {
  const applicationName = `contacts-api-frozen-${randomUUID().slice(0, 8)}`;
  const STATEMENT_TIMEOUT_MS = 1_000;
  const CHECKOUT_TIMEOUT_MS = 500;
  let proxy: FreezableProxy;
  let fault: TestApp;
  let org: TestOrganization;
  let contactId: string;
  let hooks: TestOrganization;
  let webhookId: string;
  let profile: TestOrganization;

  before(async () => {
    proxy = await startFreezableProxy(databaseUrl());
    fault = await faultApp(proxy.url, applicationName, {
      DATABASE_STATEMENT_TIMEOUT: String(STATEMENT_TIMEOUT_MS),
      DATABASE_CHECKOUT_TIMEOUT: String(CHECKOUT_TIMEOUT_MS),
    });
    org = await newOrganization(fault.app);
    contactId = (await newContact(client(fault.app, org))).id;
    hooks = await newOrganization(fault.app, { scopes: ['contacts.read', 'webhooks.read', 'webhooks.write'] });
    const webhook = await client(fault.app, hooks).post('/api/v1/webhooks', {
      url: 'http://127.0.0.1:9/frozen',
      events: ['contact.*'],
    });
    assert.equal(webhook.statusCode, 201, webhook.body);
    webhookId = webhook.json().id;
    profile = await newOrganization(fault.app, { scopes: ['contacts.read', 'contacts.write', 'settings.write'] });
    const field = await client(fault.app, profile).post('/api/v1/network/contact-fields', {
      key: 'budget',
      label: 'Budget',
      type: 'number',
    });
    assert.equal(field.statusCode, 201, field.body);
  });
  after(async () => {
    proxy.thaw();
    await fault.close();
    await proxy.close();
  });

  it('answers 503 within the statement timeout, fails /readyz, and serves again once it answers', async () => {
    const api = client(fault.app, org);
    assert.equal((await api.get(`${CONTACTS}/${contactId}`)).statusCode, 200);
    proxy.freeze();
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 12 }, () => api.get(`${CONTACTS}/${contactId}`)));
    const elapsed = performance.now() - started;
    for (const response of responses) assertUnavailable(response, 'frozen database');
    // Bounded by the two limits (a request may wait for a connection, then for its statement), with slack for CI.
    assert.ok(
      elapsed < STATEMENT_TIMEOUT_MS + CHECKOUT_TIMEOUT_MS + 2_000,
      `503s came after ${Math.round(elapsed)} ms`,
    );
    assertUnavailable(await request(fault.app, { method: 'GET', url: '/readyz' }), '/readyz');
    // The operator routes and the replay, which waits for a webhook's head in a loop, give up too.
    const json = { ...adminHeaders, 'content-type': 'application/json' };
    assertUnavailable(
      await request(fault.app, { method: 'GET', url: '/api/v1/admin/organizations?name=a', headers: adminHeaders }),
      'organization list',
    );
    assertUnavailable(
      await request(fault.app, {
        method: 'POST',
        url: `/api/v1/admin/organizations/${org.id}/tokens/${randomUUID()}/rotate`,
        headers: json,
        payload: JSON.stringify({ graceSeconds: 60 }),
      }),
      'token rotation',
    );
    assertUnavailable(
      await client(fault.app, hooks).post(`/api/v1/webhooks/${webhookId}/replay`, { fromSeq: 1, toSeq: 2 }),
      'webhook replay',
    );
    // The contact profile's routes: custom field definitions, a write that locks them and names a
    // company, and a search that reads definitions and runs in its own transaction.
    const settings = client(fault.app, profile);
    const FIELDS = '/api/v1/network/contact-fields';
    const profileCalls: Array<[string, Promise<Response>]> = [
      ['contact-fields list', settings.get(FIELDS)],
      ['contact-field create', settings.post(FIELDS, { key: 'segment', label: 'Segment', type: 'text' })],
      ['contact-field update', settings.patch(`${FIELDS}/budget`, { label: 'Budget (SEK)' })],
      ['contact-field delete', settings.delete(`${FIELDS}/budget`)],
      [
        'contact with custom fields',
        settings.post(CONTACTS, { companyName: 'Frozen AB', customFields: { budget: 1 } }),
      ],
      ['contact search', settings.get(`${CONTACTS}?tag=vip&q=an&custom.budget=1`)],
    ];
    for (const [name, call] of profileCalls) assertUnavailable(await call, name);

    proxy.thaw();
    const thawed = performance.now();
    let response = await api.get(`${CONTACTS}/${contactId}`);
    while (response.statusCode !== 200 && performance.now() - thawed < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      response = await api.get(`${CONTACTS}/${contactId}`);
    }
    assert.equal(response.statusCode, 200, `serves again after the database answers: ${response.body}`);
    assert.equal((await request(fault.app, { method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});

describe('database faults: a database that cannot be reached', () => {
  let fault: TestApp;

  before(async () => {
    fault = await faultApp('postgres://app:secret@127.0.0.1:1/contacts', 'contacts-api-unreachable');
  });
  after(() => fault.close());

  it('answers 503 with Retry-After at once', async () => {
    const started = performance.now();
    const response = await request(fault.app, {
      method: 'GET',
      url: CONTACTS,
      headers: { authorization: 'Bearer cs_live_x' },
    });
    assertUnavailable(response, 'unreachable');
    assert.ok(performance.now() - started < 2_000);
  });
});
