import { type Kysely, sql } from 'kysely';

/**
 * The sequencer sorts the rows it takes twice (numbering them per organization, then keeping each
 * record's latest), and those rows carry the whole event. With the default work_mem (4 MB) a pass
 * of a few thousand events — a batch, an import, a backlog after an outage — spilled both sorts to
 * temporary files. A pass is bounded (event-log.ts numbers at most 5,000 events) and serial (one
 * runs at a time across every process), so the memory it may take is bounded too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER FUNCTION sequence_events(integer) SET work_mem = '32MB'`.execute(db);
}
