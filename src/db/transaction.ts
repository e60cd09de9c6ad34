import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import { isPostgresError, SqlState } from './sqlstate.js';

const ATTEMPTS = 3;

function isRetryable(error: unknown): boolean {
  return (
    isPostgresError(error) && (error.code === SqlState.deadlockDetected || error.code === SqlState.serializationFailure)
  );
}

/**
 * Runs `work` inside a savepoint of the caller's transaction: an error rolls back to it, so the
 * transaction stays usable and everything before the savepoint stays, as if `work` had been its own
 * transaction. That is how a service composes into a larger unit (an idempotent request that stores
 * its answer with its write, a batch): the same code runs alone or inside one.
 */
async function inSavepoint<T>(
  trx: Transaction<Database>,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  await sql`SAVEPOINT contacts_api_unit`.execute(trx);
  try {
    const result = await work(trx);
    await sql`RELEASE SAVEPOINT contacts_api_unit`.execute(trx);
    return result;
  } catch (error) {
    try {
      await sql`ROLLBACK TO SAVEPOINT contacts_api_unit`.execute(trx);
      await sql`RELEASE SAVEPOINT contacts_api_unit`.execute(trx);
    } catch {
      // The connection is gone with the whole transaction; the first error says why.
      throw error;
    }
    // No retry here: a deadlock involves locks the enclosing transaction took before this savepoint,
    // which a retry inside it would wait for again. The outermost transaction retries as a whole.
    throw error;
  }
}

/**
 * Runs `work` in one transaction, or in a savepoint when `db` is already a transaction. A deadlock
 * or serialization failure aborts it with nothing written, so it is safe to run it again; after a
 * few tries the error goes to the client as a 503 with Retry-After.
 */
export async function inTransaction<T>(
  db: Kysely<Database>,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  if (db.isTransaction) return inSavepoint(db as Transaction<Database>, work);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (!isRetryable(error) || attempt >= ATTEMPTS) throw error;
    }
  }
}

/**
 * For one statement that may fail and be handled (a unique violation sending a write down another
 * path): alone it is atomic by itself and costs no extra round trip; inside a transaction it gets a
 * savepoint, since a failed statement would otherwise abort the caller's whole transaction.
 */
export async function atomically<T>(db: Kysely<Database>, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? inSavepoint(db as Transaction<Database>, work) : work(db);
}

/** Thrown inside a transaction to roll it back while handing a result out (validate_only). */
export class Rollback<T> extends Error {
  override name = 'Rollback';
  constructor(readonly result: T) {
    super('rolled back on purpose');
  }
}

export async function inRolledBackTransaction<T>(
  db: Kysely<Database>,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  try {
    await inTransaction(db, async (trx) => {
      throw new Rollback(await work(trx));
    });
  } catch (error) {
    if (error instanceof Rollback) return error.result as T;
    throw error;
  }
  throw new Error('unreachable');
}
