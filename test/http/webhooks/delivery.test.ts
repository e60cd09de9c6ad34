import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMPANIES, CONTACTS, newContact, refPath } from '../../helpers/contacts.js';
import {
  createWebhook,
  eventDeliveries,
  eventually,
  type Handler,
  listEvents,
  type Received,
  useWebhookTestApp,
  verify,
  WEBHOOKS,
  webhookOrganization,
} from './helpers.js';

const seqOf = (entry: Received): number => entry.json.data.seq;

describe('webhooks: delivery', () => {
  const context = useWebhookTestApp();
  const receiver = (handle?: Handler) => context.receiver(handle);

  it('delivers every event type, signed per Standard Webhooks, with the event of GET /events as data', async () => {
    const { api } = await webhookOrganization(context.app);
    const endpoint = await receiver();
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['*'] });

    const contact = (await api.patch(refPath('crm', 'p-1'), { firstName: 'Ada' })).json();
    assert.equal((await api.patch(`${CONTACTS}/${contact.id}`, { lastName: 'Lovelace' })).statusCode, 200);
    assert.equal((await api.delete(`${CONTACTS}/${contact.id}`)).statusCode, 204);
    assert.equal((await api.patch(refPath('crm', 'p-1'), { firstName: 'Ada' })).statusCode, 200);
    const company = (await api.patch(`${COMPANIES}/external/crm/c-1`, { name: 'Acme AB' })).json();
    assert.equal((await api.patch(`${COMPANIES}/${company.id}`, { name: 'Acme Group AB' })).statusCode, 200);
    assert.equal((await api.delete(`${COMPANIES}/${company.id}`)).statusCode, 204);
    assert.equal((await api.patch(`${COMPANIES}/external/crm/c-1`, { name: 'Acme AB' })).statusCode, 200);

    const events = await listEvents(api);
    assert.deepEqual(
      events.map((event) => event.type),
      [
        'contact.created',
        'contact.updated',
        'contact.deleted',
        'contact.revived',
        'company.created',
        'company.updated',
        'company.deleted',
        'company.revived',
      ],
    );
    const received = await endpoint.waitFor((all) => all.length >= events.length, 'eight deliveries');
    const bySeq = [...received].sort((a, b) => seqOf(a) - seqOf(b));
    for (const [index, event] of events.entries()) {
      const delivery = bySeq[index] as Received;
      const payload = verify(webhook.secret, delivery);
      assert.equal(delivery.headers['webhook-id'], event.id);
      assert.equal(delivery.headers['content-type'], 'application/json');
      assert.ok(Math.abs(Number(delivery.headers['webhook-timestamp']) - delivery.at / 1000) < 5);
      assert.deepEqual(payload, { type: event.type, timestamp: event.occurredUtc, data: event });
    }
    assert.equal(received.length, events.length, 'each event once');
  });

  it('delivers only events after the webhook was created, and only the types it subscribes to', async () => {
    const { api } = await webhookOrganization(context.app);
    const endpoint = await receiver();
    await newContact(api, { firstName: 'Before' });
    await createWebhook(api, { url: endpoint.url, events: ['contact.updated', 'company.*'] });
    const contact = await newContact(api, { firstName: 'After' });
    await api.patch(`${CONTACTS}/${contact.id}`, { lastName: 'Updated' });
    await api.post(COMPANIES, { name: 'Acme AB' });
    const received = await endpoint.waitFor((all) => all.length >= 2, 'two deliveries');
    const types = received.map((entry) => entry.json.type).sort();
    assert.deepEqual(types, ['company.created', 'contact.updated']);
    // A marker after everything: once it arrives, every earlier event has been considered.
    await api.patch(`${CONTACTS}/${contact.id}`, { lastName: 'Marker' });
    await endpoint.waitFor((all) => all.some((entry) => entry.json.data.data.lastName === 'Marker'), 'the marker');
    assert.equal(endpoint.received.length, 3);
  });

  it("leaves out a sync's own writes with excludeOrigins and keeps everyone else's", async () => {
    const { api } = await webhookOrganization(context.app);
    const endpoint = await receiver();
    await createWebhook(api, { url: endpoint.url, events: ['contact.*'], excludeOrigins: ['HubSpot'] });
    await api.patch(refPath('hubspot', 'h-1'), { firstName: 'Synced' });
    await api.post(CONTACTS, { firstName: 'Header' }, { 'x-change-origin': 'HUBSPOT' });
    await api.patch(refPath('salesforce', 's-1'), { firstName: 'Other sync' });
    await api.post(CONTACTS, { firstName: 'Person' });
    const received = await endpoint.waitFor((all) => all.length >= 2, 'two deliveries');
    // The last write arrived: the dispatcher has passed every earlier event.
    await endpoint.waitFor((all) => all.some((entry) => entry.json.data.data.firstName === 'Person'), 'the last write');
    assert.deepEqual(received.map((entry) => entry.json.data.origin).sort(), ['api', 'salesforce']);
    assert.equal(endpoint.received.length, 2);
  });

  it('delivers the events of one contact in seq order, a retried one holding back the next', async () => {
    const { api } = await webhookOrganization(context.app);
    const seen = new Set<string>();
    // Every event fails its first attempt: the next event of the contact is due meanwhile and must wait.
    const endpoint = await receiver((entry) => {
      const id = String(entry.headers['webhook-id']);
      if (seen.has(id)) return 204;
      seen.add(id);
      return 500;
    });
    await createWebhook(api, { url: endpoint.url, events: ['contact.*'] });
    const contact = await newContact(api, { firstName: 'V0' });
    for (let version = 1; version <= 5; version += 1) {
      assert.equal((await api.patch(`${CONTACTS}/${contact.id}`, { firstName: `V${version}` })).statusCode, 200);
    }
    const received = await endpoint.waitFor((all) => all.length >= 12, 'two attempts of six events', 20_000);
    const seqs = received.map(seqOf);
    const first = seqs[0] as number;
    assert.deepEqual(
      seqs,
      [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5].map((offset) => first + offset),
      'each event twice (500, then 2xx), in order',
    );
    assert.deepEqual(
      received.filter((_, index) => index % 2 === 1).map((entry) => entry.json.data.data.firstName),
      ['V0', 'V1', 'V2', 'V3', 'V4', 'V5'],
    );
  });

  it('delivers the events of different contacts in parallel', async () => {
    const { api } = await webhookOrganization(context.app);
    let released = 0;
    let slowId = '';
    const endpoint = await receiver(async (entry) => {
      if (entry.json.data.resourceId !== slowId) return 204;
      // Holds the first contact's delivery until the second's arrives (well within the timeout).
      const deadline = Date.now() + 700;
      while (endpoint.received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      released = Date.now();
      return 204;
    });
    await createWebhook(api, { url: endpoint.url, events: ['contact.created'] });
    const slow = await newContact(api, { firstName: 'Slow' });
    slowId = slow.id;
    await newContact(api, { firstName: 'Quick' });
    const received = await endpoint.waitFor((all) => all.length >= 2 && released > 0, 'both deliveries');
    const quick = received.find((entry) => entry.json.data.resourceId !== slow.id) as Received;
    assert.ok(quick.at <= released, 'the second contact was delivered while the first was still in flight');
  });

  it("holds a contact's next event behind a first attempt slower than its batch, and lets other contacts pass", async () => {
    const { api } = await webhookOrganization(context.app);
    let slowId = '';
    let firstAnswered = 0;
    // The slow contact's first event is answered after 800 ms: long past the batch it was sent in.
    const endpoint = await receiver(async (entry) => {
      if (entry.json.data.resourceId !== slowId || entry.json.data.type !== 'contact.created') return 204;
      await new Promise((resolve) => setTimeout(resolve, 800));
      firstAnswered = Date.now();
      return 204;
    });
    await createWebhook(api, { url: endpoint.url, events: ['contact.*'] });
    const slow = await newContact(api, { firstName: 'Slow' });
    slowId = slow.id;
    await endpoint.waitFor((all) => all.length === 1, 'the slow first attempt');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await api.patch(`${CONTACTS}/${slow.id}`, { firstName: 'Slower' })).statusCode, 200);
    const other = await newContact(api, { firstName: 'Other' });
    const received = await endpoint.waitFor((all) => all.length >= 3, 'all three events', 10_000);
    const otherAt = received.find((entry) => entry.json.data.resourceId === other.id)?.at as number;
    const update = received.find((entry) => entry.json.data.type === 'contact.updated') as Received;
    assert.ok(otherAt < firstAnswered, 'another contact is delivered while the slow attempt is in flight');
    assert.ok(update.at >= firstAnswered, "the slow contact's update waits for its first event's answer");
    assert.equal(update.json.data.data.firstName, 'Slower');
    assert.equal(received.length, 3, 'each event once');
  });

  it('sends a test event on demand and lists attempts newest first with their status codes', async () => {
    const { api } = await webhookOrganization(context.app);
    const endpoint = await receiver((entry) => (entry.json?.type === 'webhook.test' ? 202 : 204));
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.created'] });

    const test = await api.post(`${WEBHOOKS}/${webhook.id}/test`, {});
    assert.equal(test.statusCode, 200, test.body);
    const attempt = test.json();
    assert.equal(attempt.eventType, 'webhook.test');
    assert.equal(attempt.statusCode, 202);
    assert.equal(attempt.outcome, 'succeeded');
    assert.equal(attempt.seq, null);
    assert.equal(attempt.attempt, 1);
    assert.equal(attempt.error, null);
    assert.ok(Number.isInteger(attempt.durationMs) && attempt.durationMs >= 0);
    const [testDelivery] = endpoint.received;
    assert.equal(testDelivery?.headers['webhook-id'], attempt.eventId);
    assert.deepEqual(verify(webhook.secret, testDelivery as Received).data, {
      webhookId: webhook.id,
      message: 'A test delivery, sent by POST /webhooks/{id}/test.',
    });

    const first = await newContact(api, { firstName: 'One' });
    const second = await newContact(api, { firstName: 'Two' });
    await endpoint.waitFor((all) => eventDeliveries(all).length >= 2, 'two deliveries');
    const listed = await eventually(
      async () => (await api.get(`${WEBHOOKS}/${webhook.id}/deliveries`)).json(),
      (body) => body.data.length >= 3,
      'three attempts listed',
    );
    assert.equal(listed.data.length, 3);
    const times = listed.data.map((entry: { attemptedUtc: string }) => Date.parse(entry.attemptedUtc));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      'newest first',
    );
    assert.deepEqual(listed.data.at(-1), attempt);
    const events = await listEvents(api);
    const bySeq = (seq: number) => listed.data.find((entry: { seq: number }) => entry.seq === seq);
    for (const [index, contact] of [first, second].entries()) {
      const event = events.find((candidate) => candidate.resourceId === contact.id);
      const logged = bySeq(event.seq);
      assert.ok(logged, `the attempt for event ${index + 1} is listed`);
      assert.equal(logged.eventId, event.id);
      assert.equal(logged.eventType, 'contact.created');
      assert.equal(logged.statusCode, 204);
      assert.equal(logged.outcome, 'succeeded');
      assert.equal(logged.attempt, 1);
    }
    const limited = await api.get(`${WEBHOOKS}/${webhook.id}/deliveries?limit=1`);
    assert.deepEqual(limited.json().data, listed.data.slice(0, 1));
    assert.equal((await api.get(`${WEBHOOKS}/${webhook.id}/deliveries?limit=0`)).statusCode, 400);
  });

  it('signs deliveries with the rotated secret from then on', async () => {
    const { api } = await webhookOrganization(context.app);
    const endpoint = await receiver();
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.created'] });
    await newContact(api, { firstName: 'Before' });
    const [before] = await endpoint.waitFor((all) => all.length >= 1, 'the first delivery');
    assert.equal(verify(webhook.secret, before as Received).data.data.firstName, 'Before');

    const rotated = (await api.post(`${WEBHOOKS}/${webhook.id}/rotate-secret`, {})).json();
    await newContact(api, { firstName: 'After' });
    const received = await endpoint.waitFor((all) => all.length >= 2, 'the second delivery');
    const afterRotation = received[1] as Received;
    assert.equal(verify(rotated.secret, afterRotation).data.data.firstName, 'After');
    assert.throws(() => verify(webhook.secret, afterRotation), /signature/i);
  });
});
