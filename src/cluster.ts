/**
 * Process entry (`npm start`). With WEB_CONCURRENCY=1 it runs the server (server.ts) in this process,
 * exactly as `node dist/server.js` does. Above 1 this process becomes the node:cluster primary: it
 * serves no requests itself, owns the embedded PostgreSQL when DATABASE_URL is unset, and keeps
 * WEB_CONCURRENCY workers running server.ts on one shared port.
 *
 * Migrations stay with the workers: each migrates at start under the advisory lock, so the first
 * applies them and the others find nothing to do. The primary thus never opens a database connection
 * and runs exactly the startup code that a single server runs.
 */
import cluster, { type Worker } from 'node:cluster';
import { type Config, ConfigError, loadConfig } from './config.js';
import type { EmbeddedPostgres } from './db/embedded-postgres.js';
import { startEmbeddedOrExit } from './entry.js';
import { createLogger } from './logger.js';

// The signals on which a single server shuts down gracefully (close-with-grace), SIGHUP included so
// that closing the terminal does not orphan the embedded PostgreSQL.
const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

// A crashed worker is replaced after RESTART_BASE_DELAY_MS, doubling while crashes follow one another
// within CRASH_LOOP_WINDOW_MS, up to RESTART_MAX_DELAY_MS: a worker that dies on every request costs
// a fork every 10 s rather than a spinning core, and an isolated crash is repaired at once.
const RESTART_BASE_DELAY_MS = 100;
const RESTART_MAX_DELAY_MS = 10_000;
const CRASH_LOOP_WINDOW_MS = 30_000;
// Workers give in-flight requests 10 s after the signal (server.ts) and then close their pools; one
// still running after this is stuck, and is killed so that the primary can stop PostgreSQL and exit.
const WORKER_EXIT_DEADLINE_MS = 15_000;
// A signal sent to the whole process group (Ctrl+C in a terminal, systemd's default KillMode, Heroku)
// reaches each worker directly as well as through the primary. A second signal makes a server exit at
// once, so a worker waits this long for the direct one before acting on the primary's request.
const GROUP_SIGNAL_WAIT_MS = 100;

interface ShutdownRequest {
  type: 'shutdown';
  signal: ShutdownSignal;
}

/** A worker's word that it listens for shutdown requests: messages sent before that are lost. */
const FOLLOWING = { type: 'following-shutdown-requests' } as const;

function isShutdownRequest(message: unknown): message is ShutdownRequest {
  if (typeof message !== 'object' || message === null) return false;
  const { type, signal } = message as { type?: unknown; signal?: unknown };
  return type === 'shutdown' && SHUTDOWN_SIGNALS.includes(signal as ShutdownSignal);
}

function isFollowing(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === FOLLOWING.type;
}

