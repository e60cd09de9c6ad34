import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { client } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';
import {
  createWebhook,
  type Receiver,
  startReceiver,
  TEST_DELIVERY,
  useWebhookTestApp,
  verify,
  WEBHOOKS,
  webhookOrganization,
} from './helpers.js';

const WEBHOOK_FIELDS = [
  'createdUtc',
  'description',
  'disabledReason',
  'enabled',
  'events',
  'excludeOrigins',
  'failingSinceUtc',
  'id',
  'updatedUtc',
  'url',
];

describe('webhooks: create, read, change, delete', () => {
  const context = useWebhookTestApp();
  let receiver: Receiver;
  before(async () => {
    receiver = await context.receiver();
  });

  it('answers 201 with the secret once, and never shows it again', async () => {
    const { api } = await webhookOrganization(context.app);
    const response = await api.post(WEBHOOKS, {
      url: receiver.url,
      events: ['contact.*', 'company.deleted'],
      excludeOrigins: ['HubSpot', 'hubspot', 'sync.v2'],
      description: 'CRM mirror',
    });
    assert.equal(response.statusCode, 201, response.body);
    const created = response.json();
    assert.deepEqual(Object.keys(created).sort(), [...WEBHOOK_FIELDS, 'secret'].sort());
    assert.equal(response.headers.location, `${WEBHOOKS}/${created.id}`);
    assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(created.secret.slice(6), 'base64').length, 32);
    assert.equal(created.url, receiver.url);
    assert.deepEqual(created.events, ['contact.*', 'company.deleted']);
    assert.deepEqual(created.excludeOrigins, ['hubspot', 'sync.v2']);
    assert.equal(created.description, 'CRM mirror');
    assert.equal(created.enabled, true);
    assert.equal(created.disabledReason, null);
    assert.equal(created.failingSinceUtc, null);

    const read = await api.get(`${WEBHOOKS}/${created.id}`);
    assert.equal(read.statusCode, 200);
    assert.deepEqual(Object.keys(read.json()).sort(), WEBHOOK_FIELDS);
    const { secret, ...shown } = created;
    assert.deepEqual(read.json(), shown);
    const list = await api.get(WEBHOOKS);
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json(), { data: [shown] });
    assert.ok(!list.body.includes(secret.slice(6)) && !read.body.includes(secret.slice(6)));
  });

  it('changes fields with PATCH, keeps the others, and deletes with 204', async () => {
    const { api } = await webhookOrganization(context.app);
    const created = await createWebhook(api, { url: receiver.url, events: ['contact.created'], description: 'x' });
    const patched = await api.patch(`${WEBHOOKS}/${created.id}`, {
      events: ['company.*'],
      excludeOrigins: ['Salesforce'],
      description: null,
    });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(patched.json().events, ['company.*']);
    assert.deepEqual(patched.json().excludeOrigins, ['salesforce']);
    assert.equal(patched.json().description, null);
    assert.equal(patched.json().url, receiver.url);
    assert.equal(patched.json().enabled, true);

    const disabled = await api.patch(`${WEBHOOKS}/${created.id}`, { enabled: false });
    assert.equal(disabled.json().enabled, false);
    assert.equal(disabled.json().disabledReason, 'manual');
    const enabled = await api.patch(`${WEBHOOKS}/${created.id}`, { enabled: true });
    assert.equal(enabled.json().enabled, true);
    assert.equal(enabled.json().disabledReason, null);

    assert.equal((await api.delete(`${WEBHOOKS}/${created.id}`)).statusCode, 204);
    assert.equal((await api.get(`${WEBHOOKS}/${created.id}`)).statusCode, 404);
    assert.equal((await api.delete(`${WEBHOOKS}/${created.id}`)).statusCode, 404);
    assert.deepEqual((await api.get(WEBHOOKS)).json(), { data: [] });
  });

  it('answers 400 naming the field for invalid bodies, and stores nothing', async () => {
    const { api } = await webhookOrganization(context.app);
    const url = receiver.url;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ events: ['*'] }, 'url'],
      [{ url: 'ftp://example.com/hook', events: ['*'] }, 'url'],
      [{ url: 'not a url', events: ['*'] }, 'url'],
      [{ url: `https://example.com/${'p'.repeat(2040)}`, events: ['*'] }, 'url'],
      [{ url: 'https://user:pw@example.com/hook', events: ['*'] }, 'url'],
      [{ url }, 'events'],
      [{ url, events: [] }, 'events'],
      [{ url, events: ['contact.merged'] }, 'events[0]'],
      [{ url, events: ['contacts.*'] }, 'events[0]'],
      [{ url, events: ['*', 'deal.*'] }, 'events[1]'],
      [{ url, events: ['*'], excludeOrigins: ['-bad'] }, 'excludeOrigins[0]'],
      [{ url, events: ['*'], excludeOrigins: ['x'.repeat(51)] }, 'excludeOrigins[0]'],
      [{ url, events: ['*'], description: 'd'.repeat(501) }, 'description'],
      [{ url, events: ['*'], secret: 'whsec_AAAA' }, 'secret'],
      [{ url, events: ['*'], enabled: false }, 'enabled'],
    ];
    for (const [body, field] of cases) {
      const response = await api.post(WEBHOOKS, body);
      assert.equal(response.statusCode, 400, `${JSON.stringify(body).slice(0, 100)}: ${response.body}`);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.ok(Object.hasOwn(response.json().errors, field), `${field} not named in ${response.body}`);
    }
    const created = await createWebhook(api, { url });
    for (const [body, field] of [
      [{ url: 'ftp://example.com' }, 'url'],
      [{ events: ['nope'] }, 'events[0]'],
      [{ enabled: 'yes' }, 'enabled'],
      [{ dispatchedThrough: 0 }, 'dispatchedThrough'],
    ] as const) {
      const response = await api.patch(`${WEBHOOKS}/${created.id}`, body);
      assert.equal(response.statusCode, 400, response.body);
      assert.ok(Object.hasOwn(response.json().errors, field), `${field} not named in ${response.body}`);
    }
    assert.equal((await api.get(WEBHOOKS)).json().data.length, 1);
  });

  it('refuses more than 20 webhooks per organization with 409', async () => {
    const { api } = await webhookOrganization(context.app);
    const results = await Promise.all(
      Array.from({ length: 22 }, (_, i) => api.post(WEBHOOKS, { url: `${receiver.url}/${i}`, events: ['*'] })),
    );
    const statuses = results.map((response) => response.statusCode).sort();
    assert.deepEqual(statuses, [...Array(20).fill(201), 409, 409]);
    const refused = results.find((response) => response.statusCode === 409);
    assert.equal(refused?.json().type, '/problems/webhook-limit-reached');
    assert.equal((await api.get(WEBHOOKS)).json().data.length, 20);
  });

  it('needs webhooks.read to read and webhooks.write to change', async () => {
    const owner = await newOrganization(context.app, { scopes: ['webhooks.read', 'webhooks.write'] });
    const created = await createWebhook(client(context.app, owner), { url: receiver.url });
    const { newToken } = await import('../../helpers/factories.js');
    const reader = client(context.app, {
      ...owner,
      headers: { authorization: `Bearer ${await newToken(context.app, owner.id, ['webhooks.read'])}` },
    });
    const outsider = client(context.app, {
      ...owner,
      headers: { authorization: `Bearer ${await newToken(context.app, owner.id)}` },
    });
    const path = `${WEBHOOKS}/${created.id}`;
    assert.equal((await reader.get(WEBHOOKS)).statusCode, 200);
    assert.equal((await reader.get(path)).statusCode, 200);
    assert.equal((await reader.get(`${path}/deliveries`)).statusCode, 200);
    const writes = [
      () => reader.post(WEBHOOKS, { url: receiver.url, events: ['*'] }),
      () => reader.patch(path, { enabled: false }),
      () => reader.delete(path),
      () => reader.post(`${path}/rotate-secret`, {}),
      () => reader.post(`${path}/test`, {}),
      () => reader.post(`${path}/replay`, { fromSeq: 1, toSeq: 2 }),
    ];
    for (const write of writes) {
      const response = await write();
      assert.equal(response.statusCode, 403, response.body);
      assert.equal(response.json().requiredScope, 'webhooks.write');
    }
    for (const read of [
      () => outsider.get(WEBHOOKS),
      () => outsider.get(path),
      () => outsider.get(`${path}/deliveries`),
    ]) {
      const response = await read();
      assert.equal(response.statusCode, 403, response.body);
      assert.equal(response.json().requiredScope, 'webhooks.read');
    }
    assert.equal((await client(context.app, owner).get(path)).json().enabled, true);
    assert.equal((await context.app.inject({ method: 'GET', url: WEBHOOKS })).statusCode, 401);
  });

  it("answers another organization's webhook exactly like a missing one, and leaves it untouched", async () => {
    const { api: owner } = await webhookOrganization(context.app);
    const { api: intruder } = await webhookOrganization(context.app);
    const theirs = await createWebhook(owner, { url: receiver.url });
    const missing = randomUUID();
    const operations = [
      (id: string) => intruder.get(`${WEBHOOKS}/${id}`),
      (id: string) => intruder.patch(`${WEBHOOKS}/${id}`, { url: 'http://127.0.0.1:1/stolen' }),
      (id: string) => intruder.delete(`${WEBHOOKS}/${id}`),
      (id: string) => intruder.post(`${WEBHOOKS}/${id}/rotate-secret`, {}),
      (id: string) => intruder.post(`${WEBHOOKS}/${id}/test`, {}),
      (id: string) => intruder.get(`${WEBHOOKS}/${id}/deliveries`),
      (id: string) => intruder.post(`${WEBHOOKS}/${id}/replay`, { fromSeq: 1, toSeq: 10 }),
    ];
    for (const operation of operations) {
      const foreign = await operation(theirs.id);
      const absent = await operation(missing);
      assert.equal(foreign.statusCode, 404, foreign.body);
      assert.equal(absent.statusCode, 404);
      assert.equal(foreign.json().type, absent.json().type);
      assert.equal(foreign.json().detail.replace(theirs.id, '{id}'), absent.json().detail.replace(missing, '{id}'));
    }
    assert.deepEqual((await intruder.get(WEBHOOKS)).json(), { data: [] });
    const { secret, ...shown } = theirs;
    assert.deepEqual((await owner.get(`${WEBHOOKS}/${theirs.id}`)).json(), shown);
    assert.equal(receiver.received.filter((entry) => entry.json?.data?.webhookId === theirs.id).length, 0);
  });

  it('rotates the secret: the test delivery verifies with the new secret only', async () => {
    const { api } = await webhookOrganization(context.app);
    const created = await createWebhook(api, { url: receiver.url });
    const rotated = await api.post(`${WEBHOOKS}/${created.id}/rotate-secret`, {});
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.match(rotated.json().secret, /^whsec_/);
    assert.notEqual(rotated.json().secret, created.secret);
    assert.equal(rotated.json().id, created.id);

    const test = await api.post(`${WEBHOOKS}/${created.id}/test`, {});
    assert.equal(test.statusCode, 200, test.body);
    const received = receiver.received.find((entry) => entry.headers['webhook-id'] === test.json().eventId);
    assert.ok(received, 'the test delivery arrived');
    assert.equal(verify(rotated.json().secret, received).type, 'webhook.test');
    assert.throws(() => verify(created.secret, received), /signature/i);
  });
});

