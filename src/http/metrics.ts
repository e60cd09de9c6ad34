import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { bearerToken, sameSecret } from '../organizations/api-token.js';
import { IDEMPOTENT_REPLAYED_HEADER } from './idempotency.js';
import { AppError } from './problem.js';
import type { RateLimitEvents } from './rate-limit.js';
import { UPSERT_ACTION_HEADER } from './schemas.js';

/** The pool's counters, as pg.Pool exposes them. */
export interface DatabasePoolStatistics {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

export interface MetricsOptions {
  /** The bearer secret /metrics answers to (METRICS_TOKEN). */
  token: string;
  /** Absent: no database pool gauges. */
  pool?: DatabasePoolStatistics | null;
}

// Requests that match no route share one label: the raw URL would make a series per path a client invents.
const UNMATCHED_ROUTE = 'unmatched';

/**
 * Prometheus metrics at GET /metrics behind `Authorization: Bearer <METRICS_TOKEN>`. Each app has a
 * registry of its own (not prom-client's global one), so that several apps in one process (tests)
 * do not collide. Returns the rate limiter's event sink. Register before the routes it should observe.
 */
/** What the background work reports to /metrics (events/event-log.ts, webhooks/webhook-delivery.ts). */
export interface WorkEvents {
  eventsNumbered(count: number): void;
  webhookAttempt(outcome: 'succeeded' | 'retrying' | 'failed'): void;
}

export function registerMetrics(app: FastifyInstance, { token, pool }: MetricsOptions): RateLimitEvents & WorkEvents {
  const registry = new Registry();
  // Process CPU, memory, GC, handles and the event-loop lag (nodejs_eventloop_lag_seconds).
  collectDefaultMetrics({ register: registry });

  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response, by method, route pattern and status code.',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const upserts = new Counter({
    name: 'upserts_total',
    help:
      'Records upserted, by route and action: a single upsert counts its X-Propstreet-Upsert-Action ' +
      '(created, updated, revived), a stored batch each item (created, updated, revived, unchanged, failed). ' +
      'Idempotent replays and validate-only runs are not counted.',
    labelNames: ['route', 'action'],
    registers: [registry],
  });
  const batchItems = new Histogram({
    name: 'batch_items',
    help: 'Items per stored batch request, by route.',
    labelNames: ['route'],
    buckets: [1, 10, 50, 100, 250, 500, 1000],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
    if (reply.getHeader(IDEMPOTENT_REPLAYED_HEADER) !== undefined) return;
    const action = reply.getHeader(UPSERT_ACTION_HEADER);
    if (typeof action === 'string' && reply.statusCode < 300) upserts.inc({ route, action });
    const batch = request.storedBatch;
    if (batch !== undefined) {
      batchItems.observe({ route }, batch.total);
      for (const outcome of ['created', 'updated', 'revived', 'unchanged', 'failed'] as const) {
        if (batch[outcome] > 0) upserts.inc({ route, action: outcome }, batch[outcome]);
      }
    }
  });

  if (pool) {
    const poolGauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    poolGauge('db_pool_total_connections', 'Open connections in the database pool.', () => pool.totalCount);
    poolGauge('db_pool_idle_connections', 'Open database connections not in use.', () => pool.idleCount);
    poolGauge('db_pool_waiting_clients', 'Requests waiting for a database connection.', () => pool.waitingCount);
  }

  const decisions = new Counter({
    name: 'rate_limit_decisions_total',
    help: 'Requests the rate limiter checked, by decision (allowed or limited).',
    labelNames: ['decision'] as const,
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: 'rate_limit_store_errors_total',
    help: 'Requests served without a rate-limit check because the store (Redis) failed or was too slow.',
    registers: [registry],
  });
  // Both series exist from the start, so a rate() over them has a baseline.
  decisions.inc({ decision: 'allowed' }, 0);
  decisions.inc({ decision: 'limited' }, 0);

  const numbered = new Counter({
    name: 'events_numbered_total',
    help: 'Events this process numbered (moved from the outbox into the event log).',
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts this process made, by outcome (succeeded, retrying: failed and scheduled again, failed: dropped or disabled).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['succeeded', 'retrying', 'failed'] as const) attempts.inc({ outcome }, 0);

  app.get('/metrics', { schema: { hide: true }, config: { rateLimit: false } }, async (request, reply) => {
    const given = bearerToken(request.headers.authorization);
    if (given === null || !sameSecret(given, token)) {
      throw new AppError(
        'unauthorized',
        'Send the metrics token as "Authorization: Bearer <token>".',
        {},
        { 'www-authenticate': 'Bearer realm="metrics"' },
      );
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  return {
    decided: (decision) => decisions.inc({ decision }),
    storeFailed: () => storeErrors.inc(),
    eventsNumbered: (count) => numbered.inc(count),
    webhookAttempt: (outcome) => attempts.inc({ outcome }),
  };
}
