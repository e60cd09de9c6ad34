import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { connectDatabase, type DatabaseHandle, type PoolOptions } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { AUTH_CHANGED_CHANNEL, listen } from '../../src/db/notifications.js';
import { AuthCache } from '../../src/http/auth-cache.js';
import type { WebhookDeliveryOptions } from '../../src/webhooks/webhook-delivery.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests through `npm test`, which provides a database');
  return url;
}

export interface TestApp {
  app: FastifyInstance;
  database: DatabaseHandle;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** A token cache kept coherent through LISTEN/NOTIFY, as server.ts wires it. */
  authCache?: boolean;
  /** Pool settings beyond the environment's (an application_name to find the connections, a query hook). */
  pool?: Partial<PoolOptions>;
  /** Extra routes, added before the app is ready (a test observes an error path through them). */
  routes?: (app: FastifyInstance, database: DatabaseHandle) => void;
  /**
   * The webhook delivery worker's settings (a short retry schedule and timeout). Absent, the app
   * delivers nothing in the background: test files run side by side on one database, and a worker
   * of another file would otherwise take this file's deliveries and retry them on its own schedule.
   */
  webhookDelivery?: WebhookDeliveryOptions;
}

/** The run's pooler settings, so that a whole test run can go through a pooler by environment alone. */
function poolerEnvironment(): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const name of ['DATABASE_POOL_MODE', 'DATABASE_DIRECT_URL']) {
    const value = process.env[name];
    if (value) inherited[name] = value;
  }
  return inherited;
}

/**
 * A real app; override environment variables to test configuration (DATABASE_URL may point it at
 * another server, a proxy or nothing at all).
 */
export async function createTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const config: Config = loadConfig({
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN,
    RATE_LIMIT_PER_MINUTE: '0',
    // Webhook tests deliver to a receiver on 127.0.0.1.
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    DATABASE_URL: databaseUrl(),
    ...poolerEnvironment(),
    ...env,
  });
  const url = config.databaseUrl ?? databaseUrl();
  const database = connectDatabase(url, {
    poolSize: 10,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    checkoutTimeoutMs: config.databaseCheckoutTimeoutMs,
    poolMode: config.databasePoolMode,
    ...options.pool,
  });
  // The test database is migrated by `npm test`; this covers running one file on its own.
  if (url === databaseUrl()) await migrateToLatest(database.db);
  // As server.ts wires it: a cache per "process", kept coherent through LISTEN/NOTIFY on a session of
  // its own; behind a transaction pooler without a direct URL, an expiring cache and no listener.
  const listenUrl = config.databaseDirectUrl ?? (config.databasePoolMode === 'session' ? databaseUrl() : null);
  const authCache = options.authCache
    ? new AuthCache({ invalidation: listenUrl === null ? 'expiry' : 'notifications' })
    : null;
  let live: () => void = () => {};
  const listening = new Promise<void>((resolve) => {
    live = resolve;
  });
  const listener =
    authCache === null || listenUrl === null
      ? null
      : listen(listenUrl, AUTH_CHANGED_CHANNEL, {
          onNotify: (organizationId) => authCache.invalidate(organizationId),
          onState: (state) => {
            authCache.setLive(state);
            if (state) live();
          },
          onError: () => {},
        });
  // The cache serves only once its invalidation channel listens; tests that rely on it wait for that
  // (on a loaded machine it can take longer than any fixed pause).
  if (listener !== null) {
    await Promise.race([listening, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
  const app = await buildApp({
    config,
    db: database.db,
    authCache,
    databasePool: database.pool,
    webhookDelivery: options.webhookDelivery ?? { enabled: false },
  });
  options.routes?.(app, database);
  await app.ready();
  return {
    app,
    database,
    async close() {
      await app.close();
      await listener?.close();
      await database.close();
    },
  };
}

export type Response = LightMyRequestResponse & { json<T = any>(): T };

export function request(app: FastifyInstance, options: InjectOptions): Promise<Response> {
  return app.inject(options) as Promise<Response>;
}
