import type { Transaction } from 'kysely';
import { sql } from 'kysely';
import type { Db } from './database.js';
import type { Database } from './schema.js';
import { inTransaction } from './transaction.js';

/**
 * Removes old rows batch by batch until a batch comes back short; returns how many went. Each batch
 * is its own transaction under a transaction-scoped advisory lock named `lock`, taken with try: when
 * another process is already pruning the same table, this one leaves it to that one.
 */
export async function removeInBatches(
  db: Db,
  lock: string,
  batchSize: number,
  removeBatch: (trx: Transaction<Database>, batchSize: number) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await inTransaction(db, async (trx) => {
      const { rows } = await sql<{ locked: boolean }>`
        SELECT pg_try_advisory_xact_lock(hashtextextended(${lock}, 0)) AS locked
      `.execute(trx);
      return rows[0]?.locked ? removeBatch(trx, batchSize) : 0;
    });
    total += removed;
    if (removed < batchSize) return total;
  }
}
