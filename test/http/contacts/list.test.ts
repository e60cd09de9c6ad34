import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import {
  allPages,
  assertContactShape,
  type Client,
  CONTACTS,
  client,
  type Json,
  listUntil,
  newContact,
  stampUpdatedAt,
} from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

describe('GET /contacts (change feed)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const ids = (pages: Json[]) => pages.flatMap((page) => page.data.map((contact: { id: string }) => contact.id));

  async function orgWithContacts(count: number): Promise<{ org: TestOrganization; api: Client; created: Json[] }> {
    const org = await newOrganization(t.app);
    const api = client(t.app, org);
    const created: Json[] = [];
    for (let i = 0; i < count; i += 1) created.push(await newContact(api, { firstName: `C${i}` }));
    await listUntil(api, `${CONTACTS}?limit=500`, (body) => body.data.length === count);
    return { org, api, created };
  }

  it('lists the contacts of the organization with the documented page shape', async () => {
    const { api, created } = await orgWithContacts(3);
    const response = await api.get(CONTACTS);
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.deepEqual(Object.keys(body).sort(), ['data', 'page']);
    assert.deepEqual(Object.keys(body.page).sort(), ['hasMore', 'nextCursor', 'pageSize']);
    assert.equal(body.page.hasMore, false);
    assert.equal(body.page.pageSize, 3);
    assert.equal(typeof body.page.nextCursor, 'string');
    for (const contact of body.data) assertContactShape(contact);
    assert.deepEqual(body.data, created);
  });

  it('orders contacts by their last change', async () => {
    const { api, created } = await orgWithContacts(3);
    const [a, b, c] = created;
    assert.equal((await api.patch(a.uri, { firstName: 'Changed' })).statusCode, 200);
    const body = await listUntil(api, CONTACTS, (page) => page.data.length === 3);
    assert.deepEqual(
      body.data.map((contact: { id: string }) => contact.id),
      [b.id, c.id, a.id],
    );
    assert.equal(body.data[2].firstName, 'Changed');
  });

  it('pages with limit and nextCursor without skipping or repeating a contact', async () => {
    const { api, created } = await orgWithContacts(5);
    const pages = await allPages(api, `${CONTACTS}?limit=2`, `${CONTACTS}?limit=2`);
    assert.deepEqual(
      pages.map((page) => [page.page.pageSize, page.page.hasMore]),
      [
        [2, true],
        [2, true],
        [1, false],
      ],
    );
    assert.deepEqual(
      ids(pages),
      created.map((contact) => contact.id),
    );
  });

  it('answers 400 for a limit outside 1–500 or not a number', async () => {
    const { api } = await orgWithContacts(1);
    for (const limit of ['0', '501', '-1', 'ten', '1.5']) {
      const response = await api.get(`${CONTACTS}?limit=${limit}`);
      assert.equal(response.statusCode, 400, limit);
      assert.deepEqual(Object.keys(response.json().errors), ['limit'], limit);
    }
    for (const limit of ['1', '500']) assert.equal((await api.get(`${CONTACTS}?limit=${limit}`)).statusCode, 200);
  });

  it('answers 400 for unknown query parameters and an invalid updated_since', async () => {
    const { api } = await orgWithContacts(1);
    const unknown = await api.get(`${CONTACTS}?sort=name`);
    assert.equal(unknown.statusCode, 400);
    assert.deepEqual(Object.keys(unknown.json().errors), ['sort']);
    const since = await api.get(`${CONTACTS}?updated_since=yesterday`);
    assert.equal(since.statusCode, 400);
    assert.deepEqual(Object.keys(since.json().errors), ['updated_since']);
  });

  it('filters on updated_since inclusively and pages through many equal timestamps without skips or repeats', async () => {
    const { org, api, created } = await orgWithContacts(7);
    const older = created.slice(0, 2);
    const same = created.slice(2);
    const stamp = new Date('2030-01-02T03:04:05.678Z');
    await stampUpdatedAt(
      t.database.db,
      'contacts',
      org.id,
      new Date('2030-01-02T03:04:05.677Z'),
      older.map((contact) => contact.id),
    );
    await stampUpdatedAt(
      t.database.db,
      'contacts',
      org.id,
      stamp,
      same.map((contact) => contact.id),
    );
    const first = `${CONTACTS}?limit=2&updated_since=${encodeURIComponent(stamp.toISOString())}`;
    const pages = await allPages(api, first, `${CONTACTS}?limit=2`);
    assert.deepEqual(
      ids(pages),
      same.map((contact) => contact.id),
    );
    for (const page of pages) {
      for (const contact of page.data) assert.equal(contact.updatedUtc, stamp.toISOString());
    }
  });

  it('accepts the same updated_since again with each cursor, in any ISO 8601 form', async () => {
    const { org, api, created } = await orgWithContacts(3);
    await stampUpdatedAt(t.database.db, 'contacts', org.id, new Date('2030-05-06T07:08:09Z'));
    for (const since of ['2030-05-06T07:08:09Z', '2030-05-06T09:08:09+02:00', '2030-05-06T07:08:09.000Z']) {
      const query = `${CONTACTS}?limit=1&updated_since=${encodeURIComponent(since)}`;
      const pages = await allPages(api, query, query);
      assert.deepEqual(
        ids(pages),
        created.map((contact) => contact.id),
        since,
      );
    }
  });

  it('answers 400 when a cursor comes with another updated_since or include_deleted', async () => {
    const { api } = await orgWithContacts(2);
    const first = (await api.get(`${CONTACTS}?limit=1&updated_since=2000-01-01T00:00:00Z`)).json();
    const cursor = encodeURIComponent(first.page.nextCursor);
    const since = await api.get(`${CONTACTS}?cursor=${cursor}&updated_since=2001-01-01T00:00:00Z`);
    assert.equal(since.statusCode, 400);
    assert.equal(since.json().type, '/problems/invalid-cursor');
    const deleted = await api.get(`${CONTACTS}?cursor=${cursor}&include_deleted=true`);
    assert.equal(deleted.statusCode, 400);
    assert.equal(deleted.json().type, '/problems/invalid-cursor');
  });

  it('hides deleted contacts unless include_deleted=true, and carries that choice in the cursor', async () => {
    const { api, created } = await orgWithContacts(3);
    assert.equal((await api.delete(created[0].uri)).statusCode, 204);
    const withDeleted = await listUntil(api, `${CONTACTS}?include_deleted=true`, (body) => body.data.length === 3);
    assert.deepEqual(
      withDeleted.data.map((contact: { id: string; deletedUtc: string | null }) => [
        contact.id,
        contact.deletedUtc !== null,
      ]),
      [
        [created[1].id, false],
        [created[2].id, false],
        [created[0].id, true],
      ],
    );
    const live = (await api.get(CONTACTS)).json();
    assert.deepEqual(
      live.data.map((contact: { id: string }) => contact.id),
      [created[1].id, created[2].id],
    );
    const pages = await allPages(api, `${CONTACTS}?limit=1&include_deleted=true`, `${CONTACTS}?limit=1`);
    assert.equal(ids(pages).length, 3);
  });

  it('resumes from the last nextCursor with only the contacts changed since', async () => {
    const { api, created } = await orgWithContacts(3);
    const pages = await allPages(api, CONTACTS, CONTACTS);
    const last = pages.at(-1);
    assert.equal(last.page.hasMore, false);
    assert.equal(typeof last.page.nextCursor, 'string');
    const resume = `${CONTACTS}?cursor=${encodeURIComponent(last.page.nextCursor)}`;
    const empty = (await api.get(resume)).json();
    assert.deepEqual(empty.data, []);
    assert.equal(empty.page.hasMore, false);
    assert.equal(empty.page.nextCursor, last.page.nextCursor);
    assert.equal((await api.patch(created[1].uri, { lastName: 'Later' })).statusCode, 200);
    const added = await newContact(api, { firstName: 'New' });
    const since = await listUntil(api, resume, (body) => body.data.length === 2);
    assert.deepEqual(
      since.data.map((contact: { id: string }) => contact.id),
      [created[1].id, added.id],
    );
  });

  it('answers 400 invalid-cursor for a broken, altered or foreign cursor', async () => {
    const { api } = await orgWithContacts(2);
    const other = await orgWithContacts(2);
    const cursor: string = (await api.get(`${CONTACTS}?limit=1`)).json().page.nextCursor;
    const foreign: string = (await other.api.get(`${CONTACTS}?limit=1`)).json().page.nextCursor;
    const flipped = `${cursor.slice(0, 20)}${cursor[20] === 'A' ? 'B' : 'A'}${cursor.slice(21)}`;
    for (const bad of ['not a cursor', 'abc', flipped, `${cursor}AA`, cursor.slice(0, -2), foreign]) {
      const response = await api.get(`${CONTACTS}?cursor=${encodeURIComponent(bad)}`);
      assert.equal(response.statusCode, 400, bad);
      assert.equal(response.json().type, '/problems/invalid-cursor', bad);
    }
    // Its own cursor still works for the other organization.
    assert.equal((await other.api.get(`${CONTACTS}?cursor=${encodeURIComponent(foreign)}`)).statusCode, 200);
  });

  it('answers 403 to a token without contacts.read', async () => {
    const org = await newOrganization(t.app, { scopes: ['contacts.write'] });
    const response = await client(t.app, org).get(CONTACTS);
    assert.equal(response.statusCode, 403);
  });
});
