import net from 'node:net';
import path from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  /** Set: use that PostgreSQL server. Unset: the server runs an embedded PostgreSQL in `dataDir`. */
  readonly databaseUrl: string | null;
  readonly databasePoolSize: number;
  /** Milliseconds a statement may run before it is cancelled (or, on a server that does not answer, abandoned). */
  readonly databaseStatementTimeoutMs: number;
  /** Milliseconds a request waits for a database connection before it is answered 503. */
  readonly databaseCheckoutTimeoutMs: number;
  readonly dataDir: string;
  /** Unset disables the admin API entirely (it answers 404). */
  readonly adminToken: string | null;
  readonly bodyLimitBytes: number;
  /** 0 disables rate limiting. */
  readonly rateLimitPerMinute: number;
  /** false sends every contact write through the transactional path (a kill switch for the one-statement form). */
  readonly oneStatementWrites: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Quoted and escaped, so a value holding a line break still yields a one-line message. */
function quote(value: string): string {
  return JSON.stringify(value);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got ${quote(raw)}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected a number from ${min} to ${max}, got ${raw}`);
  return value;
}

function databaseUrl(env: Env): string | null {
  const raw = read(env, 'DATABASE_URL');
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a URL (expected postgres://user@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `expected a postgres:// URL, got the scheme "${url.protocol}"`);
  }
  return raw;
}

// Checked here so that a typo fails at start naming HOST, not later as an address error from listen().
function host(env: Env): string {
  const raw = read(env, 'HOST') ?? '127.0.0.1';
  if (net.isIP(raw) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(raw)) {
    throw new ConfigError('HOST', `expected an IP address or a host name, got ${quote(raw)}`);
  }
  return raw;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(name, `expected true or false, got ${quote(raw)}`);
  return raw === 'true';
}

/** Parses the environment once at start; every problem names its variable. */
export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const logLevel = (read(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got ${quote(logLevel)}`);
  }
  const adminToken = read(env, 'ADMIN_TOKEN') ?? null;
  // A short admin secret is guessable; refuse it rather than run an exposed admin API.
  if (adminToken !== null && adminToken.length < 16) {
    throw new ConfigError('ADMIN_TOKEN', 'must be at least 16 characters long');
  }
  return Object.freeze({
    host: host(env),
    port: integer(env, 'PORT', 3000, 0, 65535),
    logLevel: logLevel as LogLevel,
    databaseUrl: databaseUrl(env),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    databaseStatementTimeoutMs: integer(env, 'DATABASE_STATEMENT_TIMEOUT', 10_000, 100, 3_600_000),
    databaseCheckoutTimeoutMs: integer(env, 'DATABASE_CHECKOUT_TIMEOUT', 5_000, 100, 600_000),
    dataDir: path.resolve(cwd, read(env, 'DATA_DIR') ?? 'data'),
    adminToken,
    bodyLimitBytes: integer(env, 'BODY_LIMIT', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 600, 0, 10_000_000),
    oneStatementWrites: boolean(env, 'ONE_STATEMENT_WRITES', true),
  });
}
