import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { COMPANIES, CONTACTS, client, newContact } from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

const companyRef = (namespace: string, id: string) =>
  `${COMPANIES}/external/${encodeURIComponent(namespace)}/${encodeURIComponent(id)}`;

describe('PATCH /companies/external/{namespace}/{id}', () => {
  let test: TestApp;
  let org: TestOrganization;
  let api: ReturnType<typeof client>;

  before(async () => {
    test = await createTestApp();
    org = await newOrganization(test.app);
    api = client(test.app, org);
  });
  after(() => test.close());

  it('creates the company with the reference (201), then updates it (200) and changes nothing on a repeat', async () => {
    const created = await api.patch(companyRef('HubSpot', 'c-1'), { name: 'Acme AB', website: 'https://acme.test' });
    assert.equal(created.statusCode, 201);
    assert.equal(created.headers['x-propstreet-upsert-action'], 'created');
    assert.equal(created.headers.location, `${COMPANIES}/${created.json().id}`);
    assert.deepEqual(created.json().externalRefs, [{ namespace: 'hubspot', id: 'c-1' }]);
    assert.equal(created.headers.etag, created.json().etag);

    const updated = await api.patch(companyRef('hubspot', 'c-1'), { name: 'Acme Group AB' });
    assert.equal(updated.statusCode, 200);
    assert.equal(updated.headers['x-propstreet-upsert-action'], 'updated');
    assert.equal(updated.json().id, created.json().id);
    assert.equal(updated.json().name, 'Acme Group AB');
    assert.equal(updated.json().website, 'https://acme.test', 'omitted fields are kept');

    const repeated = await api.patch(companyRef('hubspot', 'c-1'), { name: 'Acme Group AB' });
    assert.equal(repeated.statusCode, 200);
    assert.equal(repeated.headers.etag, updated.headers.etag);
    assert.equal(repeated.json().updatedUtc, updated.json().updatedUtc);

    const read = await api.get(companyRef('hubspot', 'c-1'));
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().id, created.json().id);
  });

  it('needs a name to create, and says so naming the field', async () => {
    const response = await api.patch(companyRef('hubspot', 'nameless'), { website: 'https://x.test' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json().errors, { name: ['is required to create a company'] });
    assert.equal((await api.get(companyRef('hubspot', 'nameless'))).statusCode, 404);
  });

  it('answers 404 with update_only for an unknown reference, and validate_only stores nothing', async () => {
    assert.equal(
      (await api.patch(`${companyRef('hubspot', 'c-404')}?update_only=true`, { name: 'X' })).statusCode,
      404,
    );
    const dry = await api.patch(`${companyRef('hubspot', 'c-dry')}?validate_only=true`, { name: 'Dry AB' });
    assert.equal(dry.statusCode, 200);
    assert.equal(dry.headers['x-propstreet-upsert-action'], 'created');
    assert.equal((await api.get(companyRef('hubspot', 'c-dry'))).statusCode, 404);
  });

  it('honours If-Match: 412 when stale, 200 when current', async () => {
    const created = (await api.patch(companyRef('hubspot', 'c-etag'), { name: 'Etag AB' })).json();
    const stale = await api.patch(companyRef('hubspot', 'c-etag'), { name: 'Other' }, { 'if-match': 'W/"stale"' });
    assert.equal(stale.statusCode, 412);
    const fresh = await api.patch(companyRef('hubspot', 'c-etag'), { name: 'Other' }, { 'if-match': created.etag });
    assert.equal(fresh.statusCode, 200);
    assert.equal(fresh.json().name, 'Other');
  });

  it('revives a deleted company, or with revive=false creates a new one that takes the reference', async () => {
    const first = (await api.patch(companyRef('hubspot', 'c-del'), { name: 'Gone AB' })).json();
    assert.equal((await api.delete(`${COMPANIES}/${first.id}`)).statusCode, 204);
    const revived = await api.patch(companyRef('hubspot', 'c-del'), { name: 'Back AB' });
    assert.equal(revived.statusCode, 200);
    assert.equal(revived.headers['x-propstreet-upsert-action'], 'revived');
    assert.equal(revived.json().id, first.id);
    assert.equal(revived.json().deletedUtc, null);

    assert.equal((await api.delete(`${COMPANIES}/${first.id}`)).statusCode, 204);
    const replaced = await api.patch(`${companyRef('hubspot', 'c-del')}?revive=false`, { name: 'New AB' });
    assert.equal(replaced.statusCode, 201);
    assert.notEqual(replaced.json().id, first.id);
    assert.deepEqual(replaced.json().externalRefs, [{ namespace: 'hubspot', id: 'c-del' }]);
    assert.equal((await api.get(companyRef('hubspot', 'c-del'))).json().id, replaced.json().id);
  });

  it('creates one company when the same reference is upserted concurrently', async () => {
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, index) => api.patch(companyRef('hubspot', 'c-race'), { name: `Race ${index}` })),
    );
    const statuses = responses.map((response) => response.statusCode).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 201]);
    assert.equal(new Set(responses.map((response) => response.json().id)).size, 1);
  });

  it("answers 404 for another organization's reference", async () => {
    await api.patch(companyRef('hubspot', 'c-mine'), { name: 'Mine AB' });
    const other = client(test.app, await newOrganization(test.app));
    assert.equal((await other.get(companyRef('hubspot', 'c-mine'))).statusCode, 404);
    assert.equal(
      (await other.patch(`${companyRef('hubspot', 'c-mine')}?update_only=true`, { name: 'X' })).statusCode,
      404,
    );
  });
});

