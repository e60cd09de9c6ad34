import { type Kysely, sql } from 'kysely';
import { connectDatabase, type PoolOptions } from './database.js';
import { migrations } from './migrations/index.js';

export interface MigrationOutcome {
  applied: string[];
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

// Any constant works as long as every process uses the same one.
const MIGRATION_LOCK_KEY = 7_341_025_118;

/**
 * Brings the schema up to date, all pending migrations in one transaction. Servers starting together
 * against one PostgreSQL take turns on a transaction-scoped advisory lock taken first, so the
 * bookkeeping table's creation is covered too. Nothing outlives the transaction, which is what makes
 * this safe through a transaction pooler as well: a session lock (Kysely's Migrator takes one) could
 * be taken on one backend and released on another, and stay held for good.
 *
 * The bookkeeping table is Kysely's (`kysely_migration`), so databases migrated before keep working.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run before (and regardless of) the typed schema
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationOutcome> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
    await sql`
      CREATE TABLE IF NOT EXISTS kysely_migration (
        name varchar(255) NOT NULL PRIMARY KEY,
        "timestamp" varchar(255) NOT NULL
      )
    `.execute(trx);
    const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(trx);
    const executed = rows.map((row) => row.name);
    const unknown = executed.find((name) => !Object.hasOwn(migrations, name));
    if (unknown !== undefined) {
      throw new MigrationError(`the database has migration ${unknown}, which this version does not know`);
    }
    const done = new Set(executed);
    const pending = Object.keys(migrations)
      .sort()
      .filter((name) => !done.has(name));
    const latest = executed.at(-1);
    const outOfOrder = latest === undefined ? undefined : pending.find((name) => name < latest);
    if (outOfOrder !== undefined) {
      throw new MigrationError(`migration ${outOfOrder} would run after ${latest}, which is already applied`);
    }
    for (const name of pending) {
      try {
        await (migrations[name] as (typeof migrations)[string]).up(trx);
      } catch (error) {
        throw new MigrationError(
          `migration ${name} failed: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      await sql`INSERT INTO kysely_migration (name, "timestamp") VALUES (${name}, ${new Date().toISOString()})`.execute(
        trx,
      );
    }
    return { applied: pending };
  });
}

/**
 * Longest a migration statement may run: long enough to rewrite or index a table of millions of
 * contacts, short enough that a migration stuck on a lock does not hang a deployment for good.
 */
const MIGRATION_STATEMENT_TIMEOUT_MS = 60 * 60_000;

/**
 * Migrates over a connection of its own with a timeout for schema changes rather than requests.
 * `url` should be a direct connection when there is one, so DDL and its locks do not sit in a
 * pooler; through a transaction pooler is safe too, since the migration lock ends with its transaction.
 */
export async function migrateDatabase(
  url: string,
  options: Pick<PoolOptions, 'poolMode'> & Partial<PoolOptions> = { poolMode: 'session' },
): Promise<MigrationOutcome> {
  const database = connectDatabase(url, {
    applicationName: 'contacts-api-migrate',
    ...options,
    poolSize: 1,
    statementTimeoutMs: MIGRATION_STATEMENT_TIMEOUT_MS,
  });
  try {
    return await migrateToLatest(database.db);
  } finally {
    await database.close();
  }
}
