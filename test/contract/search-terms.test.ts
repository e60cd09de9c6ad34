/**
 * Search's posting list (migration 0012: contact_search_terms) held to what it stands for.
 *
 * The sequencer keeps one entry per search term of each contact, at the contact's feed position,
 * and removes the entries at the old position when the contact moves. An entry left at an old position, or one never written, would make the 'terms' and
 * 'q-terms' routes list other contacts than walking the feed does, and no single-search test would
 * notice until the stale entry happened to match. So: after a varied run of writes through the API,
 * the list must be exactly what feed_positions and the contacts' rows say; and on a seeded
 * organization, every route searchPlan picks must page through the same rows, in the same order, as
 * the 'feed' route, which tests each contact's current row and is the reference.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type Kysely, sql } from 'kysely';
import { listDefinitions } from '../../src/contact-fields/custom-field.repository.js';
import {
  type FeedContactRow,
  listContactsStatement,
  type SearchPlan,
  searchPlan,
} from '../../src/contacts/contact.repository.js';
import { contactSearch, searchTerms } from '../../src/contacts/contact-search.js';
import type { Database } from '../../src/db/schema.js';
import type { FeedFilter } from '../../src/http/feed.js';
import { createTestApp, type Response, type TestApp } from '../helpers/app.js';
import { allPages, type Client, CONTACTS, type Json, newContact, newProfileApi, refPath } from '../helpers/contacts.js';
import type { TestOrganization } from '../helpers/factories.js';
import { createFields, SEARCHABLE_FIELDS } from '../http/contact-fields/helpers.js';

const BATCH = `${CONTACTS}/batch`;
const UPSERT = `${CONTACTS}/upsert`;

/** Values as long as a term keeps (100 characters); the seed also holds longer ones that start with them. */
const TAG_100 = `t100-${'a'.repeat(95)}`;
/** A term's worth of tag that only longer tags start with: its entries all fail the test of the row. */
const TAG_CUT_ONLY = `t100-${'b'.repeat(95)}`;
const NOTES_100 = `Notes of a hundred characters ${'n'.repeat(70)}`;

