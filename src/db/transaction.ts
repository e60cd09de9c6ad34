import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import { isPostgresError, SqlState } from './sqlstate.js';

const ATTEMPTS = 3;

/**
 * Runs `work` in one transaction. A deadlock or serialization failure aborts the whole transaction
 * with nothing written, so it is safe to run it again; after a few tries the error goes to the client
 * as a 503 with Retry-After.
 */
export async function inTransaction<T>(
  db: Kysely<Database>,
  work: (trx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      const retryable =
        isPostgresError(error) &&
        (error.code === SqlState.deadlockDetected || error.code === SqlState.serializationFailure);
      if (!retryable || attempt >= ATTEMPTS) throw error;
    }
  }
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
