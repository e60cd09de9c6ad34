import { type Kysely, Migrator, sql } from 'kysely';
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
 * Brings the schema up to date. Servers starting together against one PostgreSQL take turns on a
 * session-level advisory lock held across the whole run, including the creation of Kysely's own
 * bookkeeping tables (which its per-migration lock does not cover).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run before (and regardless of) the typed schema
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationOutcome> {
  return db.connection().execute(async (connection) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(connection);
    try {
      const migrator = new Migrator({
        db: connection,
        provider: { getMigrations: async () => migrations },
      });
      const { error, results = [] } = await migrator.migrateToLatest();
      const failed = results.find((result) => result.status === 'Error');
      if (error !== undefined || failed !== undefined) {
        throw new MigrationError(
          `migration ${failed?.migrationName ?? '(setup)'} failed: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      return { applied: results.map((result) => result.migrationName) };
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(connection);
    }
  });
}
