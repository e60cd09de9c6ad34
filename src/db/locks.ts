import { sql, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * Transaction-scoped advisory locks on natural keys (an external reference, an email), so that
 * concurrent writers of one key, in any server process, take turns instead of both inserting.
 * Callers lock every key before any row lock, and keys are taken in sorted order, so two requests
 * can never wait on each other in a cycle. Hash collisions only make unrelated keys take turns.
 */
export async function lockKeys(trx: Transaction<Database>, keys: readonly string[]): Promise<void> {
  const unique = [...new Set(keys)].sort();
  if (unique.length === 0) return;
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(${unique}::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n`.execute(
    trx,
  );
}

/** Lock names: a kind, the organization and the natural key, joined by a separator no key contains. */
export function lockKey(
  kind: 'contact-ref' | 'company-ref' | 'company-name' | 'contact-email' | 'contact-phone',
  organizationId: string,
  ...parts: string[]
) {
  return [kind, organizationId, ...parts].join('\u001f');
}
