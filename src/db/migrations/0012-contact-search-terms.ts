import { type Kysely, sql } from 'kysely';

/**
 * Search in change-feed order through a posting list: contact_search_terms holds one row per
 * (term, contact) at the contact's feed position, so the contacts holding a term are one index
 * range already in feed order. A page of any single filter reads about as many entries as it
 * lists, whatever share of the organization holds the value; two filters are two such ranges
 * joined on the position. (0011's GIN and prefix indexes answered "which contacts hold it" in no
 * particular order: a value held by 0.1–5 % of a million contacts meant either walking the feed and
 * testing each contact, or fetching every match and sorting it, tens of milliseconds a page.)
 *
 * The sequencer keeps the list, in the statement that gives a contact its new feed position
 * (sequence_events below): it removes the entries at the old position and adds the new event's
 * terms at the new one. A write is answered once
 * its event is numbered (app.ts), so the very next search sees it. The request path pays nothing,
 * and contacts lose six indexes (three GIN, three prefix btrees): every insert, and every update
 * that changed a tag, a custom value, an email or a name, wrote entries in each.
 *
 * contact_search_terms(jsonb) is the one definition of a contact's terms. It reads a contact row as
 * to_jsonb gives it (the event's data), and search builds the terms it looks for by calling it on a
 * contact holding only the searched values (contact.repository.ts), so both sides agree by
 * construction. Terms, each at most a few hundred bytes (a btree entry must fit a third of a page):
 * - `t:<tag>`: each tag cut to 100 characters, like contact_tag_keys (0011);
 * - `e:<email key>`: each of the contact's emails (email_keys, already lower-case);
 * - `x:<namespace>`: each namespace the contact has an external reference in;
 * - `c:<key>=<value>`: each custom value as text (a multi_select's each option), cut to 100
 *   characters (a JSON null, which the API never stores, as nothing after `=`);
 * - `n:<name>`: the lower-cased first name and last name, cut to 100 characters, for q: a prefix
 *   of either is a range of these terms, a prefix of `first last` is the first name's term followed
 *   by a test of the last name, and a prefix of the primary email is a range of the `e:` terms.
 * A cut term stands for every value that starts the same way, so search always tests the
 * contact's current row as well. A change becomes searchable when its event is numbered, as it
 * enters the change feed: until then, search finds the contact by what it held before (minus what
 * its current row no longer matches), at its old position; then at its new one, past any cursor
 * already handed out, so a client paging a search does not miss it.
 *
 * Deleted contacts keep their terms (include_deleted=true searches them; they are few).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION contact_search_terms(contact jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT coalesce(array_agg(DISTINCT term), '{}') FROM (
        SELECT 't:' || left(tag, 100) AS term
        FROM jsonb_array_elements_text(coalesce(contact -> 'tags', '[]')) AS tag
        UNION ALL
        SELECT 'e:' || lower(email) FROM jsonb_array_elements_text(coalesce(contact -> 'email_keys', '[]')) AS email
        UNION ALL
        SELECT 'x:' || (ref ->> 'namespace') FROM jsonb_array_elements(coalesce(contact -> 'external_refs', '[]')) AS ref
        UNION ALL
        SELECT 'c:' || field.key || '=' || left(coalesce(item #>> '{}', ''), 100)
        FROM jsonb_each(coalesce(contact -> 'custom_fields', '{}')) AS field
        CROSS JOIN LATERAL jsonb_array_elements(
          CASE jsonb_typeof(field.value) WHEN 'array' THEN field.value ELSE jsonb_build_array(field.value) END
        ) AS item
        UNION ALL
        SELECT 'n:' || left(lower(name), 100) FROM unnest(ARRAY[contact ->> 'first_name', contact ->> 'last_name']) AS name
      ) AS terms
      WHERE term IS NOT NULL
    $$
  `.execute(db);

  // The primary key keeps a position's terms together, so the sequencer removes them with one
  // index descent (it knows the old position from feed_positions); looking each term up instead
  // cost 14 descents a contact, scattered over an index larger than shared_buffers (measured: 230
  // µs a contact at 100,000, 85 % of the sequencer's pass). Search reads contact_search_terms_lookup:
  // "C" collation (byte order), so a prefix is one index range whatever the database's collation
  // (q); the position after the term, so each term's entries are in feed order; contact_id included,
  // so sorting q's matches reads the index alone.
  await sql`
    CREATE TABLE contact_search_terms (
      organization_id uuid NOT NULL,
      seq bigint NOT NULL,
      term text COLLATE "C" NOT NULL,
      contact_id uuid NOT NULL,
      PRIMARY KEY (organization_id, seq, term)
    )
  `.execute(db);
  await sql`
    CREATE INDEX contact_search_terms_lookup ON contact_search_terms (organization_id, term, seq) INCLUDE (contact_id)
  `.execute(db);

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
      ), unlisted AS (
        -- Every statement of this WITH sees feed_positions as it was before it: the old positions.
        DELETE FROM contact_search_terms s
        USING latest l JOIN feed_positions p
          ON p.organization_id = l.organization_id AND p.resource_type = l.resource_type
         AND p.resource_id = l.resource_id
        WHERE l.resource_type = 'contact' AND s.organization_id = p.organization_id AND s.seq = p.seq
      ), listed AS (
        INSERT INTO contact_search_terms (organization_id, seq, term, contact_id)
        SELECT l.organization_id, l.seq, term, l.resource_id
        FROM latest l CROSS JOIN LATERAL unnest(contact_search_terms(l.data)) AS term
        WHERE l.resource_type = 'contact'
      ), positioned AS (
        INSERT INTO feed_positions AS p (organization_id, resource_type, resource_id, seq, updated_at)
        SELECT organization_id, resource_type, resource_id, seq, occurred_at FROM latest
        ON CONFLICT (organization_id, resource_type, resource_id)
        DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
        RETURNING 1
      )
      SELECT count(*) INTO numbered FROM inserted;
      RETURN numbered;
    END
    $$
  `.execute(db);

  // Contacts already in the feed, at their current positions. One whose latest event still waits
  // in the outbox is listed with its current row now, and moved by the sequencer like any other.
  await sql`
    INSERT INTO contact_search_terms (organization_id, seq, term, contact_id)
    SELECT p.organization_id, p.seq, term, p.resource_id
    FROM feed_positions p
    JOIN contacts c ON c.organization_id = p.organization_id AND c.id = p.resource_id
    CROSS JOIN LATERAL unnest(contact_search_terms(to_jsonb(c))) AS term
    WHERE p.resource_type = 'contact'
  `.execute(db);

  // What 0011 built for search and nothing else reads. contacts_phone_key stays (matching uses it,
  // and phone search is a lookup through it); contact_tag_keys stays (search compares tags with it).
  for (const index of [
    'contacts_email_keys',
    'contacts_tags',
    'contacts_custom_fields',
    'contacts_first_name_prefix',
    'contacts_last_name_prefix',
    'contacts_email_key_prefix',
  ]) {
    await sql`DROP INDEX ${sql.id(index)}`.execute(db);
  }
  // 0011 raised it for the GIN index's plans; nothing estimates containment on it now.
  await sql`ALTER TABLE contacts ALTER COLUMN custom_fields SET STATISTICS -1`.execute(db);
}
