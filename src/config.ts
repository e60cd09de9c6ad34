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
  /**
   * How the server may use its connections. `session`: each pooled connection is one PostgreSQL
   * session (direct, or a pooler in session mode). `transaction`: a pooler in transaction mode
   * (PgBouncer) may hand each transaction to another backend, so nothing may outlive a transaction:
   * no named prepared statements, no session locks, no LISTEN.
   */
  readonly databasePoolMode: 'session' | 'transaction';
  /**
   * A direct connection to PostgreSQL (bypassing the pooler) for what needs a session: migrations
   * and LISTEN. Null: DATABASE_URL (or the embedded server) is used for them too.
   */
  readonly databaseDirectUrl: string | null;
  /** Set: rate limits are shared by every process through this Redis. Null: each process counts on its own. */
  readonly redisUrl: string | null;
  /** Worker processes serving the port (node:cluster); 1 runs the server in this process alone. */
  readonly webConcurrency: number;
  /** Set: GET /metrics answers to `Authorization: Bearer <token>`. Null: /metrics answers 404. */
  readonly metricsToken: string | null;
  /** Days every event is kept at least (GET /events, webhook replay); older ones may go, except each record's latest. */
  readonly eventRetentionDays: number;
  /** true lets webhooks target private, loopback and link-local addresses (tests, local development). */
  readonly webhookAllowPrivateNetworks: boolean;
  /** false: this process sends no webhooks (others on the same database do); API-only processes. */
  readonly webhookDelivery: boolean;
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

/** A URL variable whose scheme must be one of `schemes` (with the colon), or null when unset. */
function urlVariable(env: Env, name: string, schemes: readonly string[], example: string): string | null {
  const raw = read(env, name);
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `is not a URL (expected ${example})`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new ConfigError(name, `expected a ${schemes[0]}// URL, got the scheme "${url.protocol}"`);
  }
  return raw;
}

const POSTGRES_SCHEMES = ['postgres:', 'postgresql:'];
const POSTGRES_EXAMPLE = 'postgres://user@host:port/database';

function poolMode(env: Env): 'session' | 'transaction' {
  const raw = (read(env, 'DATABASE_POOL_MODE') ?? 'session').toLowerCase();
  if (raw !== 'session' && raw !== 'transaction') {
    throw new ConfigError('DATABASE_POOL_MODE', `expected session or transaction, got ${quote(raw)}`);
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
  const metricsToken = read(env, 'METRICS_TOKEN') ?? null;
  if (metricsToken !== null && metricsToken.length < 16) {
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters long');
  }
  return Object.freeze({
    host: host(env),
    port: integer(env, 'PORT', 3000, 0, 65535),
    logLevel: logLevel as LogLevel,
    databaseUrl: urlVariable(env, 'DATABASE_URL', POSTGRES_SCHEMES, POSTGRES_EXAMPLE),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    databaseStatementTimeoutMs: integer(env, 'DATABASE_STATEMENT_TIMEOUT', 10_000, 100, 3_600_000),
    databaseCheckoutTimeoutMs: integer(env, 'DATABASE_CHECKOUT_TIMEOUT', 5_000, 100, 600_000),
    dataDir: path.resolve(cwd, read(env, 'DATA_DIR') ?? 'data'),
    adminToken,
    bodyLimitBytes: integer(env, 'BODY_LIMIT', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 600, 0, 10_000_000),
    oneStatementWrites: boolean(env, 'ONE_STATEMENT_WRITES', true),
    databasePoolMode: poolMode(env),
    databaseDirectUrl: urlVariable(env, 'DATABASE_DIRECT_URL', POSTGRES_SCHEMES, POSTGRES_EXAMPLE),
    redisUrl: urlVariable(env, 'REDIS_URL', ['redis:', 'rediss:'], 'redis://host:6379'),
    webConcurrency: integer(env, 'WEB_CONCURRENCY', 1, 1, 64),
    metricsToken,
    eventRetentionDays: integer(env, 'EVENT_RETENTION_DAYS', 30, 1, 3650),
    webhookAllowPrivateNetworks: boolean(env, 'WEBHOOK_ALLOW_PRIVATE_NETWORKS', false),
    webhookDelivery: boolean(env, 'WEBHOOK_DELIVERY', true),
  });
}
