import closeWithGrace from 'close-with-grace';
import { buildApp, createLogger } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { connectDatabase } from './db/database.js';
import { type EmbeddedPostgres, EmbeddedPostgresError, startEmbeddedPostgres } from './db/embedded-postgres.js';
import { purgeExpiredKeys } from './db/idempotency-keys.js';
import { migrateToLatest } from './db/migrate.js';
import { AUTH_CHANGED_CHANNEL, listen } from './db/notifications.js';
import { AuthCache } from './http/auth-cache.js';

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
    try {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, onLog: (message) => logger.info(message) });
    } catch (error) {
      if (error instanceof EmbeddedPostgresError) {
        process.stderr.write(`Cannot start the embedded PostgreSQL: ${error.message}\n`);
        process.exit(1);
      }
      throw error;
    }
    databaseUrl = embedded.url;
  }

  const database = connectDatabase(databaseUrl, {
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    checkoutTimeoutMs: config.databaseCheckoutTimeoutMs,
  });
  const authCache = new AuthCache();
  const authListener = listen(databaseUrl, AUTH_CHANGED_CHANNEL, {
    onNotify: (organizationId) => authCache.invalidate(organizationId),
    onState: (live) => authCache.setLive(live),
    onError: (error) => logger.warn({ err: error }, 'auth invalidation listener lost its connection; reconnecting'),
  });
  const app = await buildApp({ config, db: database.db, logger, authCache });
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
    await authListener.close();
    await database.close();
    await embedded?.stop();
  });

  const { applied } = await migrateToLatest(database.db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  purgeTimer = setInterval(() => {
    purgeExpiredKeys(database.db).catch((error: unknown) =>
      logger.warn({ err: error }, 'could not purge expired idempotency keys; will try again'),
    );
  }, IDEMPOTENCY_PURGE_INTERVAL_MS);
  purgeTimer.unref();
  await app.listen({ host: config.host, port: config.port });
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
