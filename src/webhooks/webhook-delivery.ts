import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../db/database.js';
import { removeInBatches } from '../db/retention.js';
import { inTransaction } from '../db/transaction.js';
import { toEvent } from '../events/event.mapper.js';
import type { EventRow } from '../events/event.repository.js';
import {
  type AttemptRecord,
  type ClaimedDelivery,
  claimDeliveries,
  type DeliveryKey,
  type DeliveryResult,
  findEventsBySeq,
  findHeadEvents,
  type HeadEvent,
  insertAttempts,
  insertTestAttempt,
  type LeasedHead,
  leaseHeads,
  lockWebhooksInOrder,
  pruneAttempts,
  type QueuedDelivery,
  recordWebhookHealth,
  releaseHeadLeases,
  renewHeadLeases,
  renewLeases,
  settleDeliveries,
  settleHead,
  type WebhookHealth,
} from './webhook.repository.js';
import { DestinationRefusedError, destinationLookup, hostOf, refusedAddressReason } from './webhook-destination.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * When each attempt of a delivery is made, counted from the previous attempt's end: the first at
 * once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later (about 3.1 days in all),
 * each delay varied by ±20 % so that a recovering endpoint is not hit by every retry at once. A
 * delivery that fails its last attempt is dropped (logged as failed); replay sends it again.
 */
export const WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  0,
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
];
const JITTER = 0.2;
/** A webhook whose deliveries have all failed for this long (no success in between) is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * DAY;
/** The endpoint must answer (status line and headers) within this; any 2xx is a success. */
export const DEFAULT_TIMEOUT_MS = 10 * SECOND;

export interface WebhookDeliveryOptions {
  /** false: this process sends nothing in the background (test sends still go). Default true. */
  enabled?: boolean;
  /** Delays before each attempt (WEBHOOK_RETRY_SCHEDULE_MS); its length is the number of attempts. */
  retryScheduleMs?: readonly number[];
  timeoutMs?: number;
  /** How often due deliveries are looked for besides the wake-ups after events are numbered. */
  pollIntervalMs?: number;
  /** Deliveries this process sends at once, over all webhooks. */
  maxInFlight?: number;
  /** Deliveries this process sends at once to one webhook, so a slow endpoint holds few slots. */
  maxInFlightPerWebhook?: number;
  /** DNS servers (`address` or `address:port`) that resolve endpoint hosts; empty: the system's. */
  dnsServers?: readonly string[];
  /** Told of every attempt made in the background (metrics). */
  onAttempt?: (outcome: 'succeeded' | 'retrying' | 'failed') => void;
}

interface Settings extends Required<WebhookDeliveryOptions> {
  allowPrivateNetworks: boolean;
  retentionDays: number;
  agents: { http: http.Agent; https: https.Agent };
}

// Past this, a response body is not read further: only the status matters.
const MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_ERROR_LENGTH = 500;
// Passes run back to back while there is work, but at most this often: every numbering pass wakes
// the worker, and under a steady write load that would otherwise mean a dispatch and a claim
// statement per write. A pass a few milliseconds later serves every event numbered meanwhile.
const MIN_PASS_INTERVAL_MS = 20;
// Events per head lease at most: bounds what one webhook's batch holds in memory and records in one
// transaction. Under a steady load a head holds what was numbered since the previous one ended.
const HEAD_EVENTS = 500;
// A head is recorded once its sends are done or after this long, whichever comes first. Sends still
// in flight then become leased pending deliveries (settled like claimed ones), so one slow answer
// holds back only its own record's later events, not the webhook's next head.
const HEAD_SPILL_MS = 200;
// A claimed delivery's lease. It lasts the timeout plus LEASE_MARGIN_MS, and the process renews it
// every LEASE_RENEW_MS for as long as it holds the delivery (sending it, or keeping its result until
// it is recorded), so pool waits and slow recordings do not outlast it. A killed process renews
// nothing: its deliveries are taken again once the margin past the timeout has gone by.
const LEASE_MARGIN_MS = 15 * SECOND;
const LEASE_RENEW_MS = 5 * SECOND;
// A delivery is sent only while its lease still covers the timeout and this much more: one sent
// later could outlast the lease should renewals stop (the database out of reach), and another
// process would send it too. It is given back instead, unattempted.
const SEND_LEASE_RESERVE_MS = 5 * SECOND;
const PRUNE_INTERVAL_MS = 10 * MINUTE;
const PRUNE_BATCH = 10_000;
// Results kept for recording while the database is unreachable; past this the oldest are dropped
// (their leases expire and the deliveries are sent again: at least once still holds).
const MAX_UNRECORDED = 10_000;

/** What a send needs to know: its time budget, and which destinations it may reach and how it finds them. */
export interface SendSettings {
  timeoutMs: number;
  allowPrivateNetworks: boolean;
  dnsServers?: readonly string[];
  /** Keep-alive pools; absent, every request has a connection of its own. */
  agents?: { http: http.Agent; https: https.Agent };
}

