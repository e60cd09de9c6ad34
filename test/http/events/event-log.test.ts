import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import {
  type Client,
  COMPANIES,
  CONTACTS,
  client,
  type Json,
  newCompany,
  newContact,
  refPath,
} from '../../helpers/contacts.js';
import { adminHeaders, newOrganization } from '../../helpers/factories.js';

const EVENTS = '/api/v1/network/events';

const EVENT_FIELDS = ['changedFields', 'data', 'id', 'occurredUtc', 'origin', 'resourceId', 'seq', 'type'];

describe('GET /events (event log)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  async function events(api: Client, query = ''): Promise<Json[]> {
    const response = await api.get(`${EVENTS}?limit=500${query}`);
    assert.equal(response.statusCode, 200, response.body);
    return response.json().data;
  }

  async function fresh(scopes?: string[]) {
    const org = await newOrganization(t.app, scopes ? { scopes } : {});
    return { org, api: client(t.app, org) };
  }

  it('records every change to a contact and a company, in order, with the record right after it', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, { firstName: 'Ada', email: 'ada@example.com' });
    const updated = (await api.patch(`${CONTACTS}/${contact.id}`, { lastName: 'Lovelace' })).json();
    assert.equal((await api.delete(`${CONTACTS}/${contact.id}`)).statusCode, 204);
    const company = await newCompany(api, { name: 'Acme AB' });
    await api.patch(`${COMPANIES}/${company.id}`, { website: 'https://acme.example.com' });
    assert.equal((await api.delete(`${COMPANIES}/${company.id}`)).statusCode, 204);

    const log = await events(api);
    assert.deepEqual(
      log.map((event) => event.type),
      [
        'contact.created',
        'contact.updated',
        'contact.deleted',
        'company.created',
        'company.updated',
        'company.deleted',
      ],
    );
    for (const event of log) assert.deepEqual(Object.keys(event).sort(), EVENT_FIELDS);
    const seqs = log.map((event) => event.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.equal(new Set(seqs).size, seqs.length);
    assert.equal(new Set(log.map((event) => event.id)).size, log.length);

    const [created, update, deleted] = log;
    assert.equal(created.resourceId, contact.id);
    assert.deepEqual(created.data, contact, 'data is the representation the write answered with');
    assert.deepEqual(update.data, updated);
    assert.equal(update.occurredUtc, updated.updatedUtc);
    assert.deepEqual(update.changedFields, ['lastName', 'name']);
    assert.notEqual(deleted.data.deletedUtc, null);
    assert.deepEqual(deleted.changedFields, ['deletedUtc']);
    assert.equal(log[3].data.name, 'Acme AB');
    assert.deepEqual(log[4].changedFields, ['website']);
    assert.equal(log[4].data.website, 'https://acme.example.com');
  });

  it('records a revival by external reference as contact.revived and company.revived', async () => {
    const { api } = await fresh();
    const contact = (await api.patch(refPath('hubspot', 'r-1'), { firstName: 'Gone' })).json();
    await api.delete(`${CONTACTS}/${contact.id}`);
    assert.equal((await api.patch(refPath('hubspot', 'r-1'), { firstName: 'Back' })).statusCode, 200);
    const company = (await api.patch(`${COMPANIES}/external/hubspot/c-1`, { name: 'Gone AB' })).json();
    await api.delete(`${COMPANIES}/${company.id}`);
    assert.equal((await api.patch(`${COMPANIES}/external/hubspot/c-1`, { name: 'Back AB' })).statusCode, 200);

    const log = await events(api);
    assert.deepEqual(
      log.map((event) => event.type),
      [
        'contact.created',
        'contact.deleted',
        'contact.revived',
        'company.created',
        'company.deleted',
        'company.revived',
      ],
    );
    assert.deepEqual(log[2].changedFields, ['firstName', 'name', 'deletedUtc']);
    assert.equal(log[2].data.deletedUtc, null);
    assert.deepEqual(log[5].changedFields, ['name', 'deletedUtc']);
  });

  it('appends nothing for a write that changes nothing', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, { firstName: 'Same', tags: ['a'] });
    const company = await newCompany(api, { name: 'Same AB' });
    const before = await events(api);
    assert.equal((await api.patch(`${CONTACTS}/${contact.id}`, { firstName: 'Same', tags: ['a'] })).statusCode, 200);
    assert.equal((await api.patch(`${COMPANIES}/${company.id}`, { name: 'Same AB' })).statusCode, 200);
    await api.patch(refPath('hubspot', 'same'), { firstName: 'Once' });
    await api.patch(refPath('hubspot', 'same'), { firstName: 'Once' });
    await api.post(`${CONTACTS}/batch`, {
      items: [{ externalRef: { namespace: 'hubspot', id: 'same' }, data: { firstName: 'Once' } }],
    });
    const afterwards = await events(api);
    assert.equal(afterwards.length, before.length + 1, 'only the upsert that created appended an event');
  });

  it('names the changed fields for each kind of field, and every set field on creation', async () => {
    const { api } = await fresh();
    const company = await newCompany(api, { name: 'Linked AB' });
    const contact = await newContact(api, { firstName: 'Kind', email: 'kind@example.com', tags: ['x'] });
    const changes: Array<[Record<string, unknown>, string[]]> = [
      [{ firstName: 'Kinder' }, ['firstName', 'name']],
      [{ dnd: true }, ['dnd']],
      [{ dateOfBirth: '1990-02-03' }, ['dateOfBirth']],
      [{ tags: ['x', 'y'] }, ['tags']],
      [{ emails: [{ address: 'other@example.com' }] }, ['email', 'emails']],
      [{ phone: '+46701234567' }, ['phone', 'phones']],
      [{ dndSettings: { SMS: { status: 'active' } } }, ['dndSettings']],
      [
        { connections: [{ company: { kind: 'existing', id: company.id }, primary: true }] },
        ['companyName', 'primaryCompanyId', 'companies'],
      ],
      [{ companyName: 'Named AB' }, ['companyName', 'primaryCompanyId', 'companies']],
      [{ externalRefs: [{ namespace: 'crm', id: '7' }] }, ['externalRefs']],
      [{ country: 'se', city: 'Lund' }, ['city', 'country']],
    ];
    for (const [body, expected] of changes) {
      const response = await api.patch(`${CONTACTS}/${contact.id}`, body);
      assert.equal(response.statusCode, 200, response.body);
      const last = (await events(api, '&types=contact.updated')).at(-1);
      assert.deepEqual(
        [...last.changedFields].sort(),
        [...expected].sort(),
        `changedFields of ${JSON.stringify(body)}`,
      );
      assert.deepEqual(last.data, response.json());
    }
    const [created] = await events(api, '&types=contact.created');
    assert.deepEqual([...created.changedFields].sort(), ['email', 'emails', 'firstName', 'name', 'tags']);
    const [companyCreated] = await events(api, '&types=company.created');
    assert.deepEqual(companyCreated.changedFields, ['name']);
  });

  it('pages with after and limit, and nextAfter resumes where a short page ended', async () => {
    const { api } = await fresh();
    for (let i = 0; i < 5; i += 1) await newContact(api, { firstName: `P${i}` });
    const first = (await api.get(`${EVENTS}?limit=2`)).json();
    assert.equal(first.data.length, 2);
    assert.equal(first.page.hasMore, true);
    assert.equal(first.page.nextAfter, first.data[1].seq);
    const second = (await api.get(`${EVENTS}?limit=10&after=${first.page.nextAfter}`)).json();
    assert.deepEqual(
      second.data.map((event: Json) => event.data.firstName),
      ['P2', 'P3', 'P4'],
    );
    assert.equal(second.page.hasMore, false);
    const empty = (await api.get(`${EVENTS}?after=${second.page.nextAfter}`)).json();
    assert.deepEqual(empty.data, []);
    assert.equal(empty.page.nextAfter, second.page.nextAfter);
    await newContact(api, { firstName: 'Later' });
    const later = (await api.get(`${EVENTS}?after=${second.page.nextAfter}`)).json();
    assert.deepEqual(
      later.data.map((event: Json) => event.data.firstName),
      ['Later'],
    );
  });

  it('moves nextAfter past events the filters leave out, so a poller does not scan them again', async () => {
    const { api } = await fresh();
    await newCompany(api, { name: 'Skipped AB' });
    await newCompany(api, { name: 'Skipped Too AB' });
    const page = (await api.get(`${EVENTS}?types=contact.*`)).json();
    assert.deepEqual(page.data, []);
    const all = await events(api);
    assert.equal(page.page.nextAfter, all.at(-1).seq);
  });

  it('filters by type patterns and refuses unknown ones naming the parameter', async () => {
    const { api } = await fresh();
    const contact = await newContact(api);
    await api.patch(`${CONTACTS}/${contact.id}`, { lastName: 'X' });
    await newCompany(api);
    assert.deepEqual(
      (await events(api, '&types=contact.updated,company.*')).map((event) => event.type),
      ['contact.updated', 'company.created'],
    );
    assert.deepEqual(
      (await events(api, '&types=*')).map((event) => event.type),
      ['contact.created', 'contact.updated', 'company.created'],
    );
    const bad = await api.get(`${EVENTS}?types=contact.merged`);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.deepEqual(Object.keys(bad.json().errors), ['types']);
    assert.equal((await api.get(`${EVENTS}?limit=501`)).statusCode, 400);
    assert.equal((await api.get(`${EVENTS}?after=-1`)).statusCode, 400);
    assert.equal((await api.get(`${EVENTS}?cursor=x`)).statusCode, 400);
  });

  it("needs each resource's read scope; without types it reads what the token may", async () => {
    const { org, api } = await fresh(['contacts.read', 'contacts.write', 'companies.write']);
    await newContact(api);
    await newCompany(api);
    assert.deepEqual(
      (await events(api)).map((event) => event.type),
      ['contact.created'],
    );
    const refused = await api.get(`${EVENTS}?types=company.*`);
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().requiredScope, 'companies.read');
    assert.equal((await api.get(`${EVENTS}?types=*`)).statusCode, 403);
    const settingsOnly = await t.app.inject({
      method: 'POST',
      url: `/api/v1/admin/organizations/${org.id}/tokens`,
      headers: adminHeaders,
      payload: { scopes: ['settings.write'] },
    });
    const none = await t.app.inject({
      method: 'GET',
      url: EVENTS,
      headers: { authorization: `Bearer ${settingsOnly.json().token}` },
    });
    assert.equal(none.statusCode, 403);
  });

  it("records the origin: an upsert's namespace, X-Change-Origin, the token's origin, else api; exclude_origin drops them", async () => {
    const { org, api } = await fresh();
    await newContact(api, { firstName: 'Api' });
    await api.patch(refPath('HubSpot', 'h-1'), { firstName: 'Hub' });
    await api.post(CONTACTS, { firstName: 'Headed' }, { 'x-change-origin': 'Salesforce' });
    const tokenResponse = await t.app.inject({
      method: 'POST',
      url: `/api/v1/admin/organizations/${org.id}/tokens`,
      headers: adminHeaders,
      payload: { origin: 'Pipedrive' },
    });
    assert.equal(tokenResponse.statusCode, 201, tokenResponse.body);
    assert.equal(tokenResponse.json().origin, 'pipedrive');
    const syncApi = client(t.app, { ...org, headers: { authorization: `Bearer ${tokenResponse.json().token}` } });
    const byToken = await newContact(syncApi, { firstName: 'Piped' });
    assert.equal(byToken.changeOrigin, 'pipedrive');
    await syncApi.post(CONTACTS, { firstName: 'Overridden' }, { 'x-change-origin': 'forms' });

    const log = await events(api);
    assert.deepEqual(
      log.map((event) => [event.data.firstName, event.origin]),
      [
        ['Api', 'api'],
        ['Hub', 'hubspot'],
        ['Headed', 'salesforce'],
        ['Piped', 'pipedrive'],
        ['Overridden', 'forms'],
      ],
    );
    assert.deepEqual(
      (await events(api, '&exclude_origin=hubspot&exclude_origin=PIPEDRIVE')).map((event) => event.origin),
      ['api', 'salesforce', 'forms'],
    );
    assert.deepEqual(
      (await events(api, '&exclude_origin=forms')).map((event) => event.origin),
      ['api', 'hubspot', 'salesforce', 'pipedrive'],
    );

    const bad = await api.post(CONTACTS, { firstName: 'Bad' }, { 'x-change-origin': 'no spaces please' });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(Object.keys(bad.json().errors), ['X-Change-Origin']);
    assert.equal((await events(api)).length, log.length, 'the refused write appended nothing');
  });

  it("shows another organization's events to nobody else", async () => {
    const { api: mine } = await fresh();
    const { api: theirs } = await fresh();
    await newContact(theirs, { firstName: 'Theirs' });
    await newContact(mine, { firstName: 'Mine' });
    assert.deepEqual(
      (await events(mine)).map((event) => event.data.firstName),
      ['Mine'],
    );
  });

  it('answers 410 to an after that retention has passed; the change feed still lists every record', async () => {
    const { org, api } = await fresh();
    const kept = await newContact(api, { firstName: 'Kept' });
    const changed = await newContact(api, { firstName: 'Changed' });
    await api.patch(`${CONTACTS}/${changed.id}`, { firstName: 'Changed twice' });
    const recent = await newContact(api, { firstName: 'Recent' });
    const all = await events(api);
    const old = all.filter((event) => event.resourceId !== recent.id).map((event) => event.seq);
    await sql`
      UPDATE events SET occurred_at = now() - interval '400 days'
      WHERE organization_id = ${org.id} AND seq = ANY(${old}::bigint[])
    `.execute(t.database.db);
    assert.ok((await t.app.eventLog.prune()) >= 1);

    const expired = await api.get(`${EVENTS}?after=0`);
    assert.equal(expired.statusCode, 410, expired.body);
    assert.equal(expired.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(expired.json().resumeAfter, all.at(-1).seq);
    // Without after, the log starts at the oldest event it still has.
    const fromOldest = await api.get(EVENTS);
    assert.equal(fromOldest.statusCode, 200);
    assert.deepEqual(
      fromOldest.json().data.map((event: Json) => event.data.firstName),
      ['Recent'],
    );
    // The change feed still lists every contact: it pages by each record's position, not the log.
    const feed = (await api.get(`${CONTACTS}?limit=100`)).json();
    assert.deepEqual(feed.data.map((contact: Json) => contact.id).sort(), [kept.id, changed.id, recent.id].sort());
  });
});
