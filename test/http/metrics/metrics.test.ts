import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, createTestApp, request, type TestApp } from '../../helpers/app.js';
import { CONTACTS } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';
import { TEST_DELIVERY } from '../webhooks/helpers.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const SETTINGS = '/api/v1/organization/settings';

const scrape = (t: TestApp, authorization = `Bearer ${METRICS_TOKEN}`) =>
  request(t.app, { method: 'GET', url: '/metrics', headers: { authorization } });

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('GET /metrics', () => {
  let plain: TestApp;
  let measured: TestApp;
  before(async () => {
    plain = await createTestApp();
    measured = await createTestApp({ METRICS_TOKEN, RATE_LIMIT_PER_MINUTE: '2' });
  });
  after(async () => {
    await measured.close();
    await plain.close();
  });

  it('is an unknown route (404 problem) without METRICS_TOKEN', async () => {
    const response = await scrape(plain);
    assert.equal(response.statusCode, 404);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.json().type, '/problems/route-not-found');
  });

  it('counts the events this process numbered and its webhook attempts by outcome', async () => {
    const hooked = await createTestApp(
      { METRICS_TOKEN },
      // The webhook tests' settings: any test app's worker may take any organization's delivery.
      { webhookDelivery: TEST_DELIVERY },
    );
    const endpoint = http.createServer((incoming, response) => {
      incoming.resume();
      // Contacts named "fail" are refused, so one attempt is scheduled again.
      let body = '';
      incoming.on('data', (chunk) => {
        body += chunk;
      });
      incoming.on('end', () => response.writeHead(body.includes('"firstName":"fail"') ? 500 : 204).end());
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    try {
      const before = (await scrape(hooked)).body;
      const org = await newOrganization(hooked.app, {
        scopes: ['contacts.read', 'contacts.write', 'webhooks.read', 'webhooks.write'],
      });
      const created = await request(hooked.app, {
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: org.headers,
        payload: { url: `http://127.0.0.1:${(endpoint.address() as net.AddressInfo).port}/`, events: ['contact.*'] },
      });
      assert.equal(created.statusCode, 201, created.body);
      for (const firstName of ['ok', 'fail']) {
        const response = await request(hooked.app, {
          method: 'POST',
          url: CONTACTS,
          headers: org.headers,
          payload: { firstName },
        });
        assert.equal(response.statusCode, 201);
      }
      const grew = (text: string, series: string, by: number) =>
        (sample(text, series) ?? 0) - (sample(before, series) ?? 0) >= by;
      let text = '';
      for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
        text = (await scrape(hooked)).body;
        if (
          grew(text, 'webhook_delivery_attempts_total{outcome="succeeded"}', 1) &&
          grew(text, 'webhook_delivery_attempts_total{outcome="retrying"}', 1)
        ) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Every app on the test database numbers events, so another one may number this one's first;
      // over a few writes this process numbers some of them itself.
      for (const deadline = Date.now() + 5_000; !grew(text, 'events_numbered_total', 1) && Date.now() < deadline; ) {
        await request(hooked.app, {
          method: 'POST',
          url: CONTACTS,
          headers: org.headers,
          payload: { firstName: 'more' },
        });
        text = (await scrape(hooked)).body;
      }
      assert.ok(grew(text, 'events_numbered_total', 1), text);
      assert.ok(grew(text, 'webhook_delivery_attempts_total{outcome="succeeded"}', 1), text);
      assert.ok(grew(text, 'webhook_delivery_attempts_total{outcome="retrying"}', 1), text);
      assert.notEqual(sample(text, 'webhook_delivery_attempts_total{outcome="failed"}'), undefined);
    } finally {
      await new Promise((resolve) => endpoint.close(resolve));
      await hooked.close();
    }
  });

  it('counts upserts by route and action, and batch sizes, leaving out replays and validate-only runs', async () => {
    const counted = await createTestApp({ METRICS_TOKEN });
    try {
      const org = await newOrganization(counted.app);
      const send = (method: 'PATCH' | 'POST', url: string, payload: unknown, headers: Record<string, string> = {}) =>
        request(counted.app, { method, url, headers: { ...org.headers, ...headers }, payload: payload as object });
      const before = (await scrape(counted)).body;
      const grown = (text: string, series: string) => (sample(text, series) ?? 0) - (sample(before, series) ?? 0);
      const byRef = `${CONTACTS}/external/hubspot/${randomUUID()}`;
      assert.equal((await send('PATCH', byRef, { firstName: 'Ada' })).statusCode, 201);
      assert.equal((await send('PATCH', byRef, { firstName: 'Bea' })).statusCode, 200);
      const key = { 'idempotency-key': randomUUID() };
      const email = `${randomUUID()}@example.com`;
      assert.equal((await send('POST', `${CONTACTS}/upsert`, { email }, key)).statusCode, 201);
      const replay = await send('POST', `${CONTACTS}/upsert`, { email }, key);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      const items = [
        { externalRef: { namespace: 'hubspot', id: randomUUID() }, data: { firstName: 'One' } },
        { externalRef: { namespace: 'hubspot', id: randomUUID() }, data: { firstName: 'Two' } },
        { externalRef: { namespace: 'hubspot', id: randomUUID() }, data: { email: 'not an email' } },
      ];
      assert.equal((await send('POST', `${CONTACTS}/batch`, { items })).statusCode, 207);
      assert.equal((await send('POST', `${CONTACTS}/batch`, { items, validateOnly: true })).statusCode, 207);

      const text = (await scrape(counted)).body;
      const single = '/api/v1/network/contacts/external/:namespace/:id';
      assert.equal(grown(text, `upserts_total{route="${single}",action="created"}`), 1, text);
      assert.equal(grown(text, `upserts_total{route="${single}",action="updated"}`), 1);
      assert.equal(grown(text, 'upserts_total{route="/api/v1/network/contacts/upsert",action="created"}'), 1);
      const batch = '/api/v1/network/contacts/batch';
      assert.equal(grown(text, `upserts_total{route="${batch}",action="created"}`), 2);
      assert.equal(grown(text, `upserts_total{route="${batch}",action="failed"}`), 1);
      assert.equal(grown(text, `batch_items_count{route="${batch}"}`), 1);
      assert.equal(grown(text, `batch_items_sum{route="${batch}"}`), 3);
    } finally {
      await counted.close();
    }
  });

  it('answers 401 problem to a missing or wrong token', async () => {
    for (const authorization of ['', `Bearer ${METRICS_TOKEN}x`, `Bearer ${ADMIN_TOKEN}`]) {
      const response = await scrape(measured, authorization);
      assert.equal(response.statusCode, 401, authorization);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().type, '/problems/unauthorized');
      assert.match(String(response.headers['www-authenticate']), /^Bearer /);
    }
  });

  it('reports requests by route pattern and status, latency, rate-limit decisions and the event loop', async () => {
    const organization = await newOrganization(plain.app);
    const contactId = randomUUID();
    const get = (url: string) => request(measured.app, { method: 'GET', url, headers: organization.headers });
    assert.equal((await get(SETTINGS)).statusCode, 200);
    assert.equal((await get(`${CONTACTS}/${contactId}`)).statusCode, 404);
    assert.equal((await get(SETTINGS)).statusCode, 429);
    assert.equal((await get('/no/such/route')).statusCode, 404);

    const response = await scrape(measured);
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = response.body;
    const settings = 'method="GET",route="/api/v1/organization/settings"';
    assert.equal(sample(text, `http_requests_total{${settings},status_code="200"}`), 1);
    assert.equal(sample(text, `http_requests_total{${settings},status_code="429"}`), 1);
    assert.equal(
      sample(text, 'http_requests_total{method="GET",route="/api/v1/network/contacts/:id",status_code="404"}'),
      1,
    );
    assert.equal(sample(text, 'http_requests_total{method="GET",route="unmatched",status_code="404"}'), 1);
    assert.ok(!text.includes(contactId), 'a raw URL became a label');
    assert.equal(sample(text, `http_request_duration_seconds_count{${settings},status_code="200"}`), 1);
    assert.equal(sample(text, `http_request_duration_seconds_bucket{le="+Inf",${settings},status_code="200"}`), 1);
    assert.equal(sample(text, 'rate_limit_decisions_total{decision="allowed"}'), 2);
    assert.equal(sample(text, 'rate_limit_decisions_total{decision="limited"}'), 1);
    assert.equal(sample(text, 'rate_limit_store_errors_total'), 0);
    assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== undefined, 'no event-loop lag');
  });

  it('reports the database pool of its process', async () => {
    const t = await createTestApp({ METRICS_TOKEN });
    try {
      await request(t.app, { method: 'GET', url: '/readyz' });
      const text = (
        await request(t.app, { method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
      ).body;
      const total = sample(text, 'db_pool_total_connections');
      assert.ok(total !== undefined && total >= 1, `db_pool_total_connections ${total}`);
      assert.ok(sample(text, 'db_pool_idle_connections') !== undefined);
      assert.equal(sample(text, 'db_pool_waiting_clients'), 0);
    } finally {
      await t.close();
    }
  });

  it('counts requests served unchecked when Redis is unreachable (fail open), without a 500', async () => {
    const unreachable = await createTestApp({
      METRICS_TOKEN,
      RATE_LIMIT_PER_MINUTE: '1',
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
    });
    try {
      const organization = await newOrganization(plain.app);
      for (let i = 0; i < 3; i += 1) {
        const response = await request(unreachable.app, {
          method: 'GET',
          url: SETTINGS,
          headers: organization.headers,
        });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers.ratelimit, undefined, 'no limit was measured');
      }
      const text = (await scrape(unreachable)).body;
      assert.equal(sample(text, 'rate_limit_store_errors_total'), 3);
      assert.equal(sample(text, 'rate_limit_decisions_total{decision="allowed"}'), 0);
    } finally {
      await unreachable.close();
    }
  });

  it('keeps a registry per app, so two apps in one process each count their own', async () => {
    const second = await createTestApp({ METRICS_TOKEN });
    try {
      await request(second.app, { method: 'GET', url: '/healthz' });
      const text = (await scrape(second)).body;
      assert.equal(sample(text, 'http_requests_total{method="GET",route="/healthz",status_code="200"}'), 1);
      assert.equal(
        sample(text, 'http_requests_total{method="GET",route="/api/v1/organization/settings",status_code="200"}'),
        undefined,
      );
    } finally {
      await second.close();
    }
  });
});
