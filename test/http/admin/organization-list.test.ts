import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { CONTACTS } from '../../helpers/contacts.js';
import { adminHeaders, newOrganization } from '../../helpers/factories.js';

const ORGANIZATIONS = '/api/v1/admin/organizations';

interface Page {
  data: Array<{ id: string; name: string }>;
  page: { nextCursor: string | null; hasMore: boolean; pageSize: number };
}

describe('GET /api/v1/admin/organizations', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  // Test files share the database and create organizations concurrently: every test lists only
  // names under a prefix of its own.
  const uniquePrefix = () => `List ${randomUUID().slice(0, 8)} `;
  const create = async (name: string) => {
    const response = await request(t.app, {
      method: 'POST',
      url: ORGANIZATIONS,
      headers: adminHeaders,
      payload: { name },
    });
    assert.equal(response.statusCode, 201, response.body);
    return response.json() as { id: string; name: string };
  };
  const list = (query: Record<string, string | number>, headers: Record<string, string> = adminHeaders) =>
    request(t.app, {
      method: 'GET',
      url: `${ORGANIZATIONS}?${new URLSearchParams(Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]))}`,
      headers,
    });
  /** Every page from `query` on, following nextCursor alone, as the description says a client may. */
  const allPages = async (query: Record<string, string | number>): Promise<Page[]> => {
    const pages: Page[] = [];
    let response = await list(query);
    for (;;) {
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json() as Page;
      pages.push(page);
      if (page.page.nextCursor === null) return pages;
      assert.ok(pages.length < 100, 'the cursor keeps going');
      response = await list({ cursor: page.page.nextCursor, ...('limit' in query ? { limit: query.limit } : {}) });
    }
  };
  const names = (pages: Page[]) => pages.flatMap((page) => page.data.map((organization) => organization.name));

  it('pages through the organizations a name prefix selects, in name order ignoring case', async () => {
    const prefix = uniquePrefix();
    for (const name of ['Delta', 'alpha', 'Charlie', 'bravo', 'echo']) await create(`${prefix}${name}`);
    await create(`Other ${prefix}`);
    const pages = await allPages({ name: prefix.toUpperCase(), limit: 2 });
    assert.deepEqual(
      pages.map((page) => page.data.map((organization) => organization.name.slice(prefix.length))),
      [['alpha', 'bravo'], ['Charlie', 'Delta'], ['echo']],
    );
    assert.deepEqual(
      pages.map((page) => page.page.hasMore),
      [true, true, false],
    );
    assert.deepEqual(
      pages.map((page) => page.page.pageSize),
      [2, 2, 1],
    );
  });

  it('answers the documented shape with whole organizations', async () => {
    const prefix = uniquePrefix();
    const created = await create(`${prefix}Shape`);
    const response = await list({ name: prefix });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.deepEqual(response.json(), {
      data: [created],
      page: { nextCursor: null, hasMore: false, pageSize: 1 },
    });
  });

  it('lists organizations of the same name once each, ordered by id', async () => {
    const prefix = uniquePrefix();
    const twins = [await create(`${prefix}Twin`), await create(`${prefix}twin`), await create(`${prefix}Twin`)];
    const pages = await allPages({ name: prefix, limit: 1 });
    const ids = pages.flatMap((page) => page.data.map((organization) => organization.id));
    assert.deepEqual(ids, twins.map((twin) => twin.id).sort());
  });

  it('matches %, _ and \\ in the name filter literally, not as LIKE wildcards', async () => {
    const prefix = uniquePrefix();
    for (const name of ['100% Real', '100 Percent', 'a_b', 'axb', 'back\\slash', 'backslash']) {
      await create(`${prefix}${name}`);
    }
    const cases: Array<[string, string[]]> = [
      ['100%', ['100% Real']],
      ['a_', ['a_b']],
      ['back\\', ['back\\slash']],
      ['%', []],
      ['_', []],
    ];
    for (const [filter, expected] of cases) {
      const found = names(await allPages({ name: `${prefix}${filter}` })).map((name) => name.slice(prefix.length));
      assert.deepEqual(found, expected, filter);
    }
    // A filter that is nothing but a wildcard finds only names that start with it.
    for (const filter of ['%', '_']) {
      const found = names(await allPages({ name: filter, limit: 500 }));
      assert.ok(
        found.every((name) => name.startsWith(filter)),
        `${filter}: ${found.slice(0, 5).join(', ')}`,
      );
    }
  });

  it('answers 50 organizations per page unless limit says otherwise', async () => {
    const prefix = uniquePrefix();
    for (let i = 0; i < 51; i += 1) await create(`${prefix}${String(i).padStart(2, '0')}`);
    const first = (await list({ name: prefix })).json() as Page;
    assert.equal(first.data.length, 50);
    assert.equal(first.page.hasMore, true);
    const rest = (await list({ cursor: first.page.nextCursor as string })).json() as Page;
    assert.deepEqual(
      rest.data.map((organization) => organization.name),
      [`${prefix}50`],
    );
    assert.equal((await list({ name: prefix, limit: 500 })).json().data.length, 51);
  });

  it('accepts the same name again with its cursor and refuses another one', async () => {
    const prefix = uniquePrefix();
    for (const name of ['a', 'b', 'c']) await create(`${prefix}${name}`);
    const cursor = ((await list({ name: prefix, limit: 1 })).json() as Page).page.nextCursor as string;
    const same = await list({ name: prefix, cursor, limit: 1 });
    assert.equal(same.statusCode, 200);
    assert.deepEqual(names([same.json()]), [`${prefix}b`]);
    const other = await list({ name: `${prefix}c`, cursor });
    assert.equal(other.statusCode, 400);
    assert.equal(other.json().type, '/problems/invalid-cursor');
    assert.deepEqual(Object.keys(other.json().errors), ['cursor']);
  });

  it('answers 400 naming limit for a limit outside 1–500 or not a whole number', async () => {
    for (const limit of ['0', '501', '-1', 'ten', '1.5', '']) {
      const response = await list({ limit });
      assert.equal(response.statusCode, 400, limit);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.deepEqual(Object.keys(response.json().errors), ['limit'], limit);
    }
    for (const limit of ['1', '500']) assert.equal((await list({ limit })).statusCode, 200, limit);
  });

  it('answers 400 naming name for an empty or too long name, and for unknown parameters', async () => {
    for (const name of ['', 'x'.repeat(201)]) {
      const response = await list({ name });
      assert.equal(response.statusCode, 400, name);
      assert.deepEqual(Object.keys(response.json().errors), ['name']);
    }
    const unknown = await list({ sort: 'name' });
    assert.equal(unknown.statusCode, 400);
    assert.deepEqual(Object.keys(unknown.json().errors), ['sort']);
  });

  it('answers 400 invalid-cursor for a broken, altered or foreign cursor', async () => {
    const prefix = uniquePrefix();
    for (const name of ['a', 'b']) await create(`${prefix}${name}`);
    const cursor = ((await list({ name: prefix, limit: 1 })).json() as Page).page.nextCursor as string;
    const organization = await newOrganization(t.app);
    await request(t.app, {
      method: 'POST',
      url: CONTACTS,
      headers: organization.headers,
      payload: { firstName: 'Feed' },
    });
    const contactCursor = (
      await request(t.app, { method: 'GET', url: `${CONTACTS}?limit=1`, headers: organization.headers })
    ).json().page.nextCursor as string;
    const flipped = `${cursor.slice(0, 20)}${cursor[20] === 'A' ? 'B' : 'A'}${cursor.slice(21)}`;
    for (const bad of ['not a cursor', 'abc', flipped, `${cursor}AA`, cursor.slice(0, -2), contactCursor]) {
      const response = await list({ cursor: bad });
      assert.equal(response.statusCode, 400, bad);
      assert.equal(response.json().type, '/problems/invalid-cursor', bad);
      assert.deepEqual(Object.keys(response.json().errors), ['cursor'], bad);
    }
    // Nor does the organization list's cursor work on a tenant's list.
    const crossed = await request(t.app, {
      method: 'GET',
      url: `${CONTACTS}?cursor=${encodeURIComponent(cursor)}`,
      headers: organization.headers,
    });
    assert.equal(crossed.statusCode, 400);
    assert.equal(crossed.json().type, '/problems/invalid-cursor');
  });

  it('answers 401 to an organization token: tenants cannot list each other', async () => {
    const organization = await newOrganization(t.app);
    for (const headers of [organization.headers, {}]) {
      const response = await list({}, headers);
      assert.equal(response.statusCode, 401);
      assert.equal(response.json().type, '/problems/unauthorized');
      assert.ok(!response.body.includes(organization.id));
    }
  });
});
