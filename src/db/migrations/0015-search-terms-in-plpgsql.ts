import { type Kysely, sql } from 'kysely';

/**
 * contact_search_terms(jsonb), the one definition of a contact's search terms (0012), in PL/pgSQL:
 * the same terms, computed for a fraction of what the sequencer paid.
 *
 * Why. 0012 wrote it as one SQL query (five UNION ALL branches over jsonb set-returning functions,
 * then array_agg(DISTINCT)). A SQL function that is not inlined is started as a query of its own on
 * every call, and on PostgreSQL 15 it is also parsed and planned again by every statement that calls
 * it. The sequencer calls it once per contact it numbers. Measured on PostgreSQL 15 (10,000 contacts,
 * one session, synchronous_commit off, sequence_events after N single-row updates): a pass of 1
 * contact 1.0 ms, of 10 contacts 4.5 ms, of 100 contacts 31 ms with the SQL function; 0.6–0.9,
 * 2.6–3.3 and 19–25 ms with this one. The function alone, over 10,000 event rows: about 45 µs a
 * call in SQL, about 30 µs here.
 *
 * The body walks each jsonb array by index (plain expressions, which PL/pgSQL evaluates without
 * starting a query), appends every term, and removes duplicates once at the end, so a contact with
 * many custom values costs n log n, not n². Terms and their rules are exactly 0012's (see there);
 * the order of the array was never part of the contract (the sequencer unnests it, search looks a
 * term up with = ANY or reads the only element), and test/contract/search-terms.test.ts compares
 * this definition with 0012's on generated contacts. Still IMMUTABLE: search calls it on constants,
 * and the planner folds those calls while planning.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION contact_search_terms(contact jsonb) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    DECLARE
      terms text[] := '{}';
      list jsonb;
      field text;
      value jsonb;
      i integer;
    BEGIN
      list := contact -> 'tags';
      IF jsonb_typeof(list) = 'array' THEN
        FOR i IN 0 .. jsonb_array_length(list) - 1 LOOP
          terms := terms || ('t:' || left(list ->> i, 100));
        END LOOP;
      END IF;
      list := contact -> 'email_keys';
      IF jsonb_typeof(list) = 'array' THEN
        FOR i IN 0 .. jsonb_array_length(list) - 1 LOOP
          terms := terms || ('e:' || lower(list ->> i));
        END LOOP;
      END IF;
      list := contact -> 'external_refs';
      IF jsonb_typeof(list) = 'array' THEN
        FOR i IN 0 .. jsonb_array_length(list) - 1 LOOP
          terms := terms || ('x:' || (list -> i ->> 'namespace'));
        END LOOP;
      END IF;
      -- A multi_select's value is a list: one term per option. A JSON null (never stored) is 'c:<key>='.
      IF jsonb_typeof(contact -> 'custom_fields') = 'object' THEN
        FOR field, value IN SELECT f.key, f.value FROM jsonb_each(contact -> 'custom_fields') AS f LOOP
          list := CASE jsonb_typeof(value) WHEN 'array' THEN value ELSE jsonb_build_array(value) END;
          FOR i IN 0 .. jsonb_array_length(list) - 1 LOOP
            terms := terms || ('c:' || field || '=' || left(coalesce(list -> i #>> '{}', ''), 100));
          END LOOP;
        END LOOP;
      END IF;
      terms := terms || ('n:' || left(lower(contact ->> 'first_name'), 100));
      terms := terms || ('n:' || left(lower(contact ->> 'last_name'), 100));
      -- A term of a missing value (no namespace, no name, a null element) is NULL: not a term.
      RETURN ARRAY(SELECT DISTINCT term FROM unnest(terms) AS term WHERE term IS NOT NULL);
    END
    $$
  `.execute(db);
}