/** Worker side: turns the primary's shutdown request into the signal, unless this worker already has it. */
function followPrimary(): void {
  let signalled = false;
  for (const signal of SHUTDOWN_SIGNALS) {
    const note = () => {
      signalled = true;
      // Until the server installs its own handler, a signal must still end the process as it always has.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, note);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, note);
  }
  process.on('message', (message) => {
    if (!isShutdownRequest(message)) return;
    setTimeout(() => {
      if (!signalled) process.kill(process.pid, message.signal);
    }, GROUP_SIGNAL_WAIT_MS);
  });
  process.send?.(FOLLOWING);
}

async function runPrimary(config: Config): Promise<void> {
  const logger = createLogger(config).child({ role: 'primary' });
  const workers = config.webConcurrency;

  let embedded: EmbeddedPostgres | null = null;
  const workerEnv: Record<string, string> = {};
  if (config.databaseUrl === null) {
    embedded = await startEmbeddedOrExit(config.dataDir, logger);
    // Only the primary may run PostgreSQL on DATA_DIR; given DATABASE_URL, workers never start their own.
    workerEnv.DATABASE_URL = embedded.url;
  }

  const running = new Set<Worker>();
  const following = new Set<Worker>();
  const listened = new Set<number>();
  let serving = false;
  const restartTimers = new Set<NodeJS.Timeout>();
  let crashes = 0;
  let lastCrashAt = Number.NEGATIVE_INFINITY;
  let shuttingDown = false;
  let exitCode = 0;
  let allExited: () => void = () => {};
  const exited = new Promise<void>((resolve) => {
    allExited = resolve;
  });

  const workerFields = (worker: Worker) => ({ worker: worker.id, workerPid: worker.process.pid });

  const fork = () => {
    const worker = cluster.fork(workerEnv);
    running.add(worker);
    logger.info(workerFields(worker), `worker ${worker.id} started`);
  };

  const askToStop = (worker: Worker, signal: ShutdownSignal) => {
    const request: ShutdownRequest = { type: 'shutdown', signal };
    // A worker that does not follow requests yet (or no longer can) gets the signal itself: it has no
    // handler of its own yet either, so even a second copy from a group signal ends it as it should.
    if (!following.has(worker) || !worker.isConnected()) worker.process.kill(signal);
    else worker.send(request, (error: Error | null) => error && worker.process.kill(signal));
  };

  const shutDown = async (signal: ShutdownSignal) => {
    shuttingDown = true;
    for (const timer of restartTimers) clearTimeout(timer);
    for (const worker of running) askToStop(worker, signal);
    if (running.size === 0) allExited();
    const deadline = setTimeout(() => {
      logger.error(
        { workerPids: [...running].map((worker) => worker.process.pid) },
        `workers still running ${WORKER_EXIT_DEADLINE_MS} ms after ${signal}; killing them`,
      );
      exitCode = 1;
      for (const worker of running) worker.process.kill('SIGKILL');
    }, WORKER_EXIT_DEADLINE_MS);
    await exited;
    clearTimeout(deadline);
    await embedded?.stop();
    logger.info({ exitCode }, 'all workers stopped');
    process.exit(exitCode);
  };

  cluster.on('message', (worker, message) => {
    if (isFollowing(message)) following.add(worker);
  });

  cluster.on('listening', (worker) => {
    if (listened.has(worker.id)) return;
    listened.add(worker.id);
    if (!serving && !shuttingDown && listened.size >= workers) {
      serving = true;
      logger.info({ workers }, `all ${workers} workers listening`);
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    running.delete(worker);
    following.delete(worker);
    const fields = { ...workerFields(worker), code, signal };
    if (shuttingDown) {
      // A worker killed by the signal before its server took over the handler stopped as asked.
      if (code !== null && code !== 0) exitCode = 1;
      if (running.size === 0) allExited();
      return;
    }
    // What stops a worker before it ever listens (an unreachable database, a failed migration, a port
    // in use) stops the next one too: while starting, that ends the server as it would a single one.
    if (!serving && !listened.has(worker.id)) {
      logger.error(fields, `worker ${worker.id} exited before it listened; stopping`);
      exitCode = 1;
      void shutDown('SIGTERM');
      return;
    }
    const now = Date.now();
    if (now - lastCrashAt > CRASH_LOOP_WINDOW_MS) crashes = 0;
    const delay = Math.min(RESTART_BASE_DELAY_MS * 2 ** crashes, RESTART_MAX_DELAY_MS);
    crashes += 1;
    lastCrashAt = now;
    logger.error(fields, `worker ${worker.id} exited unexpectedly; starting a replacement in ${delay} ms`);
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      fork();
    }, delay);
    restartTimers.add(timer);
  });

  for (const signal of SHUTDOWN_SIGNALS) {
    process.on(signal, () => {
      if (!shuttingDown) {
        logger.info({ signal }, 'shutting down');
        void shutDown(signal);
        return;
      }
      // As for a single server, a second signal means now: in-flight requests are abandoned (a worker
      // may not even have acted on the first yet) and PostgreSQL gets its fast shutdown on exit.
      logger.error({ signal }, `second ${signal}, exiting`);
      for (const worker of running) worker.process.kill('SIGKILL');
      process.exit(1);
    });
  }

  logger.info({ workers }, `starting ${workers} workers`);
  for (let index = 0; index < workers; index += 1) fork();
}

function configOrNull(): Config | null {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) return null;
    throw error;
  }
}

if (cluster.isWorker) {
  followPrimary();
  await import('./server.js');
} else {
  const config = configOrNull();
  // A bad configuration is server.js's to report, in its words and with its exit code.
  if (config === null || config.webConcurrency === 1) {
    await import('./server.js');
  } else {
    await runPrimary(config).catch((error: unknown) => {
      process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
  }
}
