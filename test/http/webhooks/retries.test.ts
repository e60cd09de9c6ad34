import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { type Client, CONTACTS, type Json, newContact } from '../../helpers/contacts.js';
import {
  ATTEMPTS,
  createWebhook,
  eventually,
  type Handler,
  listEvents,
  type Received,
  useWebhookTestApp,
  verify,
  WEBHOOKS,
  webhookOrganization,
} from './helpers.js';

describe('webhooks: retries and disabling', () => {
  const context = useWebhookTestApp();
  const receiver = (handle?: Handler) => context.receiver(handle);

  const attemptsOf = async (api: Client, webhookId: string, count: number) =>
    eventually(
      async (): Promise<Json[]> => (await api.get(`${WEBHOOKS}/${webhookId}/deliveries`)).json().data,
      (data) => data.length >= count,
      `${count} attempts listed`,
    );

  const pendingDeliveries = async (webhookId: string) =>
    Number(
      (
        await context.test.database.db
          .selectFrom('webhook_deliveries')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('webhook_id', '=', webhookId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('retries after 5xx with the same webhook-id until a 2xx', async () => {
    const { api } = await webhookOrganization(context.app);
    const endpoint = await receiver((_, index) => (index < 2 ? 500 : 204));
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.created'] });
    const contact = await newContact(api);
    const received = await endpoint.waitFor((all) => all.length >= 3, 'three attempts');
    const [event] = await listEvents(api);
    for (const delivery of received) {
      assert.equal(delivery.headers['webhook-id'], event.id);
      assert.equal(verify(webhook.secret, delivery).data.resourceId, contact.id);
      assert.equal(delivery.body, (received[0] as Received).body, 'the same body on every attempt');
    }
    // Spaced by the schedule (150 ms, then 300 ms, ±20 %).
    const gaps = received.slice(1).map((delivery, index) => delivery.at - (received[index] as Received).at);
    assert.ok((gaps[0] as number) >= 100 && (gaps[1] as number) >= 220, `gaps ${gaps.join(', ')}`);
    const attempts = await attemptsOf(api, webhook.id, 3);
    assert.deepEqual(
      attempts.map((entry: Record<string, unknown>) => [entry.attempt, entry.statusCode, entry.outcome]),
      [
        [3, 204, 'succeeded'],
        [2, 500, 'retrying'],
        [1, 500, 'retrying'],
      ],
    );
    assert.ok(attempts.every((entry: { eventId: string }) => entry.eventId === event.id));
    await eventually(
      () => pendingDeliveries(webhook.id),
      (n) => n === 0,
      'delivery settled',
    );
    assert.equal((await api.get(`${WEBHOOKS}/${webhook.id}`)).json().failingSinceUtc, null);
    assert.equal(endpoint.received.length, 3);
  });

  it('retries an attempt the endpoint does not answer within the timeout', async () => {
    const { api } = await webhookOrganization(context.app);
    const endpoint = await receiver((_, index) => (index === 0 ? 'hang' : 200));
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.created'] });
    await newContact(api);
    const received = await endpoint.waitFor((all) => all.length >= 2, 'the retry');
    assert.equal(received[0]?.headers['webhook-id'], received[1]?.headers['webhook-id']);
    const attempts = await attemptsOf(api, webhook.id, 2);
    const [second, first] = attempts;
    assert.equal(first.statusCode, null);
    assert.equal(first.outcome, 'retrying');
    assert.match(first.error, /no answer within 1000 ms/);
    assert.ok(first.durationMs >= 1000 && first.durationMs < 5000, `duration ${first.durationMs}`);
    assert.equal(second.statusCode, 200);
    assert.equal(second.outcome, 'succeeded');
  });

  it('gives up after the last attempt of the schedule and goes on with the next event', async () => {
    const { api } = await webhookOrganization(context.app);
    let failing = true;
    const endpoint = await receiver(() => (failing ? 503 : 204));
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.*'] });
    const contact = await newContact(api, { firstName: 'Doomed' });
    await endpoint.waitFor((all) => all.length >= ATTEMPTS, 'every attempt');
    const attempts = await attemptsOf(api, webhook.id, ATTEMPTS);
    assert.deepEqual(
      attempts.map((entry: { outcome: string }) => entry.outcome),
      ['failed', ...Array(ATTEMPTS - 1).fill('retrying')],
    );
    await eventually(
      () => pendingDeliveries(webhook.id),
      (n) => n === 0,
      'the delivery dropped',
    );
    assert.equal(endpoint.received.length, ATTEMPTS, 'no attempt after the last');
    const read = (await api.get(`${WEBHOOKS}/${webhook.id}`)).json();
    assert.equal(read.enabled, true);
    assert.notEqual(read.failingSinceUtc, null);

    failing = false;
    await api.patch(`${CONTACTS}/${contact.id}`, { firstName: 'Saved' });
    const received = await endpoint.waitFor((all) => all.length > ATTEMPTS, 'the next event');
    assert.equal(received.at(-1)?.json.data.data.firstName, 'Saved');
    await eventually(
      async () => (await api.get(`${WEBHOOKS}/${webhook.id}`)).json(),
      (body) => body.failingSinceUtc === null,
      'a success clears failingSinceUtc',
    );
  });

  it('disables the webhook at once on 410 Gone, delivers nothing more, and resumes when enabled again', async () => {
    const { api } = await webhookOrganization(context.app);
    let gone = true;
    const endpoint = await receiver(() => (gone ? 410 : 204));
    const sentinel = await receiver();
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.*'] });
    await createWebhook(api, { url: sentinel.url, events: ['contact.*'] });
    await newContact(api, { firstName: 'First' });
    await endpoint.waitFor((all) => all.length >= 1, 'the first delivery');
    const disabled = await eventually(
      async () => (await api.get(`${WEBHOOKS}/${webhook.id}`)).json(),
      (body) => body.enabled === false,
      'disabled',
    );
    assert.equal(disabled.disabledReason, 'endpoint-gone');
    const [attempt] = (await api.get(`${WEBHOOKS}/${webhook.id}/deliveries`)).json().data;
    assert.equal(attempt.statusCode, 410);
    assert.equal(attempt.outcome, 'failed');

    await newContact(api, { firstName: 'While disabled' });
    await sentinel.waitFor((all) => all.length >= 2, 'the sentinel saw the second event');
    assert.equal(endpoint.received.length, 1, 'not retried, and nothing new while disabled');
    assert.equal(await pendingDeliveries(webhook.id), 0);

    gone = false;
    const enabled = await api.patch(`${WEBHOOKS}/${webhook.id}`, { enabled: true });
    assert.equal(enabled.json().enabled, true);
    assert.equal(enabled.json().disabledReason, null);
    await newContact(api, { firstName: 'After' });
    const received = await endpoint.waitFor((all) => all.length >= 2, 'a delivery after enabling');
    assert.equal(received[1]?.json.data.data.firstName, 'After');
    await sentinel.waitFor((all) => all.length >= 3, 'the sentinel saw the third event');
    assert.equal(endpoint.received.length, 2, 'what happened while disabled is not sent on enabling');
  });

  it('disables a webhook that has failed for 5 days without a success', async () => {
    const { org, api } = await webhookOrganization(context.app);
    const endpoint = await receiver(() => 500);
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.*'] });
    // Failing for almost 5 days: one more failure does not disable it yet.
    const setFailingSince = (interval: string) =>
      context.test.database.db
        .updateTable('webhooks')
        .set({ failing_since: sql`now() - ${interval}::interval` })
        .where('organization_id', '=', org.id)
        .where('id', '=', webhook.id)
        .execute();
    await setFailingSince('4 days 23 hours');
    await newContact(api, { firstName: 'Almost' });
    await endpoint.waitFor((all) => all.length >= ATTEMPTS, 'every attempt of the first event');
    await eventually(
      () => pendingDeliveries(webhook.id),
      (n) => n === 0,
      'the delivery dropped',
    );
    const stillEnabled = (await api.get(`${WEBHOOKS}/${webhook.id}`)).json();
    assert.equal(stillEnabled.enabled, true);
    assert.ok(Date.now() - Date.parse(stillEnabled.failingSinceUtc) > 4.9 * 24 * 3600 * 1000, 'failing_since kept');

    await setFailingSince('5 days 1 minute');
    await newContact(api, { firstName: 'Too late' });
    const disabled = await eventually(
      async () => (await api.get(`${WEBHOOKS}/${webhook.id}`)).json(),
      (body) => body.enabled === false,
      'disabled',
    );
    assert.equal(disabled.disabledReason, 'failing');
    const sent = endpoint.received.length;
    assert.equal(sent, ATTEMPTS + 1, 'disabled at the first failure past 5 days');
    assert.equal(await pendingDeliveries(webhook.id), 1, 'the interrupted delivery waits for re-enabling');
  });

  it('stops retrying when the webhook is deleted, and deletes its attempt log', async () => {
    const { api } = await webhookOrganization(context.app);
    const endpoint = await receiver(() => 500);
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.*'] });
    await newContact(api);
    await endpoint.waitFor((all) => all.length >= 1, 'the first attempt');
    assert.equal((await api.delete(`${WEBHOOKS}/${webhook.id}`)).statusCode, 204);
    const count = endpoint.received.length;
    assert.equal(await pendingDeliveries(webhook.id), 0);
    // Its remaining retries would have been due by now.
    await eventually(
      async () =>
        Number(
          (
            await context.test.database.db
              .selectFrom('webhook_attempts')
              .select((eb) => eb.fn.countAll<string>().as('n'))
              .where('webhook_id', '=', webhook.id)
              .executeTakeFirstOrThrow()
          ).n,
        ),
      (n) => n === 0,
      'the attempt log deleted with it',
    );
    assert.ok(endpoint.received.length <= count + 1, 'at most the attempt in flight');
  });
});
