import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import type { FastifyInstance } from 'fastify';
import ipaddr from 'ipaddr.js';
import { Webhook } from 'standardwebhooks';
import type { WebhookDeliveryOptions } from '../../../src/webhooks/webhook-delivery.js';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { type Client, client, type Json } from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

export const WEBHOOKS = '/api/v1/webhooks';
export const EVENTS = '/api/v1/network/events';

/**
 * Every webhook test app delivers with these settings. Test files run side by side on one
 * database and any of their workers may take a delivery, so they must all retry alike.
 */
export const TEST_DELIVERY: WebhookDeliveryOptions = {
  retryScheduleMs: [0, 150, 300, 450],
  timeoutMs: 1_000,
  pollIntervalMs: 50,
};
export const ATTEMPTS = TEST_DELIVERY.retryScheduleMs?.length as number;

export const ALL_SCOPES = [
  'contacts.read',
  'contacts.write',
  'companies.read',
  'companies.write',
  'webhooks.read',
  'webhooks.write',
];

export async function webhookOrganization(
  app: FastifyInstance,
  scopes: string[] = ALL_SCOPES,
): Promise<{ org: TestOrganization; api: Client }> {
  const org = await newOrganization(app, { scopes });
  return { org, api: client(app, org) };
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Json;
  /** When the request arrived (Date.now()). */
  at: number;
}

export type Handler = (request: Received, index: number) => number | 'hang' | Promise<number | 'hang'>;

