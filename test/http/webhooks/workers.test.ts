import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import {
  type AttemptRecord,
  insertAttempts,
  recordWebhookHealth,
  renewLeases,
  settleDeliveries,
} from '../../../src/webhooks/webhook.repository.js';
import { type Client, type Json, newContact } from '../../helpers/contacts.js';
import {
  createWebhook,
  eventually,
  listEvents,
  TEST_DELIVERY,
  useWebhookTestApp,
  WEBHOOKS,
  webhookOrganization,
} from './helpers.js';

const DAY_MS = 24 * 3600 * 1000;

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms (waiting for a lock?)`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('webhooks: delivery workers sharing the database', () => {
  const context = useWebhookTestApp();
  const db = () => context.test.database.db;

  const attempt = (organizationId: string, webhookId: string): AttemptRecord => ({
    organizationId,
    webhookId,
    eventId: randomUUID(),
    seq: null,
    eventType: 'contact.created',
    attempt: 1,
    attemptedAt: new Date(),
    statusCode: 500,
    durationMs: 1,
    error: null,
    outcome: 'retrying',
  });

  const attemptsListed = async (api: Client, webhookId: string): Promise<Json[]> =>
    (await api.get(`${WEBHOOKS}/${webhookId}/deliveries`)).json().data;

  it("delivers another organization's event at once while one webhook has a large backlog due", async () => {
    const slow = await webhookOrganization(context.app);
    const hanging = await context.receiver(() => 'hang');
    const backlogged = await createWebhook(slow.api, { url: hanging.url, events: ['contact.*'] });
    const BACKLOG = 30_000;
    try {
      // Due for an hour, older than anything else: the claim's first pick. Their events are not kept,
      // so each is dropped when claimed; meanwhile the endpoint holds whatever it gets for the timeout.
      await sql`
        INSERT INTO webhook_deliveries (organization_id, webhook_id, seq, event_id, event_type, resource_id, next_attempt_at)
        SELECT ${slow.org.id}, ${backlogged.id}, 1000000 + g, gen_random_uuid(), 'contact.updated', gen_random_uuid(),
               now() - interval '1 hour' + g * interval '1 millisecond'
        FROM generate_series(1, ${BACKLOG}) AS g
      `.execute(db());
      for (let i = 0; i < 4; i += 1) await newContact(slow.api, { firstName: `Slow ${i}` });

      const other = await webhookOrganization(context.app);
      const endpoint = await context.receiver();
      await createWebhook(other.api, { url: endpoint.url, events: ['contact.created'] });
      const started = Date.now();
      await newContact(other.api, { firstName: 'Prompt' });
      await endpoint.waitFor((all) => all.length === 1, 'the other organization’s delivery', 3_000);
      const took = Date.now() - started;
      assert.ok(took < 2_000, `delivered after ${took} ms`);
      const { n } = await db()
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('organization_id', '=', slow.org.id)
        .where('webhook_id', '=', backlogged.id)
        .executeTakeFirstOrThrow();
      assert.ok(Number(n) > BACKLOG / 2, `the backlog was still there (${n} pending)`);
    } finally {
      assert.equal((await slow.api.delete(`${WEBHOOKS}/${backlogged.id}`)).statusCode, 204);
    }
  });

  it('records results of one webhook in two transactions at once without deadlocking', async () => {
    const { org, api } = await webhookOrganization(context.app);
    const endpoint = await context.receiver();
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.created'] });
    const health = [
      { organizationId: org.id, webhookId: webhook.id, failingSince: new Date(), succeeded: false, gone: false },
    ];
    const first = await db().startTransaction().execute();
    const second = await db().startTransaction().execute();
    let open = [first, second];
    try {
      // As two processes recording at once: attempts first (their foreign key takes FOR KEY SHARE on
      // the webhook row), then the webhook's health, which must not wait for the other's KEY SHARE.
      await insertAttempts(first, [attempt(org.id, webhook.id)]);
      await insertAttempts(second, [attempt(org.id, webhook.id)]);
      await withTimeout(recordWebhookHealth(first, health, DAY_MS), 3_000, 'the first recording');
      await first.commit().execute();
      open = [second];
      await withTimeout(recordWebhookHealth(second, health, DAY_MS), 3_000, 'the second recording');
      await second.commit().execute();
      open = [];
    } finally {
      for (const trx of open) await trx.rollback().execute();
    }
    assert.equal((await attemptsListed(api, webhook.id)).length, 2);
    assert.notEqual((await api.get(`${WEBHOOKS}/${webhook.id}`)).json().failingSinceUtc, null);
  });

  it('dispatches and records the events of a webhook while another transaction records its attempts', async () => {
    const { org, api } = await webhookOrganization(context.app);
    const endpoint = await context.receiver();
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.created'] });
    const recording = await db().startTransaction().execute();
    try {
      // Holds FOR KEY SHARE on the webhook row, as a recording does; the dispatcher does not skip it.
      await insertAttempts(recording, [attempt(org.id, webhook.id)]);
      await newContact(api, { firstName: 'Meanwhile' });
      await endpoint.waitFor(
        (all) => all.length === 1,
        'the delivery while the webhook row is key-share locked',
        5_000,
      );
      await eventually(
        () => attemptsListed(api, webhook.id),
        (data) => data.length === 1 && data[0]?.outcome === 'succeeded',
        'its attempt recorded meanwhile',
        5_000,
      );
    } finally {
      await recording.rollback().execute();
    }
  });

  it('leases a claimed delivery past its timeout, renews it, and takes back one given back unattempted', async () => {
    const { org, api } = await webhookOrganization(context.app);
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    // Holds the first request until the test has looked at its lease.
    const endpoint = await context.receiver(async (_, index) => {
      if (index === 0) await answered;
      return 204;
    });
    const contact = await newContact(api, { firstName: 'Before' });
    const webhook = await createWebhook(api, { url: endpoint.url, events: ['contact.*'] });
    const delivery = () =>
      db()
        .selectFrom('webhook_deliveries')
        .select([
          'attempts',
          'lease_id',
          sql<number>`extract(epoch FROM lease_until - now()) * 1000`.as('lease_left_ms'),
          sql<boolean>`next_attempt_at = lease_until`.as('due_at_lease_end'),
        ])
        .where('organization_id', '=', org.id)
        .where('webhook_id', '=', webhook.id)
        .executeTakeFirst();

    // A first attempt still in flight once its head is recorded is a leased delivery: leased past
    // the timeout, and out of the due range until the lease ends.
    await newContact(api, { firstName: 'Claimed' });
    await endpoint.waitFor((all) => all.length === 1, 'the first attempt');
    const claimed = await eventually(delivery, (row) => row !== undefined, 'the delivery leased while it is sent');
    assert.ok(claimed, 'the delivery is pending while it is sent');
    assert.equal(claimed.attempts, 1);
    assert.ok(Number(claimed.lease_left_ms) > (TEST_DELIVERY.timeoutMs as number) + 10_000, JSON.stringify(claimed));
    assert.equal(claimed.due_at_lease_end, true);
    answer();
    await eventually(delivery, (row) => row === undefined, 'the delivery settled');

    // A delivery a process holds (event before the webhook existed: no worker queued it).
    const [event] = await listEvents(api);
    assert.equal(event.resourceId, contact.id);
    const leaseId = randomUUID();
    await sql`
      INSERT INTO webhook_deliveries
        (organization_id, webhook_id, seq, event_id, event_type, resource_id, attempts, next_attempt_at, lease_until, lease_id)
      VALUES (${org.id}, ${webhook.id}, ${event.seq}, ${event.id}, ${event.type}, ${event.resourceId}, 1,
              now() + interval '2 seconds', now() + interval '2 seconds', ${leaseId})
    `.execute(db());
    const key = { organizationId: org.id, webhookId: webhook.id, seq: event.seq, leaseId };
    assert.deepEqual(await renewLeases(db(), [{ ...key, leaseId: randomUUID() }], 60_000), [], 'not its lease');
    const renewed = await renewLeases(db(), [key], 60_000);
    assert.equal(renewed.length, 1);
    const held = await delivery();
    assert.ok(held && Number(held.lease_left_ms) > 55_000 && held.due_at_lease_end, JSON.stringify(held));
    // Held, nobody takes it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(endpoint.received.length, 1);

    // Given back unattempted: due at once, its claim's attempt not counted.
    await settleDeliveries(db(), [{ ...key, leaseId: randomUUID(), kind: 'release' }]);
    assert.equal((await delivery())?.lease_id, leaseId, 'another lease gives nothing back');
    await settleDeliveries(db(), [{ ...key, kind: 'release' }]);
    const received = await endpoint.waitFor((all) => all.length === 2, 'the delivery given back');
    assert.equal(received[1]?.headers['webhook-id'], event.id);
    const logged = await eventually(
      () => attemptsListed(api, webhook.id),
      (data) => data.some((entry) => entry.seq === event.seq),
      'its attempt listed',
    );
    assert.equal(logged.find((entry) => entry.seq === event.seq)?.attempt, 1);
  });
});
