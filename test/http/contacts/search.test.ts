import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type Response, type TestApp } from '../../helpers/app.js';
import { type Client, CONTACTS, type Json, newContact, newProfileApi } from '../../helpers/contacts.js';
import {
  ACTIVE_FIELD,
  createFields,
  INTERESTS_FIELD,
  NOTES_FIELD,
  SCORE_FIELD,
  TIER_FIELD,
  TIER_OPTIONS,
} from '../contact-fields/helpers.js';

describe('GET /contacts with search filters', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = (settings?: Record<string, unknown>) => newProfileApi(t.app, settings);

  type Params = Readonly<Record<string, string | string[] | undefined>>;

  function query(params: Params): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) search.append(name, one);
    }
    return `${CONTACTS}?${search.toString()}`;
  }

  async function list(api: Client, params: Params): Promise<Json> {
    const response = await api.get(query(params));
    assert.equal(response.statusCode, 200, response.body);
    return response.json();
  }

  /** The ids one search lists, in order, across every page. */
  async function found(api: Client, params: Params): Promise<string[]> {
    return (await pages(api, params)).flatMap((page) => page.data.map((contact: { id: string }) => contact.id));
  }

  /** Every page: the first with the filters, the next ones with only the cursor (or the filters again). */
  async function pages(api: Client, params: Params, resend: Params = {}): Promise<Json[]> {
    const result: Json[] = [await list(api, params)];
    for (let guard = 0; result.at(-1).page.hasMore; guard += 1) {
      assert.ok(guard < 100, 'too many pages');
      const limit = params.limit === undefined ? {} : { limit: params.limit };
      result.push(await list(api, { ...limit, ...resend, cursor: result.at(-1).page.nextCursor }));
    }
    return result;
  }

  const ids = (...contacts: Json[]) => contacts.map((contact) => contact.id);

  function assertProblem(response: Response, status: number, type: string, parameter: string): void {
    assert.equal(response.statusCode, status, response.body);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
    const problem = response.json();
    assert.equal(problem.type, type);
    assert.deepEqual(Object.keys(problem.errors), [parameter], response.body);
  }

  describe('email', () => {
    it('finds the contact having the address among any of its emails, in any case', async () => {
      const { api } = await newApi();
      const jane = await newContact(api, {
        firstName: 'Jane',
        emails: [{ address: 'jane@example.com' }, { address: 'Jane.Doe@Work.example' }],
      });
      await newContact(api, { firstName: 'John', email: 'john@example.com' });
      await newContact(api, { firstName: 'Nobody' });
      assert.deepEqual(await found(api, { email: 'jane@example.com' }), ids(jane));
      assert.deepEqual(await found(api, { email: 'JANE.DOE@work.EXAMPLE' }), ids(jane));
      assert.deepEqual(await found(api, { email: 'jane.doe@example.com' }), []);
    });

    it('shows a write to the very next search', async () => {
      const { api } = await newApi();
      const created = await newContact(api, { email: 'fresh@example.com', tags: ['new'] });
      assert.deepEqual(await found(api, { email: 'fresh@example.com' }), ids(created));
      assert.deepEqual(await found(api, { tag: 'new' }), ids(created));
      const patched = await api.patch(created.uri, { emails: [{ address: 'moved@example.com' }], tags: ['old'] });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.deepEqual(await found(api, { email: 'moved@example.com' }), ids(created));
      assert.deepEqual(await found(api, { email: 'fresh@example.com' }), []);
      assert.deepEqual(await found(api, { tag: 'old' }), ids(created));
      assert.deepEqual(await found(api, { tag: 'new' }), []);
    });
  });

  describe('phone', () => {
    it("compares phone keys read with the organization's region", async () => {
      const { api } = await newApi({ defaultPhoneRegion: 'US' });
      const contact = await newContact(api, { phone: '+15559876543' });
      await newContact(api, { phone: '+15559876544' });
      assert.deepEqual(await found(api, { phone: '(555) 987-6543' }), ids(contact));
      assert.deepEqual(await found(api, { phone: '+1 555 987 6543' }), ids(contact));
      assert.deepEqual(await found(api, { phone: '555-987-0000' }), []);
    });

    it('reads a national number as nothing but itself without a region', async () => {
      const { api } = await newApi();
      await newContact(api, { phone: '+15559876543' });
      assert.deepEqual(await found(api, { phone: '(555) 987-6543' }), []);
    });
  });

  describe('tag', () => {
    it('finds contacts having every tag given, exactly', async () => {
      const { api } = await newApi();
      const both = await newContact(api, { tags: ['vip', 'customer'] });
      const vip = await newContact(api, { tags: ['vip'] });
      await newContact(api, { tags: ['Vip', 'customer'] });
      await newContact(api, { tags: [] });
      assert.deepEqual(await found(api, { tag: 'vip' }), ids(both, vip));
      assert.deepEqual(await found(api, { tag: ['customer', 'vip'] }), ids(both));
      assert.deepEqual(await found(api, { tag: ['vip', 'vip'] }), ids(both, vip));
      assert.deepEqual(await found(api, { tag: 'VIP' }), []);
      assert.deepEqual(await found(api, { tag: 'vi' }), []);
    });

    it('finds a contact by a tag of a hundred characters next to a longer one', async () => {
      const { api } = await newApi();
      const exact = 'x'.repeat(100);
      const holder = await newContact(api, { tags: [exact] });
      // Cut to 100 characters in the index, a longer tag must still not match the shorter one.
      await newContact(api, { tags: [`${exact}y`] });
      assert.deepEqual(await found(api, { tag: exact }), ids(holder));
    });
  });

  describe('external_ref and namespace', () => {
    it('finds the contact holding a reference whose id contains colons, the namespace in any case', async () => {
      const { api } = await newApi();
      const holder = await newContact(api, {
        externalRefs: [
          { namespace: 'hubspot', id: 'urn:contact:12' },
          { namespace: 'salesforce', id: '003' },
        ],
      });
      const other = await newContact(api, { externalRefs: [{ namespace: 'hubspot', id: 'urn:contact' }] });
      await newContact(api, { externalRefs: [{ namespace: 'pipedrive', id: 'urn:contact:12' }] });
      assert.deepEqual(await found(api, { external_ref: 'HubSpot:urn:contact:12' }), ids(holder));
      assert.deepEqual(await found(api, { external_ref: 'hubspot:urn:contact' }), ids(other));
      assert.deepEqual(await found(api, { external_ref: 'hubspot:urn' }), []);
      assert.deepEqual(await found(api, { namespace: 'HUBSPOT' }), ids(holder, other));
      assert.deepEqual(await found(api, { namespace: 'salesforce' }), ids(holder));
      assert.deepEqual(await found(api, { namespace: 'zoho' }), []);
    });
  });

  describe('q', () => {
    it('matches a case-insensitive prefix of the first, last or full name, or of the primary email', async () => {
      const { api } = await newApi();
      const mary = await newContact(api, { firstName: 'Mary Ann', lastName: 'Smith', email: 'mas@corp.example' });
      const ann = await newContact(api, {
        firstName: 'Ann',
        lastName: 'Marsh',
        emails: [{ address: 'ann@home.example' }, { address: 'smithers@work.example' }],
      });
      const onlyLast = await newContact(api, { lastName: 'Smithson' });
      assert.deepEqual(await found(api, { q: 'mar' }), ids(mary, ann));
      assert.deepEqual(await found(api, { q: 'ANN' }), ids(ann));
      assert.deepEqual(await found(api, { q: 'smith' }), ids(mary, onlyLast));
      assert.deepEqual(await found(api, { q: 'Mary Ann Sm' }), ids(mary));
      assert.deepEqual(await found(api, { q: 'mary ann ' }), ids(mary));
      assert.deepEqual(await found(api, { q: 'ann m' }), ids(ann));
      assert.deepEqual(await found(api, { q: 'mas@' }), ids(mary));
      assert.deepEqual(await found(api, { q: 'ann@home' }), ids(ann));
      // Only the primary email, and only prefixes.
      assert.deepEqual(await found(api, { q: 'smithers' }), []);
      assert.deepEqual(await found(api, { q: 'ary' }), []);
      assert.deepEqual(await found(api, { q: 'mary ann smithx' }), []);
    });

    it('takes %, _ and \\ literally', async () => {
      const { api } = await newApi();
      const percent = await newContact(api, { firstName: '100% Pure' });
      const underscore = await newContact(api, { firstName: 'a_b' });
      const backslash = await newContact(api, { firstName: 'back\\slash' });
      await newContact(api, { firstName: '1000 Pure' });
      await newContact(api, { firstName: 'axb' });
      await newContact(api, { firstName: 'backslash' });
      assert.deepEqual(await found(api, { q: '100%' }), ids(percent));
      assert.deepEqual(await found(api, { q: '%' }), []);
      assert.deepEqual(await found(api, { q: 'a_' }), ids(underscore));
      assert.deepEqual(await found(api, { q: '_' }), []);
      assert.deepEqual(await found(api, { q: 'back\\' }), ids(backslash));
    });

    it('lower-cases both sides alike, beyond ASCII too', async () => {
      const { api } = await newApi();
      const asa = await newContact(api, { firstName: 'Åsa', lastName: 'Öberg' });
      assert.deepEqual(await found(api, { q: 'ÅSA' }), ids(asa));
      assert.deepEqual(await found(api, { q: 'Åsa ÖB' }), ids(asa));
    });
  });

  describe('custom.<key>', () => {
    async function defineFields(api: Client): Promise<void> {
      await createFields(api, [
        // Gold and silver only: a search for custom.tier=bronze must be refused as no option of the field.
        { ...TIER_FIELD, options: TIER_OPTIONS.filter((option) => option.value !== 'bronze') },
        SCORE_FIELD,
        ACTIVE_FIELD,
        { key: 'since', label: 'Since', type: 'date' },
        NOTES_FIELD,
        { key: 'homepage', label: 'Homepage', type: 'url' },
        INTERESTS_FIELD,
      ]);
    }

    it('matches values as their type reads them, and several filters together', async () => {
      const { api } = await newApi();
      await defineFields(api);
      const gold = await newContact(api, {
        customFields: {
          tier: 'gold',
          score: 5,
          active: true,
          since: '2024-02-29',
          notes: 'Met at fair',
          interests: ['golf', 'sailing'],
        },
      });
      const silver = await newContact(api, {
        customFields: { tier: 'silver', score: 5.5, active: false, interests: ['golf'] },
      });
      const goldInactive = await newContact(api, { customFields: { tier: 'gold', active: false } });
      await newContact(api, { firstName: 'No values' });
      assert.deepEqual(await found(api, { 'custom.tier': 'gold' }), ids(gold, goldInactive));
      assert.deepEqual(await found(api, { 'custom.score': '5.0' }), ids(gold));
      assert.deepEqual(await found(api, { 'custom.score': '5.5' }), ids(silver));
      assert.deepEqual(await found(api, { 'custom.active': 'false' }), ids(silver, goldInactive));
      assert.deepEqual(await found(api, { 'custom.since': '2024-02-29' }), ids(gold));
      assert.deepEqual(await found(api, { 'custom.notes': 'Met at fair' }), ids(gold));
      assert.deepEqual(await found(api, { 'custom.notes': 'met at fair' }), []);
      assert.deepEqual(await found(api, { 'custom.interests': 'golf' }), ids(gold, silver));
      assert.deepEqual(await found(api, { 'custom.interests': 'sailing' }), ids(gold));
      assert.deepEqual(await found(api, { 'custom.interests': 'chess' }), []);
      assert.deepEqual(await found(api, { 'custom.tier': 'gold', 'custom.active': 'true' }), ids(gold));
      assert.deepEqual(await found(api, { 'custom.tier': 'gold', 'custom.interests': 'golf' }), ids(gold));
    });

    it('answers 400 naming the parameter for an unknown key, a type that cannot be searched, or a bad value', async () => {
      const { api } = await newApi();
      await defineFields(api);
      const cases: Array<[Record<string, string>, string]> = [
        [{ 'custom.nope': 'x' }, 'custom.nope'],
        [{ 'custom.homepage': 'https://example.com' }, 'custom.homepage'],
        [{ 'custom.score': 'many' }, 'custom.score'],
        [{ 'custom.active': 'yes' }, 'custom.active'],
        [{ 'custom.since': '2024-02-30' }, 'custom.since'],
        [{ 'custom.tier': 'bronze' }, 'custom.tier'],
        [{ 'custom.interests': 'knitting' }, 'custom.interests'],
        [{ 'custom.notes': '   ' }, 'custom.notes'],
        [{ 'custom.tier': '' }, 'custom.tier'],
        [{ 'custom.notes': 'x'.repeat(256) }, 'custom.notes'],
        [{ 'custom.Tier': 'gold' }, 'custom.Tier'],
        [{ 'custom.': 'gold' }, 'custom.'],
      ];
      for (const [params, parameter] of cases) {
        const response = await api.get(query(params));
        assertProblem(response, 400, '/problems/validation-failed', parameter);
      }
      const homepage = (await api.get(query({ 'custom.homepage': 'https://example.com' }))).json();
      assert.match(homepage.errors['custom.homepage'][0], /url/);
      const repeated = await api.get(`${CONTACTS}?custom.tier=gold&custom.tier=silver`);
      assertProblem(repeated, 400, '/problems/validation-failed', 'custom.tier');
    });
  });

  describe('combinations', () => {
    it('combines filters with each other, with updated_since and with include_deleted', async () => {
      const { api } = await newApi();
      const a = await newContact(api, {
        firstName: 'Alma',
        email: 'alma@example.com',
        tags: ['vip'],
        externalRefs: [{ namespace: 'hubspot', id: '1' }],
      });
      const b = await newContact(api, {
        firstName: 'Alva',
        tags: ['vip'],
        externalRefs: [{ namespace: 'zoho', id: '2' }],
      });
      const c = await newContact(api, {
        firstName: 'Alvin',
        tags: ['other'],
        externalRefs: [{ namespace: 'hubspot', id: '3' }],
      });
      assert.deepEqual(await found(api, { q: 'al', tag: 'vip' }), ids(a, b));
      assert.deepEqual(await found(api, { q: 'al', namespace: 'hubspot' }), ids(a, c));
      assert.deepEqual(await found(api, { q: 'alv', namespace: 'hubspot', tag: 'other' }), ids(c));
      assert.deepEqual(await found(api, { email: 'alma@example.com', tag: 'vip' }), ids(a));
      assert.deepEqual(await found(api, { email: 'alma@example.com', tag: 'other' }), []);

      assert.equal((await api.delete(b.uri)).statusCode, 204);
      assert.deepEqual(await found(api, { tag: 'vip' }), ids(a));
      assert.deepEqual(await found(api, { tag: 'vip', include_deleted: 'true' }), ids(a, b));
      assert.deepEqual(await found(api, { q: 'alva', include_deleted: 'true' }), ids(b));

      const since = new Date().toISOString();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const changed = await api.patch(a.uri, { lastName: 'Later' });
      assert.equal(changed.statusCode, 200);
      assert.deepEqual(await found(api, { tag: 'vip', updated_since: since }), ids(a));
      assert.deepEqual(await found(api, { namespace: 'hubspot', updated_since: since }), ids(a));
      assert.deepEqual(await found(api, { tag: 'other', updated_since: since }), []);
    });
  });

  describe('paging', () => {
    it('pages through the matches in change-feed order, the cursor carrying the filters', async () => {
      const { api } = await newApi();
      const matching: Json[] = [];
      for (let i = 0; i < 14; i += 1) {
        const contact = await newContact(api, {
          firstName: `Page${i}`,
          tags: i % 2 === 0 ? ['even', 'listed'] : ['odd', 'listed'],
        });
        if (i % 2 === 0) matching.push(contact);
      }
      // A change moves a contact to the end of the feed.
      const moved = matching[1] as Json;
      assert.equal((await api.patch(moved.uri, { lastName: 'Moved' })).statusCode, 200);
      const expected = [...matching.filter((contact) => contact !== moved), moved].map((contact) => contact.id);

      const carried = await pages(api, { tag: ['listed', 'even'], limit: '2' });
      assert.deepEqual(
        carried.map((page) => page.page.pageSize),
        [2, 2, 2, 1],
      );
      assert.deepEqual(
        carried.flatMap((page) => page.data.map((contact: { id: string }) => contact.id)),
        expected,
      );
      // The same filters sent again with each cursor, in another order, are the same search.
      const resent = await pages(api, { tag: ['listed', 'even'], limit: '3' }, { tag: ['even', 'listed'] });
      assert.deepEqual(
        resent.flatMap((page) => page.data.map((contact: { id: string }) => contact.id)),
        expected,
      );

      // The last cursor resumes the search: only matches changed since.
      const resume = carried.at(-1).page.nextCursor as string;
      const later = await newContact(api, { tags: ['even', 'listed'] });
      await newContact(api, { tags: ['odd', 'listed'] });
      assert.deepEqual(
        (await list(api, { cursor: resume })).data.map((contact: { id: string }) => contact.id),
        ids(later),
      );
    });

    it('carries each filter in the cursor, the phone read once with the region', async () => {
      const { api } = await newApi({ defaultPhoneRegion: 'US' });
      const phone = await newContact(api, { firstName: 'Phil', phone: '+15559876543', email: 'phil@example.com' });
      await newContact(api, { firstName: 'Phil', phone: '+15559876544' });
      const params = { phone: '(555) 987-6543', q: 'phi', email: 'PHIL@example.com', limit: '1' };
      const first = await list(api, params);
      assert.deepEqual(ids(...first.data), ids(phone));
      const again = await list(api, {
        cursor: first.page.nextCursor,
        phone: '+15559876543',
        email: 'phil@example.com',
        q: 'phi',
      });
      assert.deepEqual(again.data, []);
    });

    it('carries a search of many long values in its cursor', async () => {
      const { api } = await newApi();
      const tags = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(100, 't'));
      const params = {
        tag: tags,
        q: 'big',
        email: `${'b'.repeat(240)}@example.com`,
        external_ref: `hubspot:${'r'.repeat(255)}`,
        namespace: 'hubspot',
        limit: '1',
      };
      const contact = {
        firstName: 'Big',
        email: params.email,
        tags,
        externalRefs: [{ namespace: 'hubspot', id: 'r'.repeat(255) }],
      };
      const first = await newContact(api, contact);
      await newContact(api, { ...contact, email: 'other@example.com', externalRefs: [] });
      const page = await list(api, params);
      assert.deepEqual(ids(...page.data), ids(first));
      assert.ok(page.page.nextCursor.length < 10_000, String(page.page.nextCursor.length));
      const next = await list(api, { ...params, cursor: page.page.nextCursor });
      assert.deepEqual(next.data, []);
    });

    it('answers 400 invalid-cursor when a cursor comes with other filters than it was issued with', async () => {
      const { api } = await newApi();
      for (let i = 0; i < 3; i += 1) await newContact(api, { firstName: `Cur${i}`, tags: ['a', 'b'] });
      const filtered = (await list(api, { tag: 'a', limit: '1' })).page.nextCursor as string;
      const plain = (await list(api, { limit: '1' })).page.nextCursor as string;
      const cases: Params[] = [
        { cursor: filtered, tag: 'b' },
        { cursor: filtered, tag: ['a', 'b'] },
        { cursor: filtered, q: 'cur' },
        { cursor: plain, tag: 'a' },
        { cursor: plain, email: 'x@example.com' },
        { cursor: plain, namespace: 'hubspot' },
      ];
      for (const params of cases) {
        assertProblem(await api.get(query(params)), 400, '/problems/invalid-cursor', 'cursor');
      }
      assert.equal((await api.get(query({ cursor: filtered, tag: 'a' }))).statusCode, 200);
      assert.equal((await api.get(query({ cursor: plain }))).statusCode, 200);
    });
  });

  describe('tenant isolation', () => {
    it("never lists another organization's matching contacts, nor lets its cursor in", async () => {
      const { api } = await newApi({ defaultPhoneRegion: 'US' });
      const { api: otherApi } = await newApi({ defaultPhoneRegion: 'US' });
      const same = {
        firstName: 'Twin',
        email: 'twin@example.com',
        phone: '+15551230000',
        tags: ['shared'],
        externalRefs: [{ namespace: 'hubspot', id: 'twin' }],
      };
      const mine = await newContact(api, same);
      await newContact(otherApi, same);
      for (const params of [
        { email: 'twin@example.com' },
        { phone: '+15551230000' },
        { tag: 'shared' },
        { external_ref: 'hubspot:twin' },
        { namespace: 'hubspot' },
        { q: 'twin' },
      ]) {
        assert.deepEqual(await found(api, params), ids(mine), JSON.stringify(params));
      }
      const foreign = (await list(otherApi, { tag: 'shared', limit: '1' })).page.nextCursor as string;
      assertProblem(await api.get(query({ cursor: foreign })), 400, '/problems/invalid-cursor', 'cursor');
    });
  });

  describe('validation', () => {
    it('answers 400 problem+json naming the parameter', async () => {
      const { api } = await newApi();
      const cases: Array<[string, string]> = [
        ['email=not-an-email', 'email'],
        ['email=', 'email'],
        ['email=a%40example.com&email=b%40example.com', 'email'],
        [`email=${'a'.repeat(250)}%40example.com`, 'email'],
        ['phone=', 'phone'],
        ['phone=%20%20', 'phone'],
        [`phone=${'1'.repeat(51)}`, 'phone'],
        ['tag=', 'tag[0]'],
        [`tag=${'t'.repeat(101)}`, 'tag[0]'],
        [Array.from({ length: 21 }, (_, i) => `tag=t${i}`).join('&'), 'tag'],
        ['external_ref=hubspot', 'external_ref'],
        ['external_ref=%3A12', 'external_ref'],
        ['external_ref=hubspot%3A', 'external_ref'],
        ['external_ref=hub%20spot%3A12', 'external_ref'],
        [`external_ref=hubspot%3A${'x'.repeat(256)}`, 'external_ref'],
        ['namespace=', 'namespace'],
        ['namespace=hub%20spot', 'namespace'],
        ['q=', 'q'],
        ['q=%20%20', 'q'],
        [`q=${'q'.repeat(101)}`, 'q'],
        ['q=%00', 'q'],
        ['sort=name', 'sort'],
        ['customer.tier=gold', 'customer.tier'],
      ];
      for (const [params, parameter] of cases) {
        const response = await api.get(`${CONTACTS}?${params}`);
        assertProblem(response, 400, '/problems/validation-failed', parameter);
      }
      // Each tag within its limit, together too heavy for a cursor to carry (about 300 bytes a tag).
      const heavyTags = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(100, '€'));
      const heavy = heavyTags.map((tag) => `tag=${encodeURIComponent(tag)}`).join('&');
      assertProblem(await api.get(`${CONTACTS}?${heavy}`), 400, '/problems/validation-failed', 'tag');
      const tooMany = Array.from({ length: 11 }, (_, i) => `custom.f${String(i).padStart(2, '0')}=x`).join('&');
      assertProblem(await api.get(`${CONTACTS}?${tooMany}`), 400, '/problems/validation-failed', 'custom.f10');
      for (const ok of ['tag=t', Array.from({ length: 20 }, (_, i) => `tag=t${i}`).join('&'), `q=${'q'.repeat(100)}`]) {
        assert.equal((await api.get(`${CONTACTS}?${ok}`)).statusCode, 200, ok);
      }
    });
  });
});
