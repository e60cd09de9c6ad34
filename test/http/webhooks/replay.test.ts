import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { COMPANIES, newContact } from '../../helpers/contacts.js';
import {
  createWebhook,
  listEvents,
  type Receiver,
  startReceiver,
  useWebhookTestApp,
  verify,
  WEBHOOKS,
  webhookOrganization,
} from './helpers.js';

describe('webhooks: replay', () => {
  const context = useWebhookTestApp();
  let endpoint: Receiver;
  before(async () => {
    endpoint = await context.receiver();
  });

  it('queues again the matching events of a range, with their original webhook-id', async () => {
    const { api } = await webhookOrganization(context.app);
    const own = await startReceiver();
    try {
      const webhook = await createWebhook(api, { url: own.url, events: ['contact.*'] });
      for (const name of ['A', 'B', 'C']) await newContact(api, { firstName: name });
      await api.post(COMPANIES, { name: 'Not subscribed AB' });
      await newContact(api, { firstName: 'D' });
      await own.waitFor((all) => all.length >= 4, 'the four contact events');
      const events = await listEvents(api);
      assert.deepEqual(
        events.map((event) => event.type),
        ['contact.created', 'contact.created', 'contact.created', 'company.created', 'contact.created'],
      );
      const [, b, c, company] = events;

      // B through the company: B and C match, the company event does not.
      const replay = await api.post(`${WEBHOOKS}/${webhook.id}/replay`, { fromSeq: b.seq, toSeq: company.seq });
      assert.equal(replay.statusCode, 202, replay.body);
      assert.deepEqual(replay.json(), { queued: 2 });
      const received = await own.waitFor((all) => all.length >= 6, 'the replayed events');
      const replayed = received.slice(4);
      assert.deepEqual(replayed.map((entry) => entry.headers['webhook-id']).sort(), [b.id, c.id].sort());
      for (const entry of replayed) {
        const original = received.find((first) => first.headers['webhook-id'] === entry.headers['webhook-id']);
        assert.equal(entry.body, original?.body, 'the same message as the first time');
        verify(webhook.secret, entry);
      }

      // Nothing matches: a company-only range, and a range past the last event.
      assert.deepEqual(
        (await api.post(`${WEBHOOKS}/${webhook.id}/replay`, { fromSeq: company.seq, toSeq: company.seq })).json(),
        { queued: 0 },
      );
      assert.deepEqual((await api.post(`${WEBHOOKS}/${webhook.id}/replay`, { fromSeq: 1000, toSeq: 2000 })).json(), {
        queued: 0,
      });
      // A marker after the replays: nothing else was sent.
      await newContact(api, { firstName: 'Marker' });
      await own.waitFor((all) => all.some((entry) => entry.json.data.data.firstName === 'Marker'), 'the marker');
      assert.equal(own.received.length, 7);
    } finally {
      await own.close();
    }
  });

  it('answers 400 for an invalid range', async () => {
    const { api } = await webhookOrganization(context.app);
    const webhook = await createWebhook(api, { url: endpoint.url });
    const path = `${WEBHOOKS}/${webhook.id}/replay`;
    for (const [body, field] of [
      [{ fromSeq: 5, toSeq: 4 }, 'toSeq'],
      [{ fromSeq: 1, toSeq: 100_001 }, 'toSeq'],
      [{ fromSeq: 0, toSeq: 4 }, 'fromSeq'],
      [{ fromSeq: 1 }, 'toSeq'],
      [{ fromSeq: '1', toSeq: 2 }, 'fromSeq'],
      [{ fromSeq: 1, toSeq: 2, types: ['*'] }, 'types'],
      // Integers, but past what a bigint (and a JSON number, exactly) holds.
      [{ fromSeq: 1e20, toSeq: 1e20 }, 'fromSeq'],
      [{ fromSeq: 1e20, toSeq: 1e20 }, 'toSeq'],
      [{ fromSeq: 2 ** 53, toSeq: 2 ** 53 }, 'fromSeq'],
      [{ fromSeq: 1, toSeq: 2 ** 53 }, 'toSeq'],
    ] as const) {
      const response = await api.post(path, body);
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
      assert.ok(Object.hasOwn(response.json().errors, field), `${field} not named in ${response.body}`);
    }
    // The largest accepted: nothing there to queue.
    const largest = await api.post(path, { fromSeq: Number.MAX_SAFE_INTEGER, toSeq: Number.MAX_SAFE_INTEGER });
    assert.equal(largest.statusCode, 202, largest.body);
    assert.deepEqual(largest.json(), { queued: 0 });
  });
});
