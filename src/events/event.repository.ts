import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { Database, EventsTable } from '../db/schema.js';
import { typeMatchesSql } from './event-types.js';

type Executor = Kysely<Database> | Transaction<Database>;

export type EventRow = Selectable<EventsTable>;

/**
 * One sequencer pass (migration 0006: sequence_events): numbers up to `max` committed outbox events
 * and makes them readable. Returns how many it numbered. Serial across processes by its own lock.
 */
export async function sequenceEvents(db: Executor, max: number): Promise<number> {
  const { rows } = await sql<{ numbered: number }>`SELECT sequence_events(${max}::integer) AS numbered`.execute(db);
  return rows[0]?.numbered ?? 0;
}

/** Numbers every event committed so far, pass after pass (a writer outside the server, the CLI, ends with it). */
export async function sequenceAllEvents(db: Executor, passSize = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const numbered = await sequenceEvents(db, passSize);
    total += numbered;
    // A full pass may have left more behind.
    if (numbered < passSize) return total;
  }
}

/**
 * Vacuums the outbox. Every event passes through it, so between autovacuum runs (or where
 * autovacuum is off) it is mostly dead rows, and each sequencer pass would walk their index entries.
 * SKIP_LOCKED: a vacuum already running in another process is enough. A role that does not own the
 * table gets a warning, not an error, and autovacuum remains the fallback.
 */
export async function vacuumOutbox(db: Kysely<Database>): Promise<void> {
  await sql`VACUUM (SKIP_LOCKED) event_outbox`.execute(db);
}

export interface EventQuery {
  after: number;
  limit: number;
  /** Type patterns (event-types.ts). */
  types: readonly string[];
  excludeOrigins: readonly string[];
}

/** Events after a number, in order; fetches limit + 1 to learn whether more follow. */
export async function listEvents(db: Executor, organizationId: string, query: EventQuery): Promise<EventRow[]> {
  let select = db
    .selectFrom('events')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('seq', '>', query.after)
    .where(typeMatchesSql(sql.ref('type'), sql`${query.types}::text[]`));
  if (query.excludeOrigins.length > 0) {
    select = select.where(sql<boolean>`NOT (origin = ANY(${query.excludeOrigins}::text[]))`);
  }
  return select
    .orderBy('seq')
    .limit(query.limit + 1)
    .execute();
}

/** An organization's last event number and the number through which retention may have removed events. */
export async function eventHorizon(
  db: Executor,
  organizationId: string,
): Promise<{ lastSeq: number; prunedThrough: number }> {
  const row = await db
    .selectFrom('event_counters')
    .select(['last_seq', 'pruned_through'])
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
  return { lastSeq: row?.last_seq ?? 0, prunedThrough: row?.pruned_through ?? 0 };
}

/**
 * Removes up to `max` of the oldest events older than `before` (the change feeds do not need them:
 * they page by feed_positions). Every organization that lost events gets its pruned_through raised,
 * in the same statement, so a reader behind it learns it missed some. Returns how many it removed.
 */
export async function pruneEvents(db: Executor, before: Date, max: number): Promise<number> {
  const { rows } = await sql<{ removed: number }>`
    WITH removed AS (
      DELETE FROM events e
      WHERE e.ctid = ANY (ARRAY(
        SELECT ctid FROM events WHERE occurred_at < ${before} ORDER BY occurred_at LIMIT ${max}
      ))
      RETURNING e.organization_id, e.seq
    ), raised AS (
      UPDATE event_counters c SET pruned_through = greatest(c.pruned_through, r.through)
      FROM (SELECT organization_id, max(seq) AS through FROM removed GROUP BY organization_id) r
      WHERE c.organization_id = r.organization_id
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM removed)::integer AS removed, (SELECT count(*) FROM raised) AS raised
  `.execute(db);
  return rows[0]?.removed ?? 0;
}
