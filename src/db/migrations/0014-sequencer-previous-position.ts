import { type Kysely, sql } from 'kysely';

/**
 * The sequencer learns where a record stood in the feed from its own upsert of feed_positions,
 * instead of joining feed_positions a second time.
 *
 * Why. 0012 found each contact's old position (to remove its search terms there) with a join on
 * feed_positions' key. On a table PostgreSQL has never analyzed (autovacuum off, or a bulk load in
 * the minute before its first run), the planner costs a probe by (organization, type, id) the same
 * through the primary key and through feed_positions_updated_at, which only matches
 * (organization, type), and took the latter: every probe read all of the organization's positions.
 * Measured on a fresh PostgreSQL 15 database: a pass of 5,000 events spent 10.9 s there, so
 * importing 100,000 contacts stopped at the statement timeout after 20,000, and seeding the bench
 * slowed down with every batch.
 *
 * An INSERT … ON CONFLICT finds the conflicting row through its arbiter, the primary key, whatever
 * the statistics say. Its DO UPDATE keeps the position it replaces in previous_seq, and RETURNING
 * hands that to the statement that removes the old search terms. previous_seq is NULL for a record
 * numbered for the first time.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE feed_positions ADD COLUMN previous_seq bigint`.execute(db);

  // 0012's function, with `positioned` before `unlisted` and feeding it. Every other step is as it was.
  await sql`
    CREATE OR REPLACE FUNCTION sequence_events(max_events integer) RETURNS integer LANGUAGE plpgsql
    SET enable_seqscan = off SET enable_bitmapscan = off AS $$
    DECLARE
      numbered integer;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtextextended('contacts-api:sequence-events', 0));
      WITH taken AS (
        DELETE FROM event_outbox o
        WHERE o.ctid = ANY (ARRAY(
          SELECT ctid FROM event_outbox ORDER BY organization_id, recorded, id LIMIT max_events
        ))
        RETURNING o.*
      ), ordered AS (
        SELECT t.*,
               row_number() OVER (PARTITION BY t.organization_id ORDER BY t.recorded, t.id) AS n,
               count(*) OVER (PARTITION BY t.organization_id) AS taken_count
        FROM taken t
      ), counted AS (
        INSERT INTO event_counters AS c (organization_id, last_seq)
        SELECT DISTINCT organization_id, taken_count FROM ordered
        ON CONFLICT (organization_id) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq
        RETURNING c.organization_id, c.last_seq
      ), inserted AS (
        INSERT INTO events
          (organization_id, seq, id, resource_type, resource_id, resource_version, type, origin, occurred_at,
           changed_columns, data)
        SELECT o.organization_id, c.last_seq - o.taken_count + o.n, o.id, o.resource_type, o.resource_id,
               o.resource_version, o.type, o.origin, o.occurred_at, o.changed_columns, o.data
        FROM ordered o JOIN counted c USING (organization_id)
        RETURNING organization_id, resource_type, resource_id, seq, occurred_at, data
      ), latest AS (
        SELECT DISTINCT ON (organization_id, resource_type, resource_id)
               organization_id, resource_type, resource_id, seq, occurred_at, data
        FROM inserted
        ORDER BY organization_id, resource_type, resource_id, seq DESC
      ), positioned AS (
        INSERT INTO feed_positions AS p (organization_id, resource_type, resource_id, seq, updated_at)
        SELECT organization_id, resource_type, resource_id, seq, occurred_at FROM latest
        ON CONFLICT (organization_id, resource_type, resource_id)
        DO UPDATE SET previous_seq = p.seq, seq = excluded.seq, updated_at = excluded.updated_at
        RETURNING p.organization_id, p.resource_type, p.previous_seq
      ), unlisted AS (
        -- A statement of this WITH sees contact_search_terms as it was before it: the old entries.
        DELETE FROM contact_search_terms s
        USING positioned p
        WHERE p.resource_type = 'contact' AND p.previous_seq IS NOT NULL
          AND s.organization_id = p.organization_id AND s.seq = p.previous_seq
      ), listed AS (
        INSERT INTO contact_search_terms (organization_id, seq, term, contact_id)
        SELECT l.organization_id, l.seq, term, l.resource_id
        FROM latest l CROSS JOIN LATERAL unnest(contact_search_terms(l.data)) AS term
        WHERE l.resource_type = 'contact'
      )
      SELECT count(*) INTO numbered FROM inserted;
      RETURN numbered;
    END
    $$
  `.execute(db);
  // 0013's setting, which CREATE OR REPLACE keeps only when it is given again.
  await sql`ALTER FUNCTION sequence_events(integer) SET work_mem = '32MB'`.execute(db);
}
