import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import {
  allPages,
  type Client,
  COMPANIES,
  COMPANY_FIELDS,
  CONTACTS,
  client,
  type Json,
  listUntil,
  newCompany,
  stampUpdatedAt,
} from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

describe('GET /companies (change feed)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const ids = (pages: Json[]) => pages.flatMap((page) => page.data.map((company: { id: string }) => company.id));

  async function orgWithCompanies(count: number): Promise<{ org: TestOrganization; api: Client; created: Json[] }> {
    const org = await newOrganization(t.app);
    const api = client(t.app, org);
    const created: Json[] = [];
    for (let i = 0; i < count; i += 1) created.push(await newCompany(api, { name: `Co ${i}` }));
    await listUntil(api, `${COMPANIES}?limit=500`, (body) => body.data.length === count);
    return { org, api, created };
  }

  it('lists the companies of the organization in change order with the page shape', async () => {
    const { api, created } = await orgWithCompanies(3);
    assert.equal((await api.patch(created[0].uri, { name: 'Changed' })).statusCode, 200);
    const body = await listUntil(api, COMPANIES, (page) => page.data.length === 3);
    assert.deepEqual(Object.keys(body.page).sort(), ['hasMore', 'nextCursor', 'pageSize']);
    assert.equal(body.page.pageSize, 3);
    assert.equal(body.page.hasMore, false);
    for (const company of body.data) assert.deepEqual(Object.keys(company).sort(), COMPANY_FIELDS);
    assert.deepEqual(
      body.data.map((company: { id: string }) => company.id),
      [created[1].id, created[2].id, created[0].id],
    );
  });

  it('pages with limit and nextCursor without skips or repeats, also over equal timestamps', async () => {
    const { org, api, created } = await orgWithCompanies(5);
    const stamp = new Date('2031-01-01T00:00:00.000Z');
    await stampUpdatedAt(t.database.db, 'companies', org.id, stamp);
    const pages = await allPages(api, `${COMPANIES}?limit=2`, `${COMPANIES}?limit=2`);
    assert.deepEqual(
      pages.map((page) => page.page.pageSize),
      [2, 2, 1],
    );
    assert.deepEqual(
      ids(pages),
      created.map((company) => company.id),
    );
    const since = `${COMPANIES}?limit=2&updated_since=2031-01-01T00:00:00Z`;
    assert.deepEqual(
      ids(await allPages(api, since, since)),
      created.map((company) => company.id),
    );
    const later = (await api.get(`${COMPANIES}?updated_since=2031-01-01T00:00:00.001Z`)).json();
    assert.deepEqual(later.data, []);
  });

  it('hides deleted companies unless include_deleted=true', async () => {
    const { api, created } = await orgWithCompanies(2);
    assert.equal((await api.delete(created[0].uri)).statusCode, 204);
    const all = await listUntil(api, `${COMPANIES}?include_deleted=true`, (body) => body.data.length === 2);
    assert.deepEqual(
      all.data.map((company: { id: string; deletedUtc: string | null }) => [company.id, company.deletedUtc !== null]),
      [
        [created[1].id, false],
        [created[0].id, true],
      ],
    );
    const live = (await api.get(COMPANIES)).json();
    assert.deepEqual(
      live.data.map((company: { id: string }) => company.id),
      [created[1].id],
    );
  });

  it('answers 400 for a limit outside 1–500 and for broken or foreign cursors', async () => {
    const { api } = await orgWithCompanies(2);
    const other = await orgWithCompanies(2);
    for (const limit of ['0', '501', 'x']) {
      assert.equal((await api.get(`${COMPANIES}?limit=${limit}`)).statusCode, 400, limit);
    }
    const foreign: string = (await other.api.get(`${COMPANIES}?limit=1`)).json().page.nextCursor;
    const own: string = (await api.get(`${COMPANIES}?limit=1`)).json().page.nextCursor;
    for (const bad of [foreign, `${own.slice(0, -3)}xyz`, 'garbage!']) {
      const response = await api.get(`${COMPANIES}?cursor=${encodeURIComponent(bad)}`);
      assert.equal(response.statusCode, 400, bad);
      assert.equal(response.json().type, '/problems/invalid-cursor');
    }
  });

  it("answers 400 invalid-cursor for a cursor of the contact list, and the contact list for one of this list's", async () => {
    const { api } = await orgWithCompanies(2);
    for (const name of ['A', 'B']) {
      assert.equal((await api.post(CONTACTS, { firstName: name })).statusCode, 201);
    }
    const contacts = await listUntil(api, `${CONTACTS}?limit=1`, (body) => body.page.hasMore);
    const companies = (await api.get(`${COMPANIES}?limit=1`)).json();
    const wrongList = await api.get(`${COMPANIES}?cursor=${encodeURIComponent(contacts.page.nextCursor)}`);
    assert.equal(wrongList.statusCode, 400);
    assert.equal(wrongList.json().type, '/problems/invalid-cursor');
    const otherWay = await api.get(`${CONTACTS}?cursor=${encodeURIComponent(companies.page.nextCursor)}`);
    assert.equal(otherWay.statusCode, 400);
    assert.equal(otherWay.json().type, '/problems/invalid-cursor');
  });

  it('answers 403 to a token without companies.read', async () => {
    const org = await newOrganization(t.app, { scopes: ['contacts.read'] });
    assert.equal((await client(t.app, org).get(COMPANIES)).statusCode, 403);
    const contactsOnly = await newOrganization(t.app, { scopes: ['companies.read'] });
    assert.equal((await client(t.app, contactsOnly).get(CONTACTS)).statusCode, 403);
  });
});
