/**
 * Helpers for tests that run the real server process (`src/server.ts` through tsx): start it with an
 * environment of the test's choosing, wait for it to listen or exit, and clean up whatever it left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN } from './app.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Generous for a loaded CI machine: starting includes tsx compiling the sources and possibly initdb. */
export const START_TIMEOUT_MS = 30_000;

export interface ServerProcess {
  readonly child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the base URL (`http://127.0.0.1:PORT`) once the server logs that it listens. */
  listening(timeoutMs?: number): Promise<string>;
  /** Resolves once a stdout line matches. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<ChildProcess>();

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface StartOptions {
  /** The entry to run, relative to the project root: `src/cluster.ts` runs it as `npm start` does. */
  entry?: string;
  /** Its own process group, so that a test can signal the whole group as a terminal or systemd does. */
  detached?: boolean;
}

/**
 * Starts the server. `env` is laid over the test's own environment minus DATABASE_URL (so the server
 * runs an embedded PostgreSQL unless the test passes one) and minus the test runner's own variables.
 */
export function startServer(env: Record<string, string>, options: StartOptions = {}): ServerProcess {
  const { DATABASE_URL: _url, NODE_TEST_CONTEXT: _context, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry ?? 'src/server.ts'], {
    cwd: ROOT,
    // No webhook worker unless the test asks for one: the servers share the test database with the
    // webhook tests, whose deliveries a worker here would take and retry on the real schedule.
    env: {
      ...inherited,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ADMIN_TOKEN,
      WEBHOOK_DELIVERY: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    });
  });
  const describe = () => `\n--- stdout\n${out}\n--- stderr\n${err}`;

  const waitForOutput = (pattern: RegExp, timeoutMs = START_TIMEOUT_MS) =>
    withTimeout(
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = out.split('\n').find((candidate) => pattern.test(candidate));
          if (line !== undefined) {
            child.stdout?.off('data', check);
            resolve(line);
          }
        };
        child.stdout?.on('data', check);
        void exit.then(() => {
          check();
          reject(new Error(`the server exited before printing ${pattern}${describe()}`));
        });
        check();
      }),
      timeoutMs,
      `${pattern}${describe()}`,
    );

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForOutput,
    async listening(timeoutMs = START_TIMEOUT_MS) {
      const line = await waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:\d+/, timeoutMs);
      return (/(http:\/\/127\.0\.0\.1:\d+)/.exec(line) as RegExpExecArray)[1] as string;
    },
    exited: (timeoutMs = START_TIMEOUT_MS) => withTimeout(exit, timeoutMs, `the server to exit${describe()}`),
  };
}

/** Kills every server a test started and that is still running; for `after` hooks. */
export async function killServers(): Promise<void> {
  const running = [...started];
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** A fresh DATA_DIR the unprivileged PostgreSQL user can enter (tests run as root). */
export function temporaryDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contacts-api-process-'));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An orphan that exited but was never reaped (PID 1 in some containers does not) counts as gone.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export async function waitUntilStopped(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The pid of the PostgreSQL running on `dataDir`'s cluster, from its postmaster.pid, if any. */
export function postgresPid(dataDir: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Stops a PostgreSQL left behind on `dataDir` (after a `kill -9` of its server) and removes the folder. */
export async function removeDataDir(dataDir: string): Promise<void> {
  const pid = postgresPid(dataDir);
  if (pid !== null && isRunning(pid)) {
    // Immediate shutdown: the cluster is thrown away anyway.
    process.kill(pid, 'SIGQUIT');
    await waitUntilStopped(pid, 10_000);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}