describe('connections that name their company by external reference', () => {
  let test: TestApp;
  let org: TestOrganization;
  let api: ReturnType<typeof client>;

  before(async () => {
    test = await createTestApp();
    org = await newOrganization(test.app);
    api = client(test.app, org);
  });
  after(() => test.close());

  it('links the contact to the live company holding the reference, on create, PATCH and both upserts', async () => {
    const company = (await api.patch(companyRef('hubspot', 'c-9'), { name: 'Nine AB' })).json();
    const connection = {
      company: { kind: 'external', namespace: 'HubSpot', id: 'c-9' },
      jobTitle: 'CEO',
      primary: true,
    };

    const created = await api.post(CONTACTS, { firstName: 'Linked', connections: [connection] });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().primaryCompanyId, company.id);

    const plain = await newContact(api, { firstName: 'Later' });
    const patched = await api.patch(`${CONTACTS}/${plain.id}`, { connections: [connection] });
    assert.equal(patched.json().primaryCompanyId, company.id);

    const byRef = await api.patch(`${CONTACTS}/external/hubspot/p-1`, { firstName: 'Ref', connections: [connection] });
    assert.equal(byRef.statusCode, 201, byRef.body);
    assert.equal(byRef.json().primaryCompanyId, company.id);

    const byMatch = await api.post(`${CONTACTS}/upsert`, {
      firstName: 'Match',
      email: 'match-c9@example.com',
      connections: [connection],
    });
    assert.equal(byMatch.statusCode, 201, byMatch.body);
    assert.equal(byMatch.json().contact.primaryCompanyId, company.id);
  });

  it('answers 400 naming the connection when no live company has the reference, and stores nothing', async () => {
    const gone = (await api.patch(companyRef('hubspot', 'c-gone'), { name: 'Gone AB' })).json();
    await api.delete(`${COMPANIES}/${gone.id}`);
    for (const id of ['c-unknown', 'c-gone']) {
      const response = await api.post(CONTACTS, {
        firstName: 'Nobody',
        email: `nobody-${id}@example.com`,
        connections: [{ company: { kind: 'external', namespace: 'hubspot', id }, primary: true }],
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(Object.keys(response.json().errors), ['connections[0].company']);
      assert.match(response.json().errors['connections[0].company'][0], new RegExp(`hubspot/${id}`));
    }
  });

  it('reports the fields of the kind the client chose, and an unknown kind', async () => {
    const missing = await api.post(CONTACTS, {
      firstName: 'X',
      connections: [{ company: { kind: 'external', id: 'c-1' }, primary: true }],
    });
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(missing.json().errors, { 'connections[0].company.namespace': ['is required'] });
    const unknown = await api.post(CONTACTS, {
      firstName: 'X',
      connections: [{ company: { kind: 'name', id: 'c-1' }, primary: true }],
    });
    assert.equal(unknown.statusCode, 400);
    assert.deepEqual(unknown.json().errors, { 'connections[0].company.kind': ['is not one of the accepted kinds'] });
  });

  it('refuses two connections that resolve to one company', async () => {
    const company = (await api.patch(companyRef('hubspot', 'c-twice'), { name: 'Twice AB' })).json();
    const response = await api.post(CONTACTS, {
      firstName: 'Twice',
      connections: [
        { company: { kind: 'existing', id: company.id }, primary: true },
        { company: { kind: 'external', namespace: 'hubspot', id: 'c-twice' } },
      ],
    });
    assert.equal(response.statusCode, 400);
    assert.ok(response.json().errors['connections[1].company.id']);
  });
});
