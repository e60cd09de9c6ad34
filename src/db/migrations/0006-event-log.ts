import { type Kysely, sql } from 'kysely';

/**
 * The event log: every committed change to a contact or a company, numbered per organization in an
 * order readers can trust (a reader that has seen seq N never later sees a new event at or below N).
 *
 * How it is numbered. A write cannot number its own event: two transactions take numbers in one
 * order and may commit in the other, and a reader between the two commits would see the higher
 * number first. So a write only appends its event to event_outbox, in its own transaction, from a
 * row trigger (every path that writes a contact or a company produces its event without knowing
 * it). After commit, sequence_events() moves committed outbox rows into events and numbers them. It
 * runs under one advisory lock, so passes are serial; a pass numbers after the last pass's numbers,
 * and its rows become visible all at once when it commits. Nothing here waits on the snapshot
 * horizon, so a long transaction elsewhere in the cluster delays nothing (the change feeds used to
 * wait for the oldest running transaction of the whole cluster).
 *
 * The change feeds (GET /contacts, GET /companies) page through the same numbers: the sequencer
 * keeps each record's latest one in feed_positions, so the feeds inherit the ordering.
 *
 * What changed is found generically: the trigger diffs the old and new row as jsonb and keeps the
 * names of the columns that differ; the application maps columns to representation fields when it
 * reads an event, from the field declarations.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // A token may carry the origin its writes are recorded with (a sync's own token names its system).
  await sql`ALTER TABLE api_tokens ADD COLUMN origin text`.execute(db);
  await sql`ALTER TABLE companies ADD COLUMN change_origin text NOT NULL DEFAULT 'api'`.execute(db);

  // The companies a contact shows, as it shows them: one definition for list reads and for events.
  await sql`
    CREATE FUNCTION contact_companies(organization uuid, connections jsonb) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
      SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', co.id, 'name', co.name, 'version', co.version,
               'jobTitle', conn.value -> 'jobTitle', 'isPrimary', conn.value -> 'isPrimary'
             ) ORDER BY conn.n), '[]'::jsonb)
      FROM jsonb_array_elements(connections) WITH ORDINALITY AS conn(value, n)
      JOIN companies co
        ON co.organization_id = organization
       AND co.id = (conn.value ->> 'companyId')::uuid
       AND co.deleted_at IS NULL
    $$
  `.execute(db);

  const eventColumns = sql.raw(`
      resource_type text NOT NULL CHECK (resource_type IN ('contact', 'company')),
      resource_id uuid NOT NULL,
      -- The record's version after the change.
      resource_version integer NOT NULL,
      type text NOT NULL,
      origin text NOT NULL,
      occurred_at timestamptz NOT NULL,
      -- Columns whose value changed; NULL for a creation (everything is new).
      changed_columns text[],
      -- The row right after the change, with the companies a contact showed then.
      data jsonb NOT NULL`);

  // No foreign keys to organizations on the event tables: the check would lock the organization's
  // row (FOR KEY SHARE) in every write and every sequencer pass, one hot row for all of a tenant's
  // writers. The API deletes no organization; an operator who does deletes its rows here too.
  //
  // The order in which the trigger ran, from a sequence rather than the clock: a later write of one
  // record runs after the earlier one committed, so it always draws a larger number, whatever the
  // wall clock does meanwhile.
  await sql`CREATE SEQUENCE event_outbox_recorded`.execute(db);
  await sql`
    CREATE TABLE event_outbox (
      organization_id uuid NOT NULL,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      ${eventColumns},
      recorded bigint NOT NULL DEFAULT nextval('event_outbox_recorded'),
      -- The order the sequencer takes rows in. It reads through this index, never the whole heap: a
      -- queue table is mostly dead rows between vacuums (or while a long transaction holds vacuum
      -- back), and an index scan skips them once they are marked dead.
      PRIMARY KEY (organization_id, recorded, id)
    )
  `.execute(db);

  await sql`
    CREATE TABLE events (
      organization_id uuid NOT NULL,
      seq bigint NOT NULL,
      id uuid NOT NULL,
      ${eventColumns},
      PRIMARY KEY (organization_id, seq)
    )
  `.execute(db);
  // Retention removes events by age, across organizations, a batch at a time.
  await sql`CREATE INDEX events_occurred_at ON events (occurred_at)`.execute(db);

  // Where each record stands in its change feed: the number of its latest event. The feeds page
  // through this (one row per record), not through the log, where a record changed a hundred times
  // would have a hundred entries to skip. updated_at serves updated_since.
  await sql`
    CREATE TABLE feed_positions (
      organization_id uuid NOT NULL,
      resource_type text NOT NULL CHECK (resource_type IN ('contact', 'company')),
      resource_id uuid NOT NULL,
      seq bigint NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (organization_id, resource_type, resource_id)
    )
  `.execute(db);
  await sql`CREATE INDEX feed_positions_order ON feed_positions (organization_id, resource_type, seq)`.execute(db);
  await sql`CREATE INDEX feed_positions_updated_at ON feed_positions (organization_id, resource_type, updated_at)`.execute(
    db,
  );

  await sql`
    CREATE TABLE event_counters (
      organization_id uuid NOT NULL PRIMARY KEY,
      last_seq bigint NOT NULL,
      -- Events at or below this number may have been removed by retention: a reader behind it must resync.
      pruned_through bigint NOT NULL DEFAULT 0
    )
  `.execute(db);

  await sql`
    CREATE FUNCTION record_event() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      new_row jsonb := to_jsonb(NEW);
      old_row jsonb;
      changed text[];
      kind text;
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        -- Bookkeeping that does not change the record (a re-keyed phone) leaves the version alone.
        IF NEW.version = OLD.version THEN
          RETURN NULL;
        END IF;
        old_row := to_jsonb(OLD);
        changed := ARRAY(SELECT n.key FROM jsonb_each(new_row) AS n WHERE n.value IS DISTINCT FROM old_row -> n.key);
        -- A change to a deleted record (a reference moving to the record that replaces it) is still
        -- a deletion to a consumer: reported as updated, a sync would bring the record back.
        kind := CASE
          WHEN NEW.deleted_at IS NOT NULL THEN 'deleted'
          WHEN OLD.deleted_at IS NOT NULL THEN 'revived'
          ELSE 'updated' END;
      ELSE
        kind := 'created';
      END IF;
      IF TG_ARGV[0] = 'contact' THEN
        new_row := new_row || jsonb_build_object('companies',
          CASE WHEN NEW.connections = '[]'::jsonb THEN '[]'::jsonb
               ELSE contact_companies(NEW.organization_id, NEW.connections) END);
      END IF;
      INSERT INTO event_outbox
        (organization_id, resource_type, resource_id, resource_version, type, origin, occurred_at, changed_columns, data)
      VALUES
        (NEW.organization_id, TG_ARGV[0], NEW.id, NEW.version, TG_ARGV[0] || '.' || kind, NEW.change_origin,
         NEW.updated_at, changed, new_row);
      RETURN NULL;
    END
    $$
  `.execute(db);
  await sql`
    CREATE TRIGGER contacts_record_event AFTER INSERT OR UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION record_event('contact')
  `.execute(db);
  await sql`
    CREATE TRIGGER companies_record_event AFTER INSERT OR UPDATE ON companies
    FOR EACH ROW EXECUTE FUNCTION record_event('company')
  `.execute(db);

  // One pass of the sequencer; returns how many events it numbered. The lock makes passes serial
  // across every server process; each statement after it takes a fresh snapshot (READ COMMITTED, a
  // volatile function), so it sees the previous pass's commit and everything committed before it.
  await sql`
    CREATE FUNCTION sequence_events(max_events integer) RETURNS integer LANGUAGE plpgsql
    -- The outbox must be read through its index (see its primary key); with no statistics yet, or
    -- stale ones, the planner would pick a scan of the whole heap, dead rows and all.
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
        RETURNING organization_id, resource_type, resource_id, seq, occurred_at
      ), positioned AS (
        INSERT INTO feed_positions AS p (organization_id, resource_type, resource_id, seq, updated_at)
        SELECT DISTINCT ON (organization_id, resource_type, resource_id)
               organization_id, resource_type, resource_id, seq, occurred_at
        FROM inserted
        ORDER BY organization_id, resource_type, resource_id, seq DESC
        ON CONFLICT (organization_id, resource_type, resource_id)
        DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
        RETURNING 1
      )
      SELECT count(*) INTO numbered FROM inserted;
      RETURN numbered;
    END
    $$
  `.execute(db);

  // The old feed's order as recording numbers below any live write's, which the sequencer numbers by.
  const FEED_ORDER = sql.raw(
    `row_number() OVER (PARTITION BY c.organization_id ORDER BY c.change_xid, c.id) - 9223372036854775807`,
  );
  // Records written before the log existed get one event each (their last change), numbered in the
  // order the old change feed listed them, so the feeds keep listing them.
  await sql`
    INSERT INTO event_outbox
      (organization_id, resource_type, resource_id, resource_version, type, origin, occurred_at, changed_columns, data,
       recorded)
    SELECT c.organization_id, 'contact', c.id, c.version, 'contact.' || c.change_type, c.change_origin, c.updated_at,
           CASE WHEN c.change_type = 'created' THEN NULL ELSE '{}'::text[] END,
           to_jsonb(c) || jsonb_build_object('companies', contact_companies(c.organization_id, c.connections)),
           ${FEED_ORDER}
    FROM contacts c
  `.execute(db);
  await sql`
    INSERT INTO event_outbox
      (organization_id, resource_type, resource_id, resource_version, type, origin, occurred_at, changed_columns, data,
       recorded)
    SELECT c.organization_id, 'company', c.id, c.version,
           CASE WHEN c.deleted_at IS NOT NULL THEN 'company.deleted'
                WHEN c.version = 1 THEN 'company.created' ELSE 'company.updated' END,
           c.change_origin, c.updated_at, CASE WHEN c.version = 1 THEN NULL ELSE '{}'::text[] END, to_jsonb(c),
           ${FEED_ORDER}
    FROM companies c
  `.execute(db);
  await sql`SELECT sequence_events(2147483647)`.execute(db);

  // The feeds no longer page by transaction id or read updated_at through an index. Without indexes
  // on columns every update sets, an update that keeps email and phone can be HOT (no index writes),
  // and pages keep some room for it.
  await sql`DROP INDEX contacts_change_feed`.execute(db);
  await sql`DROP INDEX contacts_updated_at`.execute(db);
  await sql`DROP INDEX companies_change_feed`.execute(db);
  await sql`ALTER TABLE contacts SET (fillfactor = 85)`.execute(db);
}
