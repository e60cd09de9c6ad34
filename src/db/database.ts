import {
  CompiledQuery,
  type DatabaseConnection,
  Kysely,
  PostgresDialect,
  type PostgresDialectConfig,
  PostgresDriver,
  type TransactionSettings,
} from 'kysely';
import pg from 'pg';
import { preparedName } from './prepared.js';
import type { Database } from './schema.js';
import { isPostgresError } from './sqlstate.js';
import { DatabaseUnavailableError } from './unavailable.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  readonly db: Db;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

export interface PoolOptions {
  poolSize: number;
  /** Longest a statement may run; PostgreSQL cancels it, and a server that does not answer at all loses the connection. */
  statementTimeoutMs: number;
  /** Longest a request waits for a connection (a free one from the pool, or a new one). */
  checkoutTimeoutMs: number;
  applicationName: string;
  /**
   * `transaction` when a pooler in transaction mode sits between this pool and PostgreSQL: every
   * statement is sent unnamed, since a named prepared statement lives in one backend and the next
   * transaction may run on another; and the timeouts are set per transaction (see
   * TransactionLocalTimeoutsDriver) instead of per connection.
   */
  poolMode: 'session' | 'transaction';
  /** Called with the text of every statement sent; for instrumentation (tests count round trips). */
  onQuery?: (sql: string) => void;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = {
  poolSize: 10,
  statementTimeoutMs: 10_000,
  checkoutTimeoutMs: 5_000,
  applicationName: 'contacts-api',
  poolMode: 'session',
};

const INT8_OID = 20;
const DATE_OID = 1082;

/**
 * PostgreSQL's statement_timeout. It fires a little before the client-side guard, whose clock starts
 * earlier (when the statement is sent), so a slow statement on a live server is cancelled (57014,
 * answered 503, connection kept) rather than its connection cut.
 */
function serverStatementTimeoutMs(statementTimeoutMs: number): number {
  return statementTimeoutMs - Math.min(500, Math.floor(statementTimeoutMs / 10));
}

/** A request stuck inside a transaction must not pin a connection, nor the row locks it holds. */
function idleInTransactionTimeoutMs(statementTimeoutMs: number): number {
  return Math.max(30_000, statementTimeoutMs * 2);
}

/**
 * The pool's client. It sends registered hot statements as named prepared statements (unless a
 * transaction pooler could run the next one on another backend), and makes a
 * connection fault a typed error instead of a crash or a 500:
 * - pg emits `error` on a client whose connection dies. The pool listens only while a client is idle,
 *   so a checked-out client without a listener of its own would throw it as an unhandled event and end
 *   the process. The listener here only marks the client lost; the query in flight rejects by itself and
 *   the pool discards the client when it is released (pg-pool drops clients that are not queryable).
 * - PostgreSQL's statement_timeout needs a live server. A frozen or partitioned one never answers, so a
 *   guard of our own destroys the socket when a statement outlives the same limit.
 */
class GuardedClient extends pg.Client {
  static statementTimeoutMs = DEFAULT_POOL_OPTIONS.statementTimeoutMs;
  static namedStatements = true;
  #lost = false;
  #timedOut = false;

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', () => {
      this.#lost = true;
    });
    this.on('end', () => {
      this.#lost = true;
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg's query() is heavily overloaded; this only wraps the promise form Kysely uses
  override query(config: any, values?: any, callback?: any): any {
    if (typeof config !== 'string' || !Array.isArray(values) || callback !== undefined) {
      return super.query(config, values, callback);
    }
    const name = (this.constructor as typeof GuardedClient).namedStatements ? preparedName(config) : undefined;
    const pending: Promise<pg.QueryResult> =
      name === undefined ? super.query(config, values) : super.query({ name, text: config, values });
    const guard = setTimeout(
      () => {
        this.#timedOut = true;
        // Ends the connection: the pending query rejects, and the pool discards this client on release.
        (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      },
      (this.constructor as typeof GuardedClient).statementTimeoutMs,
    );
    return pending.then(
      (result) => {
        clearTimeout(guard);
        return result;
      },
      (error: unknown) => {
        clearTimeout(guard);
        throw this.#classify(error);
      },
    );
  }

  /** Errors of PostgreSQL itself keep their SQLSTATE; a dead or hung connection becomes one typed error. */
  #classify(error: unknown): unknown {
    if (isPostgresError(error)) return error;
    if (this.#timedOut) return new DatabaseUnavailableError('timeout', { cause: error });
    const queryable = (this as unknown as { _queryable?: boolean })._queryable;
    if (this.#lost || queryable === false) return new DatabaseUnavailableError('connection-lost', { cause: error });
    return error;
  }
}

/**
 * For a pool behind a transaction pooler. A direct connection gets its timeouts as startup
 * parameters, but PgBouncer refuses those ("unsupported startup parameter"), and with
 * `ignore_startup_parameters` it drops them silently; a session `SET` would stay on a backend that
 * other clients' transactions use next. So every transaction sets them with `SET LOCAL`, in the same
 * message as its BEGIN: no extra round trip. A statement outside a transaction holds its locks only
 * while it runs; it is bounded by the client-side guard and by whatever default the role or
 * database has (`ALTER ROLE … SET statement_timeout`, an operator's step).
 */
class TransactionLocalTimeoutsDriver extends PostgresDriver {
  readonly #settings: string;

  constructor(config: PostgresDialectConfig, statementTimeoutMs: number) {
    super(config);
    this.#settings =
      `SET LOCAL statement_timeout = ${serverStatementTimeoutMs(statementTimeoutMs)}; ` +
      `SET LOCAL idle_in_transaction_session_timeout = ${idleInTransactionTimeoutMs(statementTimeoutMs)}`;
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    // Kysely's own BEGIN, with the settings appended.
    let begin = 'begin';
    if (settings.isolationLevel || settings.accessMode) {
      begin = 'start transaction';
      if (settings.isolationLevel) begin += ` isolation level ${settings.isolationLevel}`;
      if (settings.accessMode) begin += ` ${settings.accessMode}`;
    }
    await connection.executeQuery(CompiledQuery.raw(`${begin}; ${this.#settings}`));
  }
}

class TransactionPoolDialect extends PostgresDialect {
  readonly #config: PostgresDialectConfig;
  readonly #statementTimeoutMs: number;

  constructor(config: PostgresDialectConfig, statementTimeoutMs: number) {
    super(config);
    this.#config = config;
    this.#statementTimeoutMs = statementTimeoutMs;
  }

  override createDriver(): PostgresDriver {
    return new TransactionLocalTimeoutsDriver(this.#config, this.#statementTimeoutMs);
  }
}

export function connectDatabase(url: string, options: Partial<PoolOptions> = {}): DatabaseHandle {
  const settings = { ...DEFAULT_POOL_OPTIONS, ...options };
  // A subclass per pool, so that each pool's statement guard follows its own settings.
  const transactionPooled = settings.poolMode === 'transaction';
  const Client = class extends GuardedClient {
    static override statementTimeoutMs = settings.statementTimeoutMs;
    static override namedStatements = !transactionPooled;
  };
  const pool = new pg.Pool({
    Client,
    connectionString: url,
    max: settings.poolSize,
    application_name: settings.applicationName,
    connectionTimeoutMillis: settings.checkoutTimeoutMs,
    idleTimeoutMillis: 30_000,
    // A runaway query or a request stuck inside a transaction must not pin a connection (and its row
    // locks). Behind a transaction pooler these are set per transaction instead.
    ...(transactionPooled
      ? {}
      : {
          statement_timeout: serverStatementTimeoutMs(settings.statementTimeoutMs),
          idle_in_transaction_session_timeout: idleInTransactionTimeoutMs(settings.statementTimeoutMs),
        }),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        // Counts and sequence values fit in a double long before they matter to an API client.
        oid === INT8_OID
          ? (value: string) => Number(value)
          : // A calendar date is not an instant: pg would make it local midnight, which shifts the
            // day in any zone west of the server's. The API speaks `YYYY-MM-DD`, as PostgreSQL does.
            oid === DATE_OID
            ? (value: string) => value
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle connection that the server drops (restart, timeout) must not crash the process; the pool
  // removes it and opens a new one on demand.
  pool.on('error', () => {});
  // Any failure to hand out a connection (refused, timed out, authentication, too many clients, starting
  // up) means the database cannot serve this request now. pg-pool throws plain errors for some of these
  // (its checkout timeout has no code), so the type is given here, where the cause is known, rather than
  // guessed later from the message.
  const guardedPool = {
    connect: async () => {
      try {
        return await pool.connect();
      } catch (error) {
        throw new DatabaseUnavailableError('checkout', { cause: error });
      }
    },
    end: () => pool.end(),
  } as unknown as pg.Pool;
  const onQuery = settings.onQuery;
  const dialect = transactionPooled
    ? new TransactionPoolDialect({ pool: guardedPool }, settings.statementTimeoutMs)
    : new PostgresDialect({ pool: guardedPool });
  const db = new Kysely<Database>({
    dialect,
    ...(onQuery ? { log: (event: { query: { sql: string } }) => onQuery(event.query.sql) } : {}),
  });
  return {
    db,
    pool,
    close: () => db.destroy(),
  };
}