/**
 * Connection pools for one deliverer. Reusing a connection saves a TCP (and TLS) handshake per
 * delivery, which at a steady event rate is most of what sending costs. Safe against rebinding: a
 * pooled connection goes to an address destinationLookup checked when it was opened, under the
 * same settings, as the pools belong to one deliverer. Idle connections close after a while, so
 * none is held to an endpoint that has gone quiet.
 */
export function deliveryAgents(): { http: http.Agent; https: https.Agent } {
  // No socket cap: a pool is per host and port, shared by every webhook on that host, and a request
  // queued in it would spend its timeout waiting for another customer's slow endpoint. The
  // deliverer's own caps (maxInFlight, maxInFlightPerWebhook) bound the connections.
  const options = { keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: 16, timeout: 30 * SECOND };
  return { http: new http.Agent(options), https: new https.Agent(options) };
}

export interface HttpOutcome {
  statusCode: number | null;
  durationMs: number;
  error: string | null;
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

function describeError(error: unknown): string {
  let text: string;
  if (error instanceof TimeoutError || error instanceof DestinationRefusedError) text = error.message;
  else if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    text = typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  } else text = String(error);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}

/**
 * POSTs one signed message. Resolves (never rejects) with the status, or with why none came: the
 * destination refused, a connection error, or the timeout. The connection goes to an address
 * destinationLookup checked, opened for this request or kept from an earlier one (settings.agents).
 */
function post(
  url: string,
  headers: Record<string, string>,
  body: string,
  settings: SendSettings,
): Promise<HttpOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (statusCode: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      resolve({ statusCode, durationMs: Math.round(performance.now() - started), error });
    };
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      settle(null, 'the URL is not valid');
      return;
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      settle(null, 'the URL is not http or https');
      return;
    }
    const host = hostOf(target);
    // An address in the URL is connected to without a lookup, so it is checked here.
    if (!settings.allowPrivateNetworks && net.isIP(host) !== 0) {
      const reason = refusedAddressReason(host);
      if (reason !== null) {
        settle(null, `the address ${host}, which ${reason}, may not be a webhook's destination`);
        return;
      }
    }
    const request = (target.protocol === 'https:' ? https : http).request({
      method: 'POST',
      hostname: host,
      port: target.port === '' ? undefined : Number(target.port),
      path: `${target.pathname}${target.search}`,
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      agent:
        settings.agents === undefined
          ? false
          : target.protocol === 'https:'
            ? settings.agents.https
            : settings.agents.http,
      lookup: destinationLookup({
        allowPrivateNetworks: settings.allowPrivateNetworks,
        budgetMs: settings.timeoutMs,
        servers: settings.dnsServers ?? [],
      }),
    });
    const timer = setTimeout(
      () => request.destroy(new TimeoutError(`no answer within ${settings.timeoutMs} ms`)),
      settings.timeoutMs,
    );
    request.on('response', (response) => {
      settle(response.statusCode ?? null, null);
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_RESPONSE_BYTES) request.destroy();
      });
      response.on('error', () => {});
    });
    request.on('error', (error) => settle(null, describeError(error)));
    request.on('close', () => clearTimeout(timer));
    request.end(body);
  });
}

export interface WebhookMessage {
  /** The event id: `webhook-id`, the same on every attempt. */
  id: string;
  type: string;
  timestamp: string;
  data: unknown;
}

/**
 * `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the secret's base64 part, as
 * Standard Webhooks specifies. Node's own HMAC rather than the standardwebhooks package's JavaScript
 * one, which costs several times more per message; the tests verify every delivery with the package.
 */
function signature(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** Sends one message as Standard Webhooks has it: signed over `{id}.{timestamp}.{body}`. */
export async function sendMessage(
  target: { url: string; secret: string },
  message: WebhookMessage,
  settings: SendSettings,
): Promise<HttpOutcome> {
  const body = JSON.stringify({ type: message.type, timestamp: message.timestamp, data: message.data });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'contacts-sync-api-webhooks/1',
    'webhook-id': message.id,
    'webhook-timestamp': timestamp,
    'webhook-signature': signature(target.secret, message.id, timestamp, body),
  };
  return post(target.url, headers, body, settings);
}

export function eventMessage(row: EventRow): WebhookMessage {
  const event = toEvent(row);
  return { id: event.id, type: event.type, timestamp: event.occurredUtc, data: event };
}

export function isSuccess(statusCode: number | null): boolean {
  return statusCode !== null && statusCode >= 200 && statusCode < 300;
}

function keyOf(delivery: ClaimedDelivery): DeliveryKey {
  return {
    organizationId: delivery.organization_id,
    webhookId: delivery.webhook_id,
    seq: delivery.seq,
    leaseId: delivery.lease_id,
  };
}

function heldId(key: DeliveryKey): string {
  return `${key.organizationId}/${key.webhookId}/${key.seq}/${key.leaseId}`;
}