describe('webhooks: destinations in private networks', () => {
  let open: TestApp;
  let strict: TestApp;
  let receiver: Receiver;
  before(async () => {
    open = await createTestApp({}, { webhookDelivery: TEST_DELIVERY });
    // Its worker is off: with private networks refused it would fail other tests' deliveries to 127.0.0.1.
    strict = await createTestApp({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false' }, { webhookDelivery: { enabled: false } });
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await strict.close();
    await open.close();
  });

  it('refuses private, loopback, link-local and other non-public addresses with 400 naming url', async () => {
    const { api } = await webhookOrganization(strict.app);
    const refused = [
      'http://127.0.0.1:8080/hook',
      'http://localhost/hook',
      'http://api.localhost/hook',
      'http://10.1.2.3/hook',
      'http://172.16.0.1/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://100.64.0.1/hook',
      'http://0.0.0.0/hook',
      'http://224.0.0.1/hook',
      'http://[::1]/hook',
      'http://[fe80::1]/hook',
      'http://[fd12:3456::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::]/hook',
      // IPv4-compatible (::/96): ipaddr.js calls these unicast.
      'http://[::7f00:1]/hook',
      'http://[::a9fe:a9fe]/hook',
      'http://[::a00:1]/hook',
      // IPv6 outside global unicast (2000::/3), which ipaddr.js calls unicast too.
      'http://[4000::1]/hook',
      'http://[e000::1]/hook',
      'http://[1::1]/hook',
    ];
    for (const url of refused) {
      const response = await api.post(WEBHOOKS, { url, events: ['*'] });
      assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
      assert.deepEqual(Object.keys(response.json().errors), ['url']);
    }
    const created = await createWebhook(api, { url: 'https://93.184.215.14/hook' });
    await createWebhook(api, { url: 'https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook' });
    assert.equal(
      (await api.patch(`${WEBHOOKS}/${created.id}`, { url: 'http://192.168.0.10/' })).statusCode,
      400,
      'PATCH checks the URL too',
    );
    assert.equal((await api.get(WEBHOOKS)).json().data.length, 2);
  });

  it('checks an address in the URL when sending, IPv4-compatible IPv6 included', async () => {
    const { org, api } = await webhookOrganization(open.app);
    const created = await createWebhook(api, { url: receiver.url.replace('127.0.0.1', '[::7f00:1]') });
    const test = await client(strict.app, org).post(`${WEBHOOKS}/${created.id}/test`, {});
    assert.equal(test.statusCode, 200, test.body);
    assert.equal(test.json().outcome, 'failed');
    assert.equal(test.json().statusCode, null);
    assert.match(test.json().error, /::7f00:1, which is an IPv4-compatible IPv6 address \(::\/96\)/);
    assert.equal(receiver.received.length, 0);
  });

  it('checks the resolved address when sending, and sends nothing to a private one', async () => {
    const { org, api } = await webhookOrganization(open.app);
    // Saved where private networks are allowed; sent from a process where they are not.
    const created = await createWebhook(api, { url: receiver.url.replace('127.0.0.1', 'localhost') });
    const test = await client(strict.app, org).post(`${WEBHOOKS}/${created.id}/test`, {});
    assert.equal(test.statusCode, 200, test.body);
    assert.equal(test.json().outcome, 'failed');
    assert.equal(test.json().statusCode, null);
    assert.match(test.json().error, /localhost resolves to (127\.0\.0\.1|::1), which is in a loopback range/);
    assert.equal(receiver.received.length, 0);

    const allowed = await client(open.app, org).post(`${WEBHOOKS}/${created.id}/test`, {});
    assert.equal(allowed.json().outcome, 'succeeded', allowed.body);
    assert.equal(receiver.received.length, 1);
  });
});
