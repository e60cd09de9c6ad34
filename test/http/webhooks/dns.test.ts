import assert from 'node:assert/strict';
import dns from 'node:dns';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { client } from '../../helpers/contacts.js';
import {
  createWebhook,
  type DnsServer,
  type Receiver,
  startDnsServer,
  startReceiver,
  TEST_DELIVERY,
  WEBHOOKS,
  webhookOrganization,
} from './helpers.js';

const TIMEOUT_MS = TEST_DELIVERY.timeoutMs as number;

describe('webhooks: resolving endpoint hosts', () => {
  let server: DnsServer;
  let receiver: Receiver;
  let open: TestApp;
  let strict: TestApp;
  before(async () => {
    server = await startDnsServer({
      'hooks.webhooks.test': ['127.0.0.1'],
      'private.webhooks.test': ['10.1.2.3'],
      'blackholed.webhooks.test': 'never',
    });
    receiver = await startReceiver();
    // Background workers off (they would take other files' deliveries): these tests send test events,
    // which resolve hosts as deliveries do, through the test DNS server.
    const delivery = { ...TEST_DELIVERY, enabled: false, dnsServers: [server.address] };
    open = await createTestApp({}, { webhookDelivery: delivery });
    strict = await createTestApp({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' }, { webhookDelivery: delivery });
  });
  after(async () => {
    await strict.close();
    await open.close();
    await receiver.close();
    await server.close();
  });

  /** The receiver's URL with `host` in place of 127.0.0.1. */
  const urlAt = (host: string) => receiver.url.replace('127.0.0.1', host);

  it('resolves the host through DNS and connects to the address it answers', async () => {
    const { api } = await webhookOrganization(open.app);
    const webhook = await createWebhook(api, { url: urlAt('hooks.webhooks.test') });
    const before = receiver.received.length;
    const test = await api.post(`${WEBHOOKS}/${webhook.id}/test`, {});
    assert.equal(test.statusCode, 200, test.body);
    assert.equal(test.json().outcome, 'succeeded', test.body);
    assert.equal(receiver.received.length, before + 1);
    assert.ok(
      server.queries.some((query) => query.name === 'hooks.webhooks.test' && query.type === 'A'),
      JSON.stringify(server.queries),
    );
  });

  it('answers localhost itself, without asking DNS', async () => {
    const { api } = await webhookOrganization(open.app);
    const webhook = await createWebhook(api, { url: urlAt('localhost') });
    const test = await api.post(`${WEBHOOKS}/${webhook.id}/test`, {});
    assert.equal(test.json().outcome, 'succeeded', test.body);
    assert.ok(!server.queries.some((query) => query.name === 'localhost'));
  });

  it('gives up on a name whose DNS never answers within the timeout, and holds no thread meanwhile', async () => {
    const { api } = await webhookOrganization(open.app);
    const blackholed = await createWebhook(api, { url: urlAt('blackholed.webhooks.test') });
    const working = await createWebhook(api, { url: urlAt('hooks.webhooks.test') });
    // More lookups than libuv has threads (4): getaddrinfo would queue everything behind them.
    const stuck = Array.from({ length: 6 }, () => api.post(`${WEBHOOKS}/${blackholed.id}/test`, {}));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await dns.promises.lookup('localhost');
    assert.ok(Date.now() - started < 500, 'a lookup on the thread pool is not held up');
    const meanwhile = await api.post(`${WEBHOOKS}/${working.id}/test`, {});
    assert.equal(meanwhile.json().outcome, 'succeeded', meanwhile.body);
    for (const response of await Promise.all(stuck)) {
      const attempt = response.json();
      assert.equal(attempt.outcome, 'failed', response.body);
      assert.equal(attempt.statusCode, null);
      assert.match(
        attempt.error,
        /the DNS lookup of blackholed\.webhooks\.test got no answer in time|no answer within/,
      );
      assert.ok(attempt.durationMs < TIMEOUT_MS + 1_000, `took ${attempt.durationMs} ms`);
    }
  });

  it('refuses a name that resolves to a private address, when saved and when sent', async () => {
    const { org, api } = await webhookOrganization(open.app);
    const url = urlAt('private.webhooks.test');
    const refused = await client(strict.app, org).post(WEBHOOKS, { url, events: ['*'] });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.match(
      refused.json().errors.url[0],
      /private\.webhooks\.test resolves to 10\.1\.2\.3, which is in a private range/,
    );

    // Saved where private networks are allowed; sent from where they are not.
    const webhook = await createWebhook(api, { url });
    const test = await client(strict.app, org).post(`${WEBHOOKS}/${webhook.id}/test`, {});
    assert.equal(test.json().outcome, 'failed', test.body);
    assert.match(test.json().error, /private\.webhooks\.test resolves to 10\.1\.2\.3, which is in a private range/);
  });
});