/** A claimed delivery given back unattempted. */
function released(delivery: ClaimedDelivery): Settled {
  return { attempt: null, delivery: { ...keyOf(delivery), kind: 'release' }, reachedEndpoint: false };
}

function jittered(delayMs: number): number {
  return Math.round(delayMs * (1 - JITTER + Math.random() * 2 * JITTER));
}

interface Settled {
  /** Null when the delivery was given back unattempted. */
  attempt: AttemptRecord | null;
  delivery: DeliveryResult;
  /** False when the endpoint was never asked (the event is gone): the webhook's health is not its business. */
  reachedEndpoint: boolean;
  /** A first attempt that outlasted its head: its row exists once that head is recorded, not before. */
  after?: HeadResult;
}

/** A head's first attempts, sent: what recording it writes (see settleHead). */
interface HeadResult {
  head: LeasedHead;
  attempts: Array<{ attempt: AttemptRecord; reachedEndpoint: boolean }>;
  queued: QueuedDelivery[];
  recorded: boolean;
}

function headId(head: LeasedHead): string {
  return `${head.organization_id}/${head.webhook_id}/${head.lease_id}`;
}

function queuedOf(event: EventRow, attempts: number, nextAttemptAt: Date | null): QueuedDelivery {
  return {
    seq: event.seq,
    eventId: event.id,
    eventType: event.type,
    resourceId: event.resource_id,
    attempts,
    nextAttemptAt,
  };
}

/** Per webhook, what a batch of results says about its endpoint (see recordWebhookHealth). */
function healthOf(batch: ReadonlyArray<Pick<Settled, 'attempt' | 'reachedEndpoint'>>): WebhookHealth[] {
  const byWebhook = new Map<string, WebhookHealth>();
  const ordered = batch
    .flatMap((entry) => (entry.reachedEndpoint && entry.attempt !== null ? [entry.attempt] : []))
    .sort((a, b) => a.attemptedAt.getTime() - b.attemptedAt.getTime());
  for (const attempt of ordered) {
    const key = `${attempt.organizationId}/${attempt.webhookId}`;
    const health = byWebhook.get(key) ?? {
      organizationId: attempt.organizationId,
      webhookId: attempt.webhookId,
      failingSince: null,
      succeeded: false,
      gone: false,
    };
    if (attempt.outcome === 'succeeded') {
      health.succeeded = true;
      health.failingSince = null;
    } else {
      health.failingSince ??= attempt.attemptedAt;
      if (attempt.statusCode === 410) health.gone = true;
    }
    byWebhook.set(key, health);
  }
  return [...byWebhook.values()];
}

/**
 * The process's webhook deliverer. A pass leases webhook heads (leaseHeads: the events a webhook has
 * not had a first attempt at) and sends those straight from the event log, then leases due pending
 * deliveries (claimDeliveries: retries, replays, events queued behind a pending one of their record)
 * and sends them. Sends run concurrently, each on its own promise, so a slow endpoint occupies its
 * own slots and nothing else: the in-flight caps bound sockets and memory, and the API's requests
 * never wait for a delivery. A webhook that answers 2xx within HEAD_SPILL_MS costs one attempt row
 * per event; webhook_deliveries gets only what needs another attempt, what waits behind a pending
 * delivery of its record, and sends slower than HEAD_SPILL_MS. Results are recorded in batches, one
 * transaction for whatever finished while the previous batch was being written (and one per head).
 * Passes run when events were numbered in this process (EventLog.onSequenced), when a send
 * finishes, and on a timer, which also picks up what other processes numbered and the leases of
 * a process that died. All state that matters is in PostgreSQL; several processes share the work.
 */
export class WebhookDelivery {
  readonly #db: Db;
  readonly #log: FastifyBaseLogger;
  readonly #settings: Settings;
  readonly #leaseMs: number;
  /** Deliveries claimed and not yet settled in the database, with when their lease ends at the latest (performance.now()). */
  readonly #held = new Map<string, { key: DeliveryKey; leaseEnds: number }>();
  /** Head leases held, likewise (until their results are recorded). */
  readonly #heldHeads = new Map<string, { head: LeasedHead; leaseEnds: number }>();
  #renewing = false;
  #started = false;
  #closed = false;
  #timers: NodeJS.Timeout[] = [];
  #passing: Promise<void> | null = null;
  #passAgain = false;
  /** Deliveries in flight per webhook id. */
  readonly #inFlight = new Map<string, number>();
  readonly #sends = new Set<Promise<void>>();
  #results: Settled[] = [];
  #headResults: HeadResult[] = [];
  #recording: Promise<void> | null = null;
  #recordAgain = false;
  #pruning = false;