export interface Receiver {
  url: string;
  /** Every request received, in arrival order. */
  received: Received[];
  /** The answer to each request: a status, or 'hang' (never answers). Defaults to 204. */
  handle: Handler;
  /** Resolves once `ready(received)` holds; fails after `timeoutMs`. */
  waitFor(ready: (received: Received[]) => boolean, what: string, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A real HTTP endpoint on 127.0.0.1 that records what it is sent. */
export async function startReceiver(handle: Handler = () => 204): Promise<Receiver> {
  const hanging = new Set<http.ServerResponse>();
  const receiver: Receiver = {
    url: '',
    received: [],
    handle,
    async waitFor(ready, what, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!ready(receiver.received)) {
        if (Date.now() > deadline) {
          assert.fail(`${what}: not within ${timeoutMs} ms; received ${describe(receiver.received)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return receiver.received;
    },
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  // A path of its own: a port reused after another receiver closed may still get that one's retries.
  const path = `/hooks/${randomUUID()}`;
  const server = http.createServer((request, response) => {
    if (request.url !== path) {
      request.resume();
      response.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Json = null;
      try {
        json = JSON.parse(body);
      } catch {
        // Kept as text; the test that cares fails on it.
      }
      const entry: Received = { headers: request.headers, body, json, at: Date.now() };
      const index = receiver.received.push(entry) - 1;
      const status = await receiver.handle(entry, index);
      if (status === 'hang') {
        hanging.add(response);
        response.on('close', () => hanging.delete(response));
        return;
      }
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return receiver;
}

function describe(received: readonly Received[]): string {
  if (received.length === 0) return 'nothing';
  return received.map((entry) => `${entry.json?.type ?? '?'}#${entry.json?.data?.seq ?? '-'}`).join(', ');
}

/** Verifies a received delivery with the standardwebhooks package and returns its parsed body. */
export function verify(secret: string, received: Received): Json {
  const headers = {
    'webhook-id': String(received.headers['webhook-id']),
    'webhook-timestamp': String(received.headers['webhook-timestamp']),
    'webhook-signature': String(received.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(received.body, headers);
}

export async function createWebhook(api: Client, body: Record<string, unknown>): Promise<Json> {
  const response = await api.post(WEBHOOKS, { events: ['*'], ...body });
  assert.equal(response.statusCode, 201, response.body);
  return response.json();
}

/** Polls `read` until `ready` holds of its result; fails with the last result after `timeoutMs`. */
export async function eventually<T>(
  read: () => Promise<T>,
  ready: (value: T) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ready(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The organization's events as GET /events lists them. */
export async function listEvents(api: Client, after = 0): Promise<Json[]> {
  const response = await api.get(`${EVENTS}?after=${after}&limit=500`);
  assert.equal(response.statusCode, 200, response.body);
  return response.json().data;
}

/** The deliveries received for event types other than webhook.test. */
export function eventDeliveries(received: readonly Received[]): Received[] {
  return received.filter((entry) => entry.json?.type !== 'webhook.test');
}

export interface WebhookTestContext {
  /** The file's app, delivering with TEST_DELIVERY; built before its tests. */
  readonly test: TestApp;
  readonly app: FastifyInstance;
  /** A receiver that closes with the app after the file's tests. */
  receiver(handle?: Handler): Promise<Receiver>;
}

/** The app and receivers of one webhook test file (call inside its describe). */
export function useWebhookTestApp(): WebhookTestContext {
  let test: TestApp | null = null;
  const receivers: Receiver[] = [];
  before(async () => {
    test = await createTestApp({}, { webhookDelivery: TEST_DELIVERY });
  });
  after(async () => {
    for (const started of receivers) await started.close();
    await test?.close();
  });
  const current = (): TestApp => {
    if (test === null) throw new Error('the webhook test app starts in before()');
    return test;
  };
  return {
    get test() {
      return current();
    },
    get app() {
      return current().app;
    },
    async receiver(handle) {
      const started = await startReceiver(handle);
      receivers.push(started);
      return started;
    },
  };
}

/** What the test DNS server answers for a name: its addresses, or nothing at all (a blackholed name). */
export type DnsAnswer = string[] | 'never';

export interface DnsServer {
  /** `127.0.0.1:PORT`, for WebhookDeliveryOptions.dnsServers. */
  address: string;
  /** The names asked for, lower-case, with their query type (A, AAAA, …), in arrival order. */
  queries: Array<{ name: string; type: string }>;
  close(): Promise<void>;
}

const DNS_TYPES: Record<number, string> = { 1: 'A', 28: 'AAAA' };

/**
 * A DNS server on UDP 127.0.0.1 that answers A and AAAA queries from `records` (lower-case names):
 * the addresses of the query's family, NXDOMAIN for a name it does not know, and no answer at all
 * for a name mapped to 'never'.
 */
export async function startDnsServer(records: Record<string, DnsAnswer>): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const queries: DnsServer['queries'] = [];
  socket.on('message', (message, peer) => {
    // Header (12 bytes), then the question: length-prefixed labels, a zero, QTYPE and QCLASS.
    const labels: string[] = [];
    let offset = 12;
    while (offset < message.length && message[offset] !== 0) {
      const length = message[offset] as number;
      labels.push(message.toString('latin1', offset + 1, offset + 1 + length));
      offset += 1 + length;
    }
    const questionEnd = offset + 5;
    const name = labels.join('.').toLowerCase();
    const qtype = message.readUInt16BE(offset + 1);
    queries.push({ name, type: DNS_TYPES[qtype] ?? String(qtype) });
    const answer = records[name];
    if (answer === 'never') return;
    const wanted = (answer ?? [])
      .map((address) => ipaddr.parse(address))
      .filter((address) => {
        return (qtype === 1 && address.kind() === 'ipv4') || (qtype === 28 && address.kind() === 'ipv6');
      });
    const header = Buffer.alloc(12);
    header.writeUInt16BE(message.readUInt16BE(0), 0);
    // A response to a recursive query, recursion available; NXDOMAIN for an unknown name.
    header.writeUInt16BE(answer === undefined ? 0x8183 : 0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(wanted.length, 6);
    const answers = wanted.map((address) => {
      const data = Buffer.from(address.toByteArray());
      const record = Buffer.alloc(12);
      record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      record.writeUInt16BE(qtype, 2);
      record.writeUInt16BE(1, 4); // IN
      record.writeUInt32BE(60, 6); // TTL
      record.writeUInt16BE(data.length, 10);
      return Buffer.concat([record, data]);
    });
    socket.send(Buffer.concat([header, message.subarray(12, questionEnd), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
