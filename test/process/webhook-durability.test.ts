import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { ADMIN_TOKEN, databaseUrl } from '../helpers/app.js';
import { killServers, startServer } from '../helpers/process.js';

const SCOPES = ['contacts.read', 'contacts.write', 'webhooks.read', 'webhooks.write'];

interface Receiver {
  url: string;
  /** webhook-id of every request, in arrival order, with the status it was answered. */
  calls: Array<{ id: string; status: number }>;
  close(): Promise<void>;
}

/** An endpoint that answers each request with `status(webhookId)`. */
async function startReceiver(status: (id: string) => number): Promise<Receiver> {
  const calls: Receiver['calls'] = [];
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const id = String(request.headers['webhook-id']);
      const answer = status(id);
      calls.push({ id, status: answer });
      response.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function call(base: string, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null, text };
}

/** A fresh organization with a token that may write contacts and manage webhooks. */
async function organization(base: string): Promise<string> {
  const created = await call(base, 'POST', '/api/v1/admin/organizations', ADMIN_TOKEN, { name: 'Durable' });
  assert.equal(created.status, 201, created.text);
  const token = await call(base, 'POST', `/api/v1/admin/organizations/${created.json.id}/tokens`, ADMIN_TOKEN, {
    scopes: SCOPES,
  });
  assert.equal(token.status, 201, token.text);
  return token.json.token as string;
}

async function until(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function serverEnv(): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl(),
    WEBHOOK_DELIVERY: 'true',
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    RATE_LIMIT_PER_MINUTE: '0',
  };
}

describe('webhook deliveries across server processes', () => {
  after(killServers);

  it('delivers every pending event after the server that owed them is killed with SIGKILL', async () => {
    // Every event's first attempt fails, so all of them are pending (retry in about 5 s) at the kill.
    const attempted = new Set<string>();
    const receiver = await startReceiver((id) => {
      if (attempted.has(id)) return 204;
      attempted.add(id);
      return 503;
    });
    try {
      const first = startServer(serverEnv());
      const firstBase = await first.listening();
      const token = await organization(firstBase);
      const hook = await call(firstBase, 'POST', '/api/v1/webhooks', token, {
        url: receiver.url,
        events: ['contact.*'],
      });
      assert.equal(hook.status, 201, hook.text);
      const COUNT = 20;
      for (let i = 0; i < COUNT; i += 1) {
        const created = await call(firstBase, 'POST', '/api/v1/network/contacts', token, { firstName: `K${i}` });
        assert.equal(created.status, 201, created.text);
      }
      await until(() => attempted.size === COUNT, 'every event attempted once', 10_000);
      first.child.kill('SIGKILL');
      await first.exited();

      const second = startServer(serverEnv());
      await second.listening();
      const delivered = () => new Set(receiver.calls.filter((c) => c.status === 204).map((c) => c.id));
      await until(() => delivered().size === COUNT, 'every event delivered by the restarted server', 30_000);
      assert.deepEqual([...delivered()].sort(), [...attempted].sort());
    } finally {
      await killServers();
      await receiver.close();
    }
  });

  it('shares the deliveries of two server processes: every event once, none sent twice', async () => {
    const receiver = await startReceiver(() => 204);
    try {
      const one = startServer(serverEnv());
      const two = startServer(serverEnv());
      const bases = [await one.listening(), await two.listening()] as const;
      const token = await organization(bases[0]);
      const hook = await call(bases[0], 'POST', '/api/v1/webhooks', token, { url: receiver.url, events: ['*'] });
      assert.equal(hook.status, 201, hook.text);

      const WRITERS = 10;
      const WRITES = 10;
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, writer) => {
          for (let i = 0; i < WRITES; i += 1) {
            const base = bases[(writer + i) % 2] as string;
            const created = await call(base, 'POST', '/api/v1/network/contacts', token, {
              firstName: `W${writer}-${i}`,
            });
            assert.equal(created.status, 201, created.text);
          }
        }),
      );
      const events = await call(bases[1], 'GET', '/api/v1/network/events?limit=500', token);
      assert.equal(events.json.data.length, WRITERS * WRITES);
      const ids = new Set<string>(events.json.data.map((event: { id: string }) => event.id));
      await until(() => new Set(receiver.calls.map((c) => c.id)).size === ids.size, 'every event delivered', 20_000);
      // Let any stray second attempt arrive before counting.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.deepEqual(new Set(receiver.calls.map((c) => c.id)), ids);
      assert.equal(receiver.calls.length, ids.size, 'no event was sent twice');
    } finally {
      await killServers();
      await receiver.close();
    }
  });
});