  constructor(
    db: Db,
    log: FastifyBaseLogger,
    settings: { allowPrivateNetworks: boolean; retentionDays: number } & WebhookDeliveryOptions,
  ) {
    this.#db = db;
    this.#log = log;
    this.#settings = {
      enabled: true,
      retryScheduleMs: WEBHOOK_RETRY_SCHEDULE_MS,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      pollIntervalMs: 250,
      maxInFlight: 64,
      maxInFlightPerWebhook: 16,
      dnsServers: [],
      onAttempt: () => {},
      ...settings,
      agents: deliveryAgents(),
    };
    if (this.#settings.retryScheduleMs.length === 0) throw new Error('retryScheduleMs needs at least one attempt');
    // First attempts are made as soon as a head is leased (see #deliverHead).
    if (this.#settings.retryScheduleMs[0] !== 0)
      throw new Error('retryScheduleMs must start with 0 (an immediate first attempt)');
    // Covers a send and, with renewals, the recording of its result. A lease outliving it means the
    // process died or lost the database, and another takes the delivery again: longer would hold a
    // killed process's deliveries back for longer, shorter would risk sending an attempt twice.
    this.#leaseMs = this.#settings.timeoutMs + LEASE_MARGIN_MS;
  }

  /** The DNS servers deliveries resolve endpoint hosts with; empty: the system's. */
  get dnsServers(): readonly string[] {
    return this.#settings.dnsServers;
  }

  start(): void {
    if (!this.#settings.enabled || this.#started || this.#closed) return;
    this.#started = true;
    const poll = setInterval(() => this.wake(), this.#settings.pollIntervalMs);
    const prune = setInterval(() => {
      this.prune().catch((error: unknown) => this.#log.warn({ err: error }, 'pruning webhook attempts failed'));
    }, PRUNE_INTERVAL_MS);
    const renew = setInterval(() => this.#renewLeases(), LEASE_RENEW_MS);
    poll.unref();
    prune.unref();
    renew.unref();
    this.#timers.push(poll, prune, renew);
    this.wake();
  }

  /** Runs a pass soon: at once, or right after the one running. */
  wake(): void {
    if (!this.#started || this.#closed) return;
    if (this.#passing !== null) {
      this.#passAgain = true;
      return;
    }
    this.#passing = this.#runPasses().finally(() => {
      this.#passing = null;
    });
  }

  async #runPasses(): Promise<void> {
    do {
      this.#passAgain = false;
      try {
        await this.#pass();
      } catch (error) {
        // The next poll tries again; nothing is lost, as everything is in the database.
        this.#log.warn({ err: error }, 'webhook delivery pass failed; retrying');
        return;
      }
      if (this.#passAgain && !this.#closed) {
        await new Promise((resolve) => setTimeout(resolve, MIN_PASS_INTERVAL_MS).unref());
      }
    } while (this.#passAgain && !this.#closed);
  }

  async #pass(): Promise<void> {
    // Results a failed recording left behind.
    if (this.#results.length > 0 || this.#headResults.length > 0) this.#record();
    if (this.#closed) return;
    if (this.#freeSlots() > 0) await this.#headPass(this.#freeSlots());
    const free = this.#freeSlots();
    if (free <= 0 || this.#closed) return;
    // The leases end no earlier than this: the database starts them after the claim is sent.
    const leaseEnds = performance.now() + this.#leaseMs;
    const claimed = await claimDeliveries(this.#db, {
      limit: free,
      perWebhook: this.#settings.maxInFlightPerWebhook,
      inFlight: this.#inFlight,
      leaseMs: this.#leaseMs,
    });
    if (claimed.length === 0) return;
    // A full claim may have left due deliveries behind.
    if (claimed.length === free) this.#passAgain = true;
    for (const delivery of claimed) {
      const key = keyOf(delivery);
      this.#held.set(heldId(key), { key, leaseEnds });
    }
    const events = await findEventsBySeq(this.#db, claimed).catch((error: unknown) => {
      // Given back rather than left to their leases (nothing was sent): due again at the next claim.
      this.#results.push(...claimed.map((delivery) => released(delivery)));
      this.#record();
      throw error;
    });
    for (const delivery of claimed) {
      this.#send(delivery, events.get(`${delivery.organization_id}/${delivery.seq}`));
    }
  }

  #freeSlots(): number {
    let inFlight = 0;
    for (const count of this.#inFlight.values()) inFlight += count;
    return this.#settings.maxInFlight - inFlight;
  }

  /** Leases webhook heads, as many as `free` slots fill at the per-webhook cap, and starts sending them. */
  async #headPass(free: number): Promise<void> {
    const perWebhook = this.#settings.maxInFlightPerWebhook;
    const maxWebhooks = Math.max(1, Math.floor(free / perWebhook));
    // Webhooks at their cap here are left to the processes (or passes) that have room for them.
    const full = [...this.#inFlight].filter(([, count]) => count >= perWebhook).map(([id]) => id);
    // The leases end no earlier than this: the database starts them after the statement is sent.
    const leaseEnds = performance.now() + this.#leaseMs;
    const heads = await leaseHeads(this.#db, { maxWebhooks, maxEvents: HEAD_EVENTS, leaseMs: this.#leaseMs, full });
    if (heads.length === 0) return;
    if (heads.length === maxWebhooks) this.#passAgain = true;
    for (const head of heads) this.#heldHeads.set(headId(head), { head, leaseEnds });
    let events: Map<string, HeadEvent[]>;
    try {
      events = await findHeadEvents(this.#db, heads);
    } catch (error) {
      // Nothing was sent: given back, so the heads are taken again (or lapse, with the database away).
      this.#giveBackHeads(heads);
      throw error;
    }
    let slots = this.#freeSlots();
    for (const head of heads) {
      const room = Math.max(1, Math.min(perWebhook - (this.#inFlight.get(head.webhook_id) ?? 0), slots));
      slots -= room;
      const task = this.#deliverHead(head, events.get(`${head.organization_id}/${head.webhook_id}`) ?? [], room)
        .then((result) => {
          this.#headResults.push(result);
        })
        .catch((error: unknown) => {
          this.#giveBackHeads([head]);
          this.#log.error({ err: error }, 'webhook head delivery failed unexpectedly');
        })
        .finally(() => {
          this.#sends.delete(task);
          this.#record();
        });
      this.#sends.add(task);
    }
  }

  /**
   * Makes the first attempts of a head's events. Events of one record go one after the other, in seq
   * order, and different records in parallel up to the per-webhook cap. A failure queues the event's
   * retry, and the record's later events behind it (they must not overtake it); an event whose
   * record already had a delivery pending is queued behind that one unsent. What the lease no
   * longer covers, or what follows a 410, is queued unattempted. After HEAD_SPILL_MS the head is
   * answered with what is done: the sends in flight become leased deliveries, and what has not
   * started is queued.
   */
  /** Head leases dropped unrecorded: released in the database when it answers, else they lapse. */
  #giveBackHeads(heads: readonly LeasedHead[]): void {
    for (const head of heads) this.#heldHeads.delete(headId(head));
    releaseHeadLeases(this.#db, heads).catch((error: unknown) =>
      this.#log.warn({ err: error }, 'giving webhook head leases back failed; they lapse'),
    );
  }

  /** Tells the metrics of an attempt; a failing listener must not lose the attempt's result. */
  #reportAttempt(outcome: 'succeeded' | 'retrying' | 'failed'): void {
    try {
      this.#settings.onAttempt(outcome);
    } catch (error) {
      this.#log.warn({ err: error }, 'onAttempt listener failed');
    }
  }

  async #deliverHead(head: LeasedHead, events: readonly HeadEvent[], maxLanes: number): Promise<HeadResult> {
    const result: HeadResult = { head, attempts: [], queued: [], recorded: false };
    const chains = new Map<string, EventRow[]>();
    for (const { event, blocked } of events) {
      if (blocked) {
        result.queued.push(queuedOf(event, 0, null));
        continue;
      }
      const chain = chains.get(event.resource_id);
      if (chain === undefined) chains.set(event.resource_id, [event]);
      else chain.push(event);
    }
    let gone = false;
    let spilled = false;
    const sending = new Set<{ event: EventRow; followers: readonly EventRow[]; leaseId: string | null }>();
    const runChain = async (chain: readonly EventRow[]) => {
      for (const [index, event] of chain.entries()) {
        if (gone || !this.#headLeaseCovers(head)) {
          for (const rest of chain.slice(index)) result.queued.push(queuedOf(rest, 0, new Date()));
          return;
        }
        const send = { event, followers: chain.slice(index + 1), leaseId: null as string | null };
        sending.add(send);
        const attempt = await this.#attemptEvent(head, event, 1);
        sending.delete(send);
        this.#reportAttempt(attempt.attempt.outcome);
        if (send.leaseId !== null) {
          this.#results.push(this.#spilledResult(head, send.leaseId, attempt, result));
          this.#record();
          return;
        }
        result.attempts.push(attempt);
        if (attempt.attempt.outcome === 'succeeded') continue;
        if (attempt.attempt.statusCode === 410) gone = true;
        const nextAttemptAt = this.#nextAttemptAt(attempt.attempt);
        if (nextAttemptAt !== null) result.queued.push(queuedOf(event, 1, nextAttemptAt));
        // Due with its retry, or at once when it was given up.
        for (const follower of chain.slice(index + 1)) {
          result.queued.push(queuedOf(follower, 0, nextAttemptAt ?? new Date()));
        }
        return;
      }
    };
    const pending = [...chains.values()];
    const lanes = Math.min(pending.length, maxLanes);
    const webhookId = head.webhook_id;
    this.#inFlight.set(webhookId, (this.#inFlight.get(webhookId) ?? 0) + lanes);
    // Each lane gives its slot back when it ends, so one slow send holds one slot, not the head's.
    const sends = Promise.all(
      Array.from({ length: lanes }, async () => {
        try {
          for (let chain = pending.shift(); chain !== undefined && !spilled; chain = pending.shift()) {
            await runChain(chain);
          }
        } finally {
          const left = (this.#inFlight.get(webhookId) ?? 1) - 1;
          if (left > 0) this.#inFlight.set(webhookId, left);
          else this.#inFlight.delete(webhookId);
        }
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      sends.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), HEAD_SPILL_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if (done) return result;
    spilled = true;
    const sent = sends.then(
      () => {},
      (error: unknown) => this.#log.error({ err: error }, 'webhook head delivery failed unexpectedly'),
    );
    this.#sends.add(sent);
    void sent.finally(() => this.#sends.delete(sent));
    const leaseEnds = this.#heldHeads.get(headId(head))?.leaseEnds ?? performance.now();
    for (const send of sending) {
      send.leaseId = randomUUID();
      result.queued.push({ ...queuedOf(send.event, 1, null), leaseId: send.leaseId });
      const key = { organizationId: head.organization_id, webhookId, seq: send.event.seq, leaseId: send.leaseId };
      this.#held.set(heldId(key), { key, leaseEnds });
      // Due, but not taken before the one in flight is settled: claims take a record's earliest only.
      for (const follower of send.followers) result.queued.push(queuedOf(follower, 0, new Date()));
    }
    for (const chain of pending.splice(0)) {
      for (const event of chain) result.queued.push(queuedOf(event, 0, new Date()));
    }
    return result;
  }

  /** The result of a first attempt that outlasted its head, as a claimed delivery's (see #deliverHead). */
  #spilledResult(
    head: LeasedHead,
    leaseId: string,
    { attempt, reachedEndpoint }: HeadResult['attempts'][number],
    after: HeadResult,
  ): Settled {
    const key = { organizationId: head.organization_id, webhookId: head.webhook_id, seq: attempt.seq ?? 0, leaseId };
    return { attempt, delivery: this.#settledDelivery(key, attempt), reachedEndpoint, after };
  }

  /** Whether a head's lease still covers a send that runs to the timeout (see SEND_LEASE_RESERVE_MS). */
  #headLeaseCovers(head: LeasedHead): boolean {
    const leaseLeft = (this.#heldHeads.get(headId(head))?.leaseEnds ?? 0) - performance.now();
    return leaseLeft >= this.#settings.timeoutMs + SEND_LEASE_RESERVE_MS;
  }

  /**
   * Attempt number `attempt` at an event, as an attempt record: sent, or why it was not. It is
   * `retrying` when it failed and the schedule has another attempt, `failed` when it was the last
   * (or the endpoint answered 410 Gone).
   */
  async #attemptEvent(
    target: { organization_id: string; webhook_id: string; url: string; secret: string },
    event: EventRow,
    attempt: number,
  ): Promise<{ attempt: AttemptRecord; reachedEndpoint: boolean }> {
    const attemptedAt = new Date();
    let outcome: HttpOutcome;
    let reachedEndpoint = false;
    try {
      outcome = await sendMessage(target, eventMessage(event), this.#settings);
      reachedEndpoint = true;
    } catch (error) {
      // Never sent (a stored event the mapper cannot read, a secret that is not base64): retried and
      // dropped on the schedule like any failure, rather than failing the same way forever.
      this.#log.error({ err: error, webhookId: target.webhook_id, seq: event.seq }, 'webhook message not sent');
      outcome = { statusCode: null, durationMs: 0, error: 'the message could not be built; see the server log' };
    }
    const final =
      isSuccess(outcome.statusCode) ||
      outcome.statusCode === 410 ||
      this.#settings.retryScheduleMs[attempt] === undefined;
    return {
      attempt: {
        organizationId: target.organization_id,
        webhookId: target.webhook_id,
        eventId: event.id,
        seq: event.seq,
        eventType: event.type,
        attempt,
        attemptedAt,
        ...outcome,
        outcome: isSuccess(outcome.statusCode) ? 'succeeded' : final ? 'failed' : 'retrying',
      },
      reachedEndpoint,
    };
  }

  /** When a retrying attempt is made again (its schedule's next delay, jittered); null when it is not. */
  #nextAttemptAt(attempt: AttemptRecord): Date | null {
    const delay = attempt.outcome === 'retrying' ? this.#settings.retryScheduleMs[attempt.attempt] : undefined;
    return delay === undefined ? null : new Date(Date.now() + jittered(delay));
  }

  /** Extends the leases of the deliveries and heads this process holds; see LEASE_RENEW_MS. */
  #renewLeases(): void {
    if (this.#renewing || (this.#held.size === 0 && this.#heldHeads.size === 0)) return;
    this.#renewing = true;
    const started = performance.now();
    const heads = renewHeadLeases(
      this.#db,
      [...this.#heldHeads.values()].map((entry) => entry.head),
      this.#leaseMs,
    ).then((renewed) => {
      const ids = new Set(renewed.map((row) => `${row.organization_id}/${row.id}/${row.head_lease_id}`));
      for (const entry of this.#heldHeads.values()) {
        if (ids.has(headId(entry.head))) {
          entry.leaseEnds = Math.max(entry.leaseEnds, started + this.#leaseMs);
        }
      }
    });
    renewLeases(
      this.#db,
      [...this.#held.values()].map((entry) => entry.key),
      this.#leaseMs,
    )
      .then((renewed) => {
        for (const row of renewed) {
          const entry = this.#held.get(
            heldId({
              organizationId: row.organization_id,
              webhookId: row.webhook_id,
              seq: row.seq,
              leaseId: row.lease_id,
            }),
          );
          if (entry !== undefined) entry.leaseEnds = Math.max(entry.leaseEnds, started + this.#leaseMs);
        }
      })
      .then(() => heads)
      .catch((error: unknown) => this.#log.warn({ err: error }, 'renewing webhook delivery leases failed; retrying'))
      .finally(() => {
        this.#renewing = false;
      });
    heads.catch(() => {});
  }

  #send(delivery: ClaimedDelivery, event: EventRow | undefined): void {
    const webhookId = delivery.webhook_id;
    this.#inFlight.set(webhookId, (this.#inFlight.get(webhookId) ?? 0) + 1);
    const task = this.#attempt(delivery, event)
      .then((settled) => {
        if (settled.attempt !== null) this.#reportAttempt(settled.attempt.outcome);
        this.#results.push(settled);
        if (this.#results.length > MAX_UNRECORDED) {
          // Dropped: their leases lapse and other processes take them again.
          for (const dropped of this.#results.splice(0, this.#results.length - MAX_UNRECORDED)) {
            this.#held.delete(heldId(dropped.delivery));
          }
        }
      })
      .catch((error: unknown) => this.#log.error({ err: error }, 'webhook delivery attempt failed unexpectedly'))
      .finally(() => {
        const left = (this.#inFlight.get(webhookId) ?? 1) - 1;
        if (left > 0) this.#inFlight.set(webhookId, left);
        else this.#inFlight.delete(webhookId);
        this.#sends.delete(task);
        this.#record();
      });
    this.#sends.add(task);
  }

  async #attempt(delivery: ClaimedDelivery, event: EventRow | undefined): Promise<Settled> {
    const key = keyOf(delivery);
    // Sent now, it could outlast its lease (see SEND_LEASE_RESERVE_MS): given back instead.
    const leaseLeft = (this.#held.get(heldId(key))?.leaseEnds ?? 0) - performance.now();
    if (event !== undefined && leaseLeft < this.#settings.timeoutMs + SEND_LEASE_RESERVE_MS) {
      this.#log.warn(
        { organizationId: delivery.organization_id, webhookId: delivery.webhook_id, seq: delivery.seq, leaseLeft },
        'webhook delivery given back unsent: too little of its lease was left',
      );
      return released(delivery);
    }
    if (event !== undefined) {
      const sent = await this.#attemptEvent(delivery, event, delivery.attempts);
      return { ...sent, delivery: this.#settledDelivery(key, sent.attempt) };
    }
    // Pruned past retention while pending: logged as a last, failed attempt, and dropped.
    const attempt: AttemptRecord = {
      organizationId: delivery.organization_id,
      webhookId: delivery.webhook_id,
      eventId: delivery.event_id,
      seq: delivery.seq,
      eventType: delivery.event_type,
      attempt: delivery.attempts,
      attemptedAt: new Date(),
      statusCode: null,
      durationMs: 0,
      error: 'the event is no longer kept (EVENT_RETENTION_DAYS)',
      outcome: 'failed',
    };
    return { attempt, delivery: { ...key, kind: 'done' }, reachedEndpoint: false };
  }

  /** What becomes of a leased delivery after its attempt: retried on the schedule, or done. */
  #settledDelivery(key: DeliveryKey, attempt: AttemptRecord): DeliveryResult {
    const nextAttemptAt = this.#nextAttemptAt(attempt);
    return nextAttemptAt === null ? { ...key, kind: 'done' } : { ...key, kind: 'retry', nextAttemptAt };
  }

  /** Records finished attempts: at once, or right after the batch being written (which this one then joins). */
  #record(): void {
    if (this.#recording !== null) {
      this.#recordAgain = true;
      return;
    }
    this.#recording = (async () => {
      do {
        this.#recordAgain = false;
        await this.#recordBatch();
      } while (this.#recordAgain && (this.#results.length > 0 || this.#headResults.length > 0));
    })()
      .catch((error: unknown) => this.#log.warn({ err: error }, 'recording webhook attempts failed; retrying'))
      .finally(() => {
        this.#recording = null;
        // A delivered event may have been holding back the next one of its resource.
        this.wake();
      });
  }

  async #recordBatch(): Promise<void> {
    // Heads first: the rows of their first attempts still in flight exist once they are recorded.
    await this.#recordHeads();
    await this.#recordRows();
  }

  /** Records finished heads, each in its own transaction, which locks that webhook's row only. */
  async #recordHeads(): Promise<void> {
    const heads = this.#headResults.splice(0);
    for (const [index, result] of heads.entries()) {
      try {
        const disabled = await inTransaction(this.#db, async (trx) => {
          const settled = await settleHead(trx, result.head, result.queued, this.#leaseMs);
          if (settled === null) return null;
          await insertAttempts(
            trx,
            result.attempts.map((entry) => entry.attempt),
          );
          // A healthy webhook whose attempts all succeeded has no health to change.
          const healthy =
            settled.failingSince === null && result.attempts.every((entry) => entry.attempt.outcome === 'succeeded');
          return healthy ? [] : recordWebhookHealth(trx, healthOf(result.attempts), DISABLE_AFTER_FAILING_MS);
        });
        this.#heldHeads.delete(headId(result.head));
        result.recorded = true;
        if (disabled === null) {
          this.#log.warn(
            { organizationId: result.head.organization_id, webhookId: result.head.webhook_id },
            'webhook head lease lost before its attempts were recorded; its next holder sends them again',
          );
        }
        for (const webhook of disabled ?? []) {
          this.#log.warn(
            { organizationId: webhook.organization_id, webhookId: webhook.id, reason: webhook.disabled_reason },
            'webhook disabled',
          );
        }
      } catch (error) {
        // Kept for the next try, with their leases renewed meanwhile.
        this.#headResults.unshift(...heads.slice(index));
        throw error;
      }
    }
  }

  async #recordRows(): Promise<void> {
    const waiting = new Set(this.#results.filter((entry) => entry.after !== undefined && !entry.after.recorded));
    const batch = waiting.size === 0 ? this.#results.splice(0) : this.#results.filter((entry) => !waiting.has(entry));
    if (waiting.size > 0) this.#results = [...waiting];
    if (batch.length === 0) return;
    try {
      const disabled = await inTransaction(this.#db, async (trx) => {
        const webhooks = new Map(
          batch.map((entry) => [`${entry.delivery.organizationId}/${entry.delivery.webhookId}`, entry.delivery]),
        );
        await lockWebhooksInOrder(trx, [...webhooks.values()]);
        await insertAttempts(
          trx,
          batch.flatMap((entry) => (entry.attempt === null ? [] : [entry.attempt])),
        );
        await settleDeliveries(
          trx,
          batch.map((entry) => entry.delivery),
        );
        return recordWebhookHealth(trx, healthOf(batch), DISABLE_AFTER_FAILING_MS);
      });
      for (const entry of batch) this.#held.delete(heldId(entry.delivery));
      for (const webhook of disabled) {
        this.#log.warn(
          { organizationId: webhook.organization_id, webhookId: webhook.id, reason: webhook.disabled_reason },
          'webhook disabled',
        );
      }
    } catch (error) {
      // Kept for the next try; a poll records them if nothing else finishes first.
      this.#results.unshift(...batch);
      throw error;
    }
  }

  /** Sends a `webhook.test` message now, records the attempt in the webhook's log and returns it. */
  async sendTest(webhook: { organization_id: string; id: string; url: string; secret: string }) {
    const attemptedAt = new Date();
    const id = randomUUID();
    const outcome = await sendMessage(
      webhook,
      {
        id,
        type: 'webhook.test',
        timestamp: attemptedAt.toISOString(),
        data: { webhookId: webhook.id, message: 'A test delivery, sent by POST /webhooks/{id}/test.' },
      },
      this.#settings,
    );
    return insertTestAttempt(this.#db, {
      organizationId: webhook.organization_id,
      webhookId: webhook.id,
      eventId: id,
      seq: null,
      eventType: 'webhook.test',
      attempt: 1,
      attemptedAt,
      ...outcome,
      outcome: isSuccess(outcome.statusCode) ? 'succeeded' : 'failed',
    });
  }

  /** Removes attempts older than retention; one process at a time. Returns how many. */
  async prune(now: Date = new Date()): Promise<number> {
    if (this.#pruning) return 0;
    this.#pruning = true;
    try {
      const before = new Date(now.getTime() - this.#settings.retentionDays * DAY);
      return await removeInBatches(this.#db, 'contacts-api:prune-webhook-attempts', PRUNE_BATCH, (trx, batch) =>
        pruneAttempts(trx, before, batch),
      );
    } finally {
      this.#pruning = false;
    }
  }

  /** Stops looking for work, lets the sends in flight finish (each within the timeout) and records them. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.#passing;
    // A head answered early leaves its slow sends behind, added as it answers: until none is left.
    while (this.#sends.size > 0) await Promise.allSettled([...this.#sends]);
    await this.#recording;
    if (this.#results.length > 0 || this.#headResults.length > 0) {
      await this.#recordBatch().catch((error: unknown) =>
        this.#log.warn({ err: error }, 'recording webhook attempts at shutdown failed; they will be sent again'),
      );
    }
    this.#settings.agents.http.destroy();
    this.#settings.agents.https.destroy();
  }
}
