import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { connectDatabase, type Db } from './db/database.js';
import type { EmbeddedPostgres } from './db/embedded-postgres.js';
import { purgeExpiredKeys } from './db/idempotency-keys.js';
import { migrateDatabase } from './db/migrate.js';
import { AUTH_CHANGED_CHANNEL, listen } from './db/notifications.js';
import { startEmbeddedOrExit } from './entry.js';
import { AuthCache, EXPIRING_ENTRY_TTL_MS } from './http/auth-cache.js';
import { createLogger } from './logger.js';

// In-flight requests get this long to finish after SIGTERM/SIGINT before the process exits anyway.
const SHUTDOWN_GRACE_MS = 10_000;
// Expired idempotency keys go in the background; how often only bounds how long they outlive their 24 hours.
const IDEMPOTENCY_PURGE_INTERVAL_MS = 15 * 60_000;

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config);

  let embedded: EmbeddedPostgres | null = null;
  let databaseUrl = config.databaseUrl;
  if (databaseUrl === null) {
    embedded = await startEmbeddedOrExit(config.dataDir, logger);
    databaseUrl = embedded.url;
  }

  const database = connectDatabase(databaseUrl, {
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    checkoutTimeoutMs: config.databaseCheckoutTimeoutMs,
    poolMode: config.databasePoolMode,
  });
  // LISTEN needs a session of its own. Behind a transaction pooler only DATABASE_DIRECT_URL gives one;
  // without it there is no listener, and cached tokens expire within seconds instead.
  const listenUrl = config.databaseDirectUrl ?? (config.databasePoolMode === 'session' ? databaseUrl : null);
  const authCache = new AuthCache({ invalidation: listenUrl === null ? 'expiry' : 'notifications' });
  const authListener =
    listenUrl === null
      ? null
      : listen(listenUrl, AUTH_CHANGED_CHANNEL, {
          onNotify: (organizationId) => authCache.invalidate(organizationId),
          onState: (live) => authCache.setLive(live),
          onError: (error) =>
            logger.warn({ err: error }, 'auth invalidation listener lost its connection; reconnecting'),
        });
  if (authListener === null) {
    logger.info(
      { cachedTokenTtlMs: EXPIRING_ENTRY_TTL_MS },
      'no DATABASE_DIRECT_URL behind the transaction pooler: no LISTEN, cached tokens expire instead',
    );
  }
  const app = await buildApp({ config, db: database.db, logger, authCache, databasePool: database.pool });
  // Closing the server only drops connections that are idle at that moment. A request in flight must
  // close its connection when answered, or a keep-alive client (pool, proxy) holds the server open
  // until the grace period kills it.
  let shuttingDown = false;
  let purgeTimer: NodeJS.Timeout | undefined;
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close');
  });

  closeWithGrace({ delay: SHUTDOWN_GRACE_MS, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an unhandled error');
    else logger.info({ signal }, 'shutting down');
    shuttingDown = true;
    clearInterval(purgeTimer);
    await app.close();
    await authListener?.close();
    await database.close();
    await embedded?.stop();
  });

  // Over the direct connection when there is one (see migrateDatabase).
  const { applied } = await migrateDatabase(config.databaseDirectUrl ?? databaseUrl, {
    poolMode: config.databaseDirectUrl === null ? config.databasePoolMode : 'session',
    checkoutTimeoutMs: config.databaseCheckoutTimeoutMs,
  });
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  if (config.databasePoolMode === 'transaction') {
    await warnWithoutStatementTimeout(database.db, logger, config.databaseStatementTimeoutMs);
  }
  purgeTimer = setInterval(() => {
    purgeExpiredKeys(database.db).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not purge expired idempotency keys; will try again'),
    );
  }, IDEMPOTENCY_PURGE_INTERVAL_MS);
  purgeTimer.unref();
  await app.listen({ host: config.host, port: config.port });
}

/**
 * Behind a transaction pooler the pool sets statement_timeout per transaction only (database.ts); a
 * statement outside a transaction gets the role's or database's default, which operators should set.
 */
async function warnWithoutStatementTimeout(db: Db, logger: FastifyBaseLogger, timeoutMs: number): Promise<void> {
  const { rows } = await sql<{ statement_timeout: string }>`SHOW statement_timeout`.execute(db);
  if (rows[0]?.statement_timeout === '0') {
    logger.warn(
      `statements outside transactions have no statement_timeout behind the transaction pooler; give the role one: ALTER ROLE <role> SET statement_timeout = ${timeoutMs}`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
