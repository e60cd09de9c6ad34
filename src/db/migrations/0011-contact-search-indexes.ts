import { type Kysely, sql } from 'kysely';

/**
 * Indexes for searching the contacts list (contacts/contact-search.ts). Each leads with
 * organization_id, so one tenant's search reads only its own entries. None is partial on
 * deleted_at: include_deleted=true searches deleted contacts through the same indexes.
 *
 * Every index costs each insert, and each update that changes its columns (such an update is no
 * longer HOT), so there is one per filter that cannot be served otherwise:
 * - email_keys, tags, custom_fields: GIN (array and jsonb containment). btree_gin lets a GIN index
 *   lead with organization_id. fastupdate is off: with it, every insert appends to one pending list
 *   per index (serialized on its metapage across all tenants), a search rescans that list unsorted,
 *   and some insert pays for merging it, up to 4 MB of entries, when it fills (this server may run
 *   without autovacuum to merge it). jsonb_ops (the default) also serves `custom_fields ? key`,
 *   which deleting a custom field definition asks.
 * - q: btree prefix indexes, text_pattern_ops so `LIKE 'abc%'` becomes a range whatever the
 *   database's collation: lower(first_name), lower(last_name), and email_key (already lower-cased).
 *   The full name needs none: a prefix of `first last` is a prefix of the first name, or the first
 *   name followed by a prefix of the last name (contact-search.ts: fullNameSplits).
 * - phone: contacts_phone_key already indexes phone_key, for matching, but only for live contacts;
 *   it is rebuilt without that condition so that it serves include_deleted=true too. Matching
 *   (deleted_at IS NULL) still uses it, and the index count does not grow.
 * - external_ref and namespace: contact_external_refs' primary key (organization_id, namespace,
 *   external_id) serves both.
 *
 * Tags have no length limit, and a GIN entry must fit a third of a page (2712 bytes): a long tag
 * would make its contact's writes fail. The index holds contact_tag_keys(tags), each tag cut to 100
 * characters (at most 400 bytes); a search compares the same keys, then the tags themselves.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Trusted since PostgreSQL 13: the database owner may create it without superuser.
  await sql`CREATE EXTENSION IF NOT EXISTS btree_gin`.execute(db);
  // PL/pgSQL rather than SQL: a search that walks the feed calls it once per contact it passes, and
  // a loop that returns the array unchanged when no tag is long costs a quarter of a subquery.
  await sql`
    CREATE FUNCTION contact_tag_keys(tags text[]) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
    DECLARE
      tag text;
    BEGIN
      FOREACH tag IN ARRAY tags LOOP
        IF length(tag) > 100 THEN
          RETURN ARRAY(SELECT left(each, 100) FROM unnest(tags) AS each);
        END IF;
      END LOOP;
      RETURN tags;
    END
    $$
  `.execute(db);

  await sql`
    CREATE INDEX contacts_email_keys ON contacts USING gin (organization_id, email_keys) WITH (fastupdate = off)
  `.execute(db);
  await sql`
    CREATE INDEX contacts_tags ON contacts USING gin (organization_id, contact_tag_keys(tags)) WITH (fastupdate = off)
  `.execute(db);
  await sql`
    CREATE INDEX contacts_custom_fields ON contacts USING gin (organization_id, custom_fields) WITH (fastupdate = off)
  `.execute(db);
  // PostgreSQL estimates jsonb containment by trying it on the column's sampled values. With the
  // default 100 of them, a value 1 % of the contacts hold was estimated at 0.01 % or at 2 % from
  // one ANALYZE to the next, and a search's plan flipped between walking the feed (right) and
  // sorting all 10,000 matches (118 ms, at a million contacts). With 300, values of 1 % and 2 %
  // came within 10 %; ANALYZE of contacts samples 90,000 rows instead of 30,000 (3.5 s instead of
  // 0.8 s at 1.1 million rows; 1,000 took 13 s, past a 10 s statement timeout).
  await sql`ALTER TABLE contacts ALTER COLUMN custom_fields SET STATISTICS 300`.execute(db);

  await sql`
    CREATE INDEX contacts_first_name_prefix ON contacts (organization_id, lower(first_name) text_pattern_ops)
  `.execute(db);
  await sql`
    CREATE INDEX contacts_last_name_prefix ON contacts (organization_id, lower(last_name) text_pattern_ops)
  `.execute(db);
  await sql`CREATE INDEX contacts_email_key_prefix ON contacts (organization_id, email_key text_pattern_ops)`.execute(
    db,
  );

  await sql`DROP INDEX contacts_phone_key`.execute(db);
  await sql`
    CREATE INDEX contacts_phone_key ON contacts (organization_id, phone_key) WHERE phone_key IS NOT NULL
  `.execute(db);
}
