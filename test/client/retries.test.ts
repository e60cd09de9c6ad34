import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Fetch, ProblemError } from '../../client/src/index.js';
import {
  type ClientOrganization,
  clientForNewOrganization,
  type ListeningApp,
  listeningApp,
  problemResponse,
  recordingSleep,
} from './server.js';

interface Sent {
  method: string;
  path: string;
  idempotencyKey: string | null;
  status: number | 'network error';
  retryAfter: string | null;
}

/**
 * A transport in front of the real server that records every attempt; `intercept` may answer an
 * attempt itself (an outage, a proxy) or return undefined to let it through.
 */
function recordingTransport(
  intercept: (request: Request, attempt: number) => Promise<Response | undefined> | Response | undefined = () =>
    undefined,
): { fetch: Fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fetch: Fetch = async (request) => {
    const record: Sent = {
      method: request.method,
      path: new URL(request.url).pathname,
      idempotencyKey: request.headers.get('idempotency-key'),
      status: 'network error',
      retryAfter: null,
    };
    sent.push(record);
    const response = (await intercept(request, sent.length)) ?? (await globalThis.fetch(request));
    record.status = response.status;
    record.retryAfter = response.headers.get('retry-after');
    return response;
  };
  return { fetch, sent };
}

describe('client retries against the real server', () => {
  let server: ListeningApp;
  before(async () => {
    // 30 a minute: one request every 2 s once the bucket is empty, so Retry-After is 1 or 2 seconds.
    server = await listeningApp({ RATE_LIMIT_PER_MINUTE: '30' });
  });
  after(() => server.close());

  /**
   * Contacts of the organization with this first name, counted where they are stored: the change
   * feed shows a keyed POST's write only once its event is numbered, which may come after the answer.
   */
  async function contactsNamed(organization: ClientOrganization, firstName: string): Promise<number> {
    const row = await server.database.db
      .selectFrom('contacts')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('organization_id', '=', organization.id)
      .where('first_name', '=', firstName)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** Empties the token's bucket (through inject: it is keyed by the token, not the connection). */
  async function exhaustRateLimit(organization: ClientOrganization): Promise<void> {
    for (let i = 0; i < 100; i += 1) {
      const response = await server.app.inject({
        method: 'GET',
        url: '/api/v1/network/contacts?limit=1',
        headers: organization.headers,
      });
      if (response.statusCode === 429) return;
    }
    assert.fail('the rate limit never answered 429');
  }

  it('waits out the Retry-After of a 429, then gets the answer', async () => {
    const transport = recordingTransport();
    const waiting = recordingSleep(1);
    const organization = await clientForNewOrganization(server, {
      fetch: transport.fetch,
      retry: { sleep: waiting.sleep },
    });
    await exhaustRateLimit(organization);

    const started = performance.now();
    const { data } = await organization.client.GET('/api/v1/network/contacts');
    const elapsed = performance.now() - started;

    assert.deepEqual(data.data, []);
    assert.deepEqual(
      transport.sent.map((attempt) => attempt.status),
      [429, 200],
    );
    const retryAfterSeconds = Number(transport.sent[0]?.retryAfter);
    assert.ok(retryAfterSeconds >= 1 && retryAfterSeconds <= 2, `Retry-After ${transport.sent[0]?.retryAfter}`);
    assert.deepEqual(waiting.waits, [retryAfterSeconds * 1000]);
    assert.ok(elapsed >= retryAfterSeconds * 1000 - 50, `answered after ${elapsed} ms`);
  });

  it('fails at once with the 429 when its Retry-After is longer than maxDelayMs', async () => {
    const transport = recordingTransport();
    const waiting = recordingSleep();
    const organization = await clientForNewOrganization(server, {
      fetch: transport.fetch,
      retry: { sleep: waiting.sleep, maxDelayMs: 500 },
    });
    await exhaustRateLimit(organization);

    const error = await organization.client.GET('/api/v1/network/contacts').then(
      () => assert.fail('the call resolved'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof ProblemError);
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate-limited');
    assert.ok(error.retryAfterSeconds !== null && error.retryAfterSeconds >= 1);
    assert.equal(transport.sent.length, 1);
    assert.deepEqual(waiting.waits, []);
  });

  it('retries a 503 after its Retry-After', async () => {
    const transport = recordingTransport((_request, attempt) =>
      attempt === 1 ? problemResponse(503, 'service-unavailable', { 'retry-after': '2' }) : undefined,
    );
    const waiting = recordingSleep();
    const { client } = await clientForNewOrganization(server, {
      fetch: transport.fetch,
      retry: { sleep: waiting.sleep },
    });
    const { response } = await client.GET('/api/v1/network/contacts');
    assert.equal(response.status, 200);
    assert.deepEqual(
      transport.sent.map((attempt) => attempt.status),
      [503, 200],
    );
    assert.deepEqual(waiting.waits, [2000]);
  });

  it('backs off exponentially, capped, when a 503 names no Retry-After, and gives up after maxAttempts', async (t) => {
    // The top of each jitter range, so the schedule itself is visible.
    t.mock.method(Math, 'random', () => 1);
    const transport = recordingTransport(() => problemResponse(503, 'service-unavailable'));
    const waiting = recordingSleep();
    const { client } = await clientForNewOrganization(server, {
      fetch: transport.fetch,
      retry: { sleep: waiting.sleep, maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 300 },
    });
    const error = await client.GET('/api/v1/network/contacts').then(
      () => assert.fail('the call resolved'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof ProblemError);
    assert.equal(error.status, 503);
    assert.equal(transport.sent.length, 5);
    assert.deepEqual(waiting.waits, [100, 200, 300, 300]);
  });

  it('repeats a POST whose answer was lost with the same Idempotency-Key, and the server replays the first answer', async () => {
    const transport = recordingTransport(async (request, attempt) => {
      if (attempt !== 1) return undefined;
      // The server creates the contact; the answer is lost on the way back.
      const answer = await globalThis.fetch(request);
      await answer.body?.cancel();
      throw new TypeError('fetch failed');
    });
    const waiting = recordingSleep();
    const organization = await clientForNewOrganization(server, {
      fetch: transport.fetch,
      retry: { sleep: waiting.sleep },
    });
    // No email: nothing unique in the body, so a second execution would make a second contact.
    const firstName = `Lost ${randomUUID()}`;
    const { data, response } = await organization.client.POST('/api/v1/network/contacts', { body: { firstName } });

    assert.equal(response.status, 201);
    assert.equal(response.headers.get('idempotent-replayed'), 'true');
    assert.equal(data.firstName, firstName);
    assert.equal(transport.sent.length, 2);
    const [first, second] = transport.sent;
    assert.match(first?.idempotencyKey ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(second?.idempotencyKey, first?.idempotencyKey);
    assert.equal(waiting.waits.length, 1);
    assert.equal(await contactsNamed(organization, firstName), 1);
  });

  it("sends the caller's Idempotency-Key, and a new key for each call that brings none", async () => {
    const transport = recordingTransport();
    const { client } = await clientForNewOrganization(server, { fetch: transport.fetch });
    const key = `sync-run-${randomUUID()}`;
    const body = { firstName: 'Keyed', email: `keyed-${randomUUID()}@example.com` };
    const first = await client.POST('/api/v1/network/contacts', {
      params: { header: { 'idempotency-key': key } },
      body,
    });
    const replay = await client.POST('/api/v1/network/contacts', {
      params: { header: { 'idempotency-key': key } },
      body,
    });
    assert.equal(replay.data.id, first.data.id);
    assert.equal(replay.response.headers.get('idempotent-replayed'), 'true');

    await client.POST('/api/v1/network/contacts', { body: { firstName: 'One' } });
    await client.POST('/api/v1/network/contacts', { body: { firstName: 'Two' } });
    const keys = transport.sent.map((attempt) => attempt.idempotencyKey);
    assert.equal(keys[0], key);
    assert.equal(keys[1], key);
    assert.ok(keys[2] && keys[3] && keys[2] !== keys[3] && keys[2] !== key, `keys ${keys.join(', ')}`);
  });

  it('waits and asks again when the first attempt of the same key is still running (409 idempotency-key-in-use)', async () => {
    const transport = recordingTransport((_request, attempt) =>
      attempt === 1 ? problemResponse(409, 'idempotency-key-in-use', { 'retry-after': '1' }) : undefined,
    );
    const waiting = recordingSleep();
    const { client } = await clientForNewOrganization(server, {
      fetch: transport.fetch,
      retry: { sleep: waiting.sleep },
    });
    const { response } = await client.POST('/api/v1/network/contacts/upsert', {
      body: { email: `busy-${randomUUID()}@example.com` },
    });
    assert.equal(response.status, 201);
    assert.deepEqual(waiting.waits, [1000]);
    assert.equal(transport.sent[1]?.idempotencyKey, transport.sent[0]?.idempotencyKey);
  });

  it('does not repeat a POST the server does not deduplicate after a 503 or a lost answer', async () => {
    const outage = recordingTransport(() => problemResponse(503, 'service-unavailable', { 'retry-after': '1' }));
    const waiting = recordingSleep();
    const organization = await clientForNewOrganization(server, {
      fetch: outage.fetch,
      retry: { sleep: waiting.sleep },
    });
    const webhook = { url: 'https://hooks.example.com/contacts', events: ['contact.created'] };
    const error = await organization.client.POST('/api/v1/webhooks', { body: webhook }).then(
      () => assert.fail('the call resolved'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof ProblemError);
    assert.equal(error.status, 503);
    assert.equal(outage.sent.length, 1);

    const lost = recordingTransport(() => {
      throw new TypeError('fetch failed');
    });
    const { client } = await clientForNewOrganization(server, { fetch: lost.fetch, retry: { sleep: waiting.sleep } });
    await assert.rejects(client.POST('/api/v1/webhooks', { body: webhook }), TypeError);
    assert.equal(lost.sent.length, 1);
    assert.deepEqual(waiting.waits, []);
  });

  it('repeats a GET after a network error', async () => {
    const transport = recordingTransport((_request, attempt) => {
      if (attempt === 1) throw new TypeError('fetch failed');
      return undefined;
    });
    const waiting = recordingSleep();
    const { client } = await clientForNewOrganization(server, {
      fetch: transport.fetch,
      retry: { sleep: waiting.sleep, baseDelayMs: 10 },
    });
    const { response } = await client.GET('/api/v1/network/contacts');
    assert.equal(response.status, 200);
    assert.equal(transport.sent.length, 2);
    assert.equal(waiting.waits.length, 1);
    assert.ok((waiting.waits[0] ?? -1) >= 0 && (waiting.waits[0] ?? 99) <= 10);
  });
});