describe('contact search terms (migration 0012)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = (settings?: Record<string, unknown>) => newProfileApi(t.app, settings);

  /** The body of an answer that must have `status`. */
  async function bodyOf(response: Promise<Response>, status: number): Promise<Json> {
    const answered = await response;
    assert.equal(answered.statusCode, status, answered.body);
    return answered.json();
  }

  /** An entry as one string, `term | seq | contact`, so that multisets of entries compare as sorted lists. */
  const entryKey = (row: { term: string; seq: number | string; contact_id: string }) =>
    `${row.term} | ${Number(row.seq)} | ${row.contact_id}`;

  /**
   * The invariant the search routes rely on, for one organization whose events are all numbered:
   * each contact is in the feed with the terms of its current row (its latest event carried that
   * row), and the list holds exactly one entry per such term at that position — none at an old one.
   */
  async function assertTermsListed(db: Kysely<Database>, organizationId: string): Promise<void> {
    // The writes were answered once numbered; a flush also covers a pass that gave up waiting under
    // load. With nothing of the organization left in the outbox, the rows are what the events said.
    await t.app.eventLog.flush();
    const { rows: waiting } = await sql<{ n: number }>`
      SELECT count(*)::integer AS n FROM event_outbox WHERE organization_id = ${organizationId}
    `.execute(db);
    assert.equal(waiting[0]?.n, 0, 'every event of the organization is numbered');

    const { rows: contacts } = await sql<{ id: string; seq: number | null }>`
      SELECT c.id, p.seq
      FROM contacts c
      LEFT JOIN feed_positions p
        ON p.organization_id = c.organization_id AND p.resource_type = 'contact' AND p.resource_id = c.id
      WHERE c.organization_id = ${organizationId}
    `.execute(db);
    const positions = new Map<string, number>();
    for (const contact of contacts) {
      assert.notEqual(contact.seq, null, `contact ${contact.id} has a feed position`);
      positions.set(contact.id, Number(contact.seq));
    }
    const { rows: feedCount } = await sql<{ n: number }>`
      SELECT count(*)::integer AS n FROM feed_positions WHERE organization_id = ${organizationId} AND resource_type = 'contact'
    `.execute(db);
    assert.equal(feedCount[0]?.n, contacts.length, 'every contact in the feed is a contact of the organization');

    const { rows: entries } = await sql<{ term: string; seq: number; contact_id: string }>`
      SELECT term, seq, contact_id FROM contact_search_terms WHERE organization_id = ${organizationId}
    `.execute(db);
    // Every event is numbered, so each contact's current row is its latest event's data.
    const { rows: wanted } = await sql<{ term: string; seq: number; contact_id: string }>`
      SELECT term, p.seq, p.resource_id AS contact_id
      FROM feed_positions p
      JOIN contacts c ON c.organization_id = p.organization_id AND c.id = p.resource_id
      CROSS JOIN LATERAL unnest(contact_search_terms(to_jsonb(c))) AS term
      WHERE p.organization_id = ${organizationId} AND p.resource_type = 'contact'
    `.execute(db);
    // Named failures first: an entry at a position its contact has left (the sequencer did not remove
    // it when the contact moved), and a term of a contact's position with no entry (not inserted).
    const stale = entries.filter((entry) => positions.get(entry.contact_id) !== Number(entry.seq)).map(entryKey);
    assert.deepEqual(stale, [], 'no entry at a position its contact has left');
    const listed = new Set(entries.map(entryKey));
    const missing = wanted.map(entryKey).filter((key) => !listed.has(key));
    assert.deepEqual(missing, [], 'every term of every position has its entry');
    assert.equal(entries.length, wanted.length, 'as many entries as terms at the positions');
    assert.deepEqual(entries.map(entryKey).sort(), wanted.map(entryKey).sort());
    // Not vacuous: every contact of these tests has a name or an email, so a term or more.
    assert.ok(entries.length > contacts.length, `${entries.length} entries for ${contacts.length} contacts`);
  }

  /** The entries listed for one contact now, by term. */
  async function entriesOf(db: Kysely<Database>, organizationId: string, contactId: string): Promise<string[]> {
    const rows = await db
      .selectFrom('contact_search_terms')
      .select('term')
      .where('organization_id', '=', organizationId)
      .where('contact_id', '=', contactId)
      .execute();
    return rows.map((row) => row.term).sort();
  }

  it('lists exactly the terms of each contact at its feed position, through every kind of write', async () => {
    const { org, api } = await newApi({ duplicateContactMatching: { fields: ['email'] } });
    await createFields(api, SEARCHABLE_FIELDS);
    const db = t.database.db;
    const longTag = `long-tag-${'x'.repeat(141)}`;
    const longNotes = `Long notes ${'n'.repeat(139)}`;

    const ada = await newContact(api, {
      firstName: 'Ada',
      lastName: 'Lovelace',
      emails: [{ address: 'ada@example.com' }, { address: 'Ada.L@Work.example' }, { address: 'ada@home.example' }],
      tags: ['vip', 'customer'],
      customFields: { notes: 'Met at fair', score: 5, active: true, tier: 'gold', interests: ['golf', 'sailing'] },
    });
    const long = await newContact(api, {
      firstName: 'Mary Ann',
      lastName: 'Smith',
      tags: [longTag, 'customer'],
      customFields: { notes: longNotes, score: 2.5 },
    });
    // Values whose terms coincide (a term is listed once): two tags cut to the same 100 characters,
    // a first name that is also the last name.
    const twins = await newContact(api, { firstName: 'Lee', lastName: 'Lee', tags: [longTag, `${longTag}-2`] });
    const bare = await bodyOf(api.post(CONTACTS, { email: 'only@example.com' }), 201);
    const byRef = await bodyOf(
      api.patch(refPath('hubspot', 'h-1'), { firstName: 'Ref', tags: ['synced'], customFields: { active: false } }),
      201,
    );
    const twoRefs = await newContact(api, {
      firstName: 'Two',
      externalRefs: [
        { namespace: 'HubSpot', id: 'h-2' },
        { namespace: 'zoho', id: 'z-2' },
      ],
      customFields: { interests: ['chess'] },
    });
    const batch = await bodyOf(
      api.post(BATCH, {
        items: [
          {
            ref: 'b1',
            externalRef: { namespace: 'zoho', id: 'z-3' },
            data: { firstName: 'Batch', tags: ['batched'], customFields: { tier: 'silver' } },
          },
          {
            ref: 'b2',
            externalRef: { namespace: 'Zoho', id: 'z-4' },
            data: { lastName: 'Second', email: 'second@example.com' },
          },
        ],
      }),
      200,
    );
    const batched = batch.results.map((result: Json) => result.id as string);
    // Matched by email: an update of Ada through the match upsert.
    const matched = await bodyOf(
      api.post(UPSERT, { firstName: 'Matched', email: 'ADA@example.com', tags: ['matched'] }),
      200,
    );
    assert.equal(matched.contact.id, ada.id);

    // Updates that change terms (names, emails, tags, custom values), and one that changes none but
    // still moves the contact, whose entries must move with it.
    await bodyOf(
      api.patch(ada.uri, {
        firstName: 'Augusta',
        emails: [{ address: 'augusta@example.com' }, { address: 'ada@home.example' }],
        tags: ['customer', 'new'],
        customFields: { score: null, interests: ['chess'], tier: 'silver' },
      }),
      200,
    );
    await bodyOf(api.patch(long.uri, { city: 'Uppsala' }), 200);
    await bodyOf(api.patch(refPath('hubspot', 'h-1'), { lastName: 'Synced', tags: ['synced', 'vip'] }), 200);
    await bodyOf(
      api.patch(bare.uri, { firstName: 'Named', lastName: 'Later', customFields: { notes: 'Was bare' } }),
      200,
    );
    await bodyOf(api.patch(`${CONTACTS}/${batched[0]}`, { customFields: { tier: null, active: true } }), 200);

    // Deleted contacts keep their terms (include_deleted searches them), at their new position.
    assert.equal((await api.delete(twoRefs.uri)).statusCode, 204);
    assert.equal((await api.delete(byRef.uri)).statusCode, 204);
    const revived = await api.patch(refPath('hubspot', 'h-1'), { firstName: 'Back' });
    assert.equal(revived.statusCode, 200, revived.body);
    assert.equal(revived.headers['x-propstreet-upsert-action'], 'revived');
    // revive=false: a new contact takes the reference, and the deleted one is written again without it.
    const replacement = await bodyOf(
      api.patch(`${refPath('zoho', 'z-2')}?revive=false`, { firstName: 'Replacement' }),
      201,
    );
    assert.notEqual(replacement.id, twoRefs.id);

    // Writes side by side, so that a pass of the sequencer may number several contacts' events, or
    // several of one contact's, at once.
    const burst = [ada.uri, bare.uri, `${CONTACTS}/${batched[1]}`, replacement.uri];
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        api.patch(burst[index % burst.length] as string, {
          tags: [`burst-${index}`, 'customer'],
          customFields: { score: index },
        }),
      ),
    );
    for (const answer of answers) assert.equal(answer.statusCode, 200, answer.body);

    await assertTermsListed(db, org.id);

    // What the definition of terms makes of these contacts, spelled out for a few of them.
    const longTerms = await entriesOf(db, org.id, long.id);
    assert.ok(longTerms.includes(`t:${longTag.slice(0, 100)}`), 'a long tag is listed cut to 100 characters');
    assert.ok(longTerms.includes(`c:notes=${longNotes.slice(0, 100)}`), 'so is a long text value');
    assert.ok(!longTerms.includes(`t:${longTag}`));
    assert.ok(longTerms.includes('n:mary ann') && longTerms.includes('n:smith'), 'first and last names are terms');
    assert.ok(!longTerms.includes('n:mary ann smith'), 'the full name is not: q reads it from the first name');
    assert.deepEqual(await entriesOf(db, org.id, twins.id), ['n:lee', `t:${longTag.slice(0, 100)}`]);
    const adaTerms = await entriesOf(db, org.id, ada.id);
    assert.ok(adaTerms.includes('e:augusta@example.com') && adaTerms.includes('e:ada@home.example'));
    for (const gone of ['e:ada@example.com', 'e:ada.l@work.example', 'n:ada', 't:vip', 'c:tier=gold']) {
      assert.ok(!adaTerms.includes(gone), `${gone} left with the value`);
    }
    const tombstoneTerms = await entriesOf(db, org.id, twoRefs.id);
    assert.ok(tombstoneTerms.includes('n:two'), 'a deleted contact keeps its terms');
    assert.ok(
      tombstoneTerms.includes('x:hubspot') && !tombstoneTerms.includes('x:zoho'),
      'without the moved reference',
    );
    assert.ok(
      (await entriesOf(db, org.id, replacement.id)).includes('x:zoho'),
      'the namespace of a moved reference is listed for the contact that took it',
    );
  });

  /**
   * 0012 defined the terms as one SQL query; 0015 rewrote the function in PL/pgSQL for the
   * sequencer's sake. This is 0012's text, kept as the reference the rewrite must agree with (as
   * sets: the array's order was never part of the contract).
   */
  const TERMS_0012 = `
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
    WHERE term IS NOT NULL`;

  it('computes the terms 0012 defined, for any contact row (migration 0015)', async () => {
    // Values around the 100-character cut, in any case, repeated, missing or null.
    const text = fc.oneof(
      fc.constantFrom('vip', 'VIP', 'Vip', 'Åsa', 'ÅSA', '', ' spaced ', 'a=b', 'x'.repeat(99), 'x'.repeat(100)),
      fc.constantFrom('x'.repeat(101), `${'y'.repeat(100)}-tail`, `${'Y'.repeat(100)}-TAIL`),
      fc.string({ maxLength: 120 }).filter((value) => !value.includes('\u0000')),
    );
    const list = <T>(item: fc.Arbitrary<T>) => fc.array(item, { maxLength: 6 });
    const customValue = fc.oneof(
      text,
      fc.constantFrom(0, 1, 2.5, -3, 1e21, 125000),
      fc.boolean(),
      fc.constant(null),
      list(fc.oneof(text, fc.constant(null))),
    );
    const contact = fc.record(
      {
        first_name: fc.option(text, { nil: null }),
        last_name: fc.option(text, { nil: null }),
        tags: list(fc.oneof(text, fc.constant(null))),
        email_keys: list(fc.oneof(text, fc.constantFrom('ada@example.com', 'ADA@EXAMPLE.COM'))),
        external_refs: list(
          fc.oneof(
            fc.record({ namespace: fc.constantFrom('hubspot', 'HubSpot', 'zoho'), id: text }),
            fc.record({ id: text }),
          ),
        ),
        custom_fields: fc.dictionary(fc.constantFrom('tier', 'score', 'notes', 'interests', 'a_b'), customValue),
      },
      { requiredKeys: [] },
    );
    const contacts = fc.sample(contact, { numRuns: 400, seed: 20261202 });
    // An empty object, and one with every list empty: no terms either way.
    contacts.push({}, { tags: [], email_keys: [], external_refs: [], custom_fields: {} });

    const differences = await t.database.db.connection().execute(async (connection) => {
      await sql`CREATE FUNCTION pg_temp.contact_search_terms_0012(contact jsonb) RETURNS text[] LANGUAGE sql AS $$${sql.raw(TERMS_0012)}$$`.execute(
        connection,
      );
      const { rows } = await sql<{ contact: Json; now: string[]; then: string[] }>`
        SELECT c.contact,
               ARRAY(SELECT term FROM unnest(contact_search_terms(c.contact)) AS term ORDER BY term COLLATE "C") AS now,
               ARRAY(SELECT term FROM unnest(pg_temp.contact_search_terms_0012(c.contact)) AS term ORDER BY term COLLATE "C") AS then
        FROM jsonb_array_elements(${JSON.stringify(contacts)}::jsonb) AS c(contact)
      `.execute(connection);
      await sql`DROP FUNCTION pg_temp.contact_search_terms_0012(jsonb)`.execute(connection);
      // Not vacuous: the generated rows hold terms of every kind.
      const kinds = new Set(rows.flatMap((row) => row.then.map((term) => term.slice(0, 2))));
      assert.deepEqual([...kinds].sort(), ['c:', 'e:', 'n:', 't:', 'x:']);
      return rows.filter((row) => JSON.stringify(row.now) !== JSON.stringify(row.then));
    });
    assert.deepEqual(differences.slice(0, 3), []);
  });

  describe('every route lists what walking the feed lists', () => {
    const FIRST_NAMES = ['Mary Ann', 'Mary', 'Marek', 'Maria', 'Mark', 'Anna', 'Annika', 'Bo', 'Åsa', null];
    const LAST_NAMES = ['Smith', 'Smithson', 'Ann Smith', 'Lund', 'Lundqvist', 'Öberg', null];
    const DOMAINS = ['example.com', 'work.example', 'mail.test'];
    const SCORES = [1, 2.5, 10, 1e21];
    const INTERESTS = [['golf'], ['golf', 'sailing'], ['chess'], null];
    const DELETED = [5, 12, 30, 44];

    /** Contact `i` of the seeded organization, as first created. */
    function seedBody(i: number): Json {
      const body: Json = {};
      const first = FIRST_NAMES[i % FIRST_NAMES.length];
      const last = LAST_NAMES[i % LAST_NAMES.length];
      if (first) body.firstName = first;
      if (last) body.lastName = last;
      // Emails that q's prefixes meet: `_` must not act as a wildcard (under_s must not find underXs…).
      let primary = `c${i}@${DOMAINS[i % 3]}`;
      if (i % 9 === 4) primary = `under_score${i}@example.com`;
      if (i % 9 === 5) primary = `underXscore${i}@example.com`;
      body.emails = [
        { address: primary },
        ...(i % 4 === 0 ? [{ address: `alt${i}@second.example` }] : []),
        ...(i === 3 || i === 17 ? [{ address: 'shared@second.example' }] : []),
      ];
      const tags: string[] = [`region-${i % 5}`];
      if (i % 2 === 0) tags.push('customer');
      if (i % 7 === 0) tags.push('vip');
      if (i === 15) tags.push('VIP');
      if (i === 13) tags.push('rare');
      // A tag of exactly 100 characters, and two longer ones that start with it: the same term.
      if (i === 22) tags.push(TAG_100);
      if (i === 23) tags.push(`${TAG_100}-more`);
      if (i === 24) tags.push(`${TAG_100}-other`);
      if (i === 25) tags.push(`${TAG_CUT_ONLY}-longer`);
      body.tags = tags;
      const custom: Json = {};
      if (i % 10 !== 9) custom.tier = ['gold', 'silver', 'bronze'][i % 3];
      if (i % 5 !== 0) custom.score = SCORES[i % 4];
      if (i % 6 !== 0) custom.active = i % 2 === 1;
      if (INTERESTS[i % 4] !== null) custom.interests = INTERESTS[i % 4];
      if (i % 8 === 3) custom.notes = 'Met at fair';
      if (i === 30) custom.notes = NOTES_100;
      if (i === 31) custom.notes = `${NOTES_100} and more`;
      body.customFields = custom;
      const refs = [];
      if (i % 3 === 0) refs.push({ namespace: 'hubspot', id: `h${i}` });
      if (i % 4 === 1) refs.push({ namespace: 'Zoho', id: `z${i}` });
      if (refs.length > 0) body.externalRefs = refs;
      return body;
    }

    /**
     * Creates contact `i` through one of the write paths, which store the same values each its own
     * way (some in SQL of their own): by id, by external reference, in a batch, by match upsert.
     */
    async function create(i: number): Promise<string> {
      const { externalRefs, ...data } = seedBody(i);
      const [ref, ...more] = (externalRefs ?? []) as Array<{ namespace: string; id: string }>;
      if (ref !== undefined && more.length === 0 && ref.namespace === 'hubspot') {
        return (await bodyOf(api.patch(refPath(ref.namespace, ref.id), data), 201)).id;
      }
      if (ref !== undefined && more.length === 0) {
        const batch = await bodyOf(api.post(BATCH, { items: [{ ref: `seed-${i}`, externalRef: ref, data }] }), 200);
        assert.equal(batch.results[0].action, 'created', JSON.stringify(batch.results[0]));
        return batch.results[0].id;
      }
      if (ref === undefined && i % 5 === 2) return (await bodyOf(api.post(UPSERT, data), 201)).contact.id;
      // Not newContact: it would give the contacts without a first name one.
      return (await bodyOf(api.post(CONTACTS, seedBody(i)), 201)).id;
    }

    interface Case {
      params: Record<string, string | string[]>;
      includeDeleted?: boolean;
      /** Only contacts changed since the seed's second phase began. */
      updatedSince?: boolean;
      /** The search is meant to find nothing (a cut term held only by longer values). */
      none?: boolean;
    }

    const CASES: Case[] = [
      { params: { email: 'c10@work.example' } },
      { params: { email: 'SHARED@second.example' } },
      { params: { email: 'alt8@second.example' } },
      { params: { tag: ['customer'] } },
      { params: { tag: ['customer'] }, includeDeleted: true },
      { params: { tag: ['customer'] }, updatedSince: true },
      { params: { tag: ['vip'] } },
      { params: { tag: ['VIP'] } },
      { params: { tag: ['rare'] } },
      { params: { tag: [TAG_100] }, includeDeleted: true },
      { params: { tag: [TAG_CUT_ONLY] }, none: true },
      { params: { tag: ['customer', 'region-2'] } },
      { params: { tag: ['customer', 'vip', 'region-4'] } },
      { params: { namespace: 'hubspot' } },
      { params: { namespace: 'ZOHO' }, includeDeleted: true },
      { params: { 'custom.tier': 'gold' } },
      { params: { 'custom.tier': 'bronze' }, updatedSince: true },
      { params: { 'custom.score': '2.50' } },
      { params: { 'custom.score': '1e21' } },
      { params: { 'custom.active': 'false' } },
      { params: { 'custom.interests': 'golf' } },
      { params: { 'custom.notes': 'Met at fair' } },
      { params: { 'custom.notes': NOTES_100 }, includeDeleted: true },
      { params: { 'custom.notes': `${NOTES_100} and more` } },
      { params: { q: 'mar' } },
      { params: { q: 'mar' }, includeDeleted: true },
      { params: { q: 'MARY ANN' } },
      { params: { q: 'mary ann sm' } },
      { params: { q: 'mary smi' } },
      { params: { q: 'ann' } },
      { params: { q: 'c1' } },
      { params: { q: 'under_s' } },
      // Upper-case beyond ASCII as stored: lower() folds it only under a locale that knows it (the
      // embedded server has none), and this is about routes agreeing, not about folding.
      { params: { q: 'ÅSA' } },
      { params: { q: 'Öb' } },
      { params: { q: 'lund' }, includeDeleted: true },
      { params: { q: 'ma' }, updatedSince: true },
      { params: { q: 'ma', tag: ['customer'] } },
      { params: { tag: ['customer'], 'custom.tier': 'gold', namespace: 'hubspot' } },
      { params: { 'custom.interests': 'golf', 'custom.active': 'true' } },
      { params: { email: 'c20@mail.test', tag: ['customer'] } },
      { params: { external_ref: 'hubspot:h21', tag: ['vip'] } },
      { params: { q: 'ma', external_ref: 'hubspot:h3' } },
    ];

    let org: TestOrganization;
    let api: Client;
    let since: Date;

    before(async () => {
      ({ org, api } = await newApi({ duplicateContactMatching: { fields: ['email'] } }));
      await createFields(api, SEARCHABLE_FIELDS);
      const seeded: string[] = [];
      for (let i = 0; i < 60; i += 1) seeded.push(await create(i));
      const uri = (i: number) => `${CONTACTS}/${seeded[i]}`;

      // A second phase, through the other write paths: contacts move in the feed, so feed order is
      // not creation order, and updated_since splits them.
      await new Promise((resolve) => setTimeout(resolve, 5));
      since = new Date();
      await new Promise((resolve) => setTimeout(resolve, 5));
      for (let i = 1; i < 60; i += 6) {
        const tags = seedBody(i).tags.filter((tag: string) => tag !== 'vip');
        await bodyOf(api.patch(uri(i), { firstName: 'Marianne', tags: [...tags, 'customer'] }), 200);
      }
      for (let i = 3; i < 60; i += 6) {
        await bodyOf(
          api.patch(refPath('hubspot', `h${i}`), { lastName: 'Smith', customFields: { tier: 'gold' } }),
          200,
        );
      }
      const items = [];
      for (let i = 1; i < 60; i += 8) {
        items.push({
          ref: `b${i}`,
          externalRef: { namespace: 'zoho', id: `z${i}` },
          data: { tags: ['customer', 'batched'], customFields: { interests: ['sailing'], score: 2.5 } },
        });
      }
      const batch = await bodyOf(api.post(BATCH, { items }), 200);
      assert.equal(batch.summary.updated, items.length, JSON.stringify(batch.summary));
      for (const i of DELETED) assert.equal((await api.delete(uri(i))).statusCode, 204);
      const revived = await api.patch(refPath('hubspot', 'h30'), { firstName: 'Revived' });
      assert.equal(revived.headers['x-propstreet-upsert-action'], 'revived', revived.body);
      await bodyOf(
        api.patch(`${refPath('zoho', 'z5')}?revive=false`, { firstName: 'Mary', lastName: 'Replacement' }),
        201,
      );
      await t.app.eventLog.flush();
    });

    /** A case's filter as the API would make it from the query string (canonical search, a page's limit). */
    async function filterOf(testCase: Case, limit: number): Promise<FeedFilter> {
      const db = t.database.db;
      const search = await contactSearch(testCase.params, null, () => listDefinitions(db, org.id));
      assert.equal(Object.keys(search).length, Object.keys(testCase.params).length, 'every filter read');
      return {
        after: null,
        updatedSince: testCase.updatedSince ? since : null,
        includeDeleted: testCase.includeDeleted ?? false,
        search,
        limit,
      };
    }

    /**
     * Every page of a search on one route (a fixed plan, or the one searchPlan picks for each page,
     * as the API does): `id@feed_seq` in order, each page after the last one's last row.
     */
    async function pagesOf(
      filter: FeedFilter,
      plan: SearchPlan | 'picked',
      picked?: Set<SearchPlan['route']>,
    ): Promise<string[][]> {
      const db = t.database.db;
      const pages: string[][] = [];
      let position: FeedFilter['after'] = null;
      for (let guard = 0; guard < 200; guard += 1) {
        const pagePlan =
          plan === 'picked' ? await searchPlan(db, org.id, searchTerms(filter.search), position?.seq ?? null) : plan;
        picked?.add(pagePlan.route);
        const statement = listContactsStatement(db, org.id, { ...filter, after: position }, pagePlan);
        // A page reads one row beyond its limit, to know whether another page follows.
        const rows = (await db.executeQuery(statement)).rows as FeedContactRow[];
        const page = rows.slice(0, filter.limit);
        pages.push(page.map((row) => `${row.id}@${Number(row.feed_seq)}`));
        if (rows.length <= filter.limit) return pages;
        position = { seq: Number((page.at(-1) as FeedContactRow).feed_seq) };
      }
      throw new Error('too many pages');
    }

    it('pages through the same rows in the same order on the route searchPlan picks as on the feed', async () => {
      const routes = new Set<SearchPlan['route']>();
      for (const testCase of CASES) {
        const what = JSON.stringify(testCase);
        for (const limit of [3, 50]) {
          const filter = await filterOf(testCase, limit);
          const reference = await pagesOf(filter, { route: 'feed' });
          const found = reference.flat().length;
          if (testCase.none) assert.equal(found, 0, what);
          else assert.ok(found > 0, `${what} finds some contact`);
          const picked = new Set<SearchPlan['route']>();
          const pages = await pagesOf(filter, 'picked', picked);
          for (const route of picked) routes.add(route);
          assert.deepEqual(pages, reference, `${what}, ${limit} a page, routes ${[...picked].join()}`);
        }
      }
      // Otherwise the comparison could be of the feed with itself.
      assert.ok(routes.has('terms'), [...routes].join());
      assert.ok(routes.has('q-terms'), [...routes].join());
    });

    it('pages through the API as the repository does', async () => {
      const searches: Array<[Case, string]> = [
        [{ params: { tag: ['customer'] } }, 'tag=customer'],
        [{ params: { q: 'mar' }, includeDeleted: true }, 'q=mar&include_deleted=true'],
        [{ params: { 'custom.tier': 'gold', namespace: 'hubspot' } }, 'custom.tier=gold&namespace=hubspot'],
      ];
      for (const [testCase, query] of searches) {
        const filter = await filterOf(testCase, 3);
        const expected = (await pagesOf(filter, 'picked')).map((page) => page.map((entry) => entry.split('@')[0]));
        const pages = await allPages(api, `${CONTACTS}?limit=3&${query}`, `${CONTACTS}?limit=3`);
        assert.deepEqual(
          pages.map((page) => page.data.map((contact: Json) => contact.id)),
          expected,
          query,
        );
        assert.ok(expected.length > 1, `${query} pages`);
      }
    });
  });
});
