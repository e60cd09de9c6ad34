import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { type Client, COMPANIES, client, newCompany } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('PATCH /companies/{id}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async (settings?: Record<string, unknown>): Promise<Client> =>
    client(t.app, await newOrganization(t.app, settings ? { settings } : {}));

  const full = { name: 'Acme', website: 'https://acme.example', externalRefs: [{ namespace: 'crm', id: '1' }] };

  it('sets present fields, keeps omitted ones and clears website with null', async () => {
    const api = await newApi();
    const company = await newCompany(api, full);
    const renamed = await api.patch(company.uri, { name: 'Acme Group' });
    assert.equal(renamed.statusCode, 200);
    assert.equal(renamed.headers.etag, renamed.json().etag);
    assert.notEqual(renamed.json().etag, company.etag);
    assert.deepEqual(
      [renamed.json().name, renamed.json().website, renamed.json().externalRefs],
      ['Acme Group', 'https://acme.example', [{ namespace: 'crm', id: '1' }]],
    );
    assert.equal(renamed.json().createdUtc, company.createdUtc);
    const cleared = await api.patch(company.uri, { website: null, externalRefs: null });
    assert.equal(cleared.statusCode, 200);
    assert.equal(cleared.json().website, null);
    assert.deepEqual(cleared.json().externalRefs, []);
    assert.equal(cleared.json().name, 'Acme Group');
    assert.deepEqual((await api.get(company.uri)).json(), cleared.json());
  });

  it('replaces the external references and frees the removed ones', async () => {
    const api = await newApi();
    const company = await newCompany(api, full);
    const response = await api.patch(company.uri, { externalRefs: [{ namespace: 'ERP', id: '9' }] });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json().externalRefs, [{ namespace: 'erp', id: '9' }]);
    const other = await api.post(COMPANIES, { name: 'Other', externalRefs: [{ namespace: 'crm', id: '1' }] });
    assert.equal(other.statusCode, 201);
    const taken = await api.patch(company.uri, { externalRefs: [{ namespace: 'crm', id: '1' }] });
    assert.equal(taken.statusCode, 409);
    assert.equal(taken.json().conflictField, 'externalRefs[0]');
    assert.equal(taken.json().conflictingCompanyId, other.json().id);
  });

  it('answers 200 with the same ETag and updatedUtc when nothing changes', async () => {
    const api = await newApi();
    const company = await newCompany(api, full);
    for (const body of [
      {},
      { name: 'Acme' },
      { website: 'https://acme.example', externalRefs: [{ namespace: 'CRM', id: '1' }] },
    ]) {
      const response = await api.patch(company.uri, body);
      assert.equal(response.statusCode, 200, JSON.stringify(body));
      assert.deepEqual(response.json(), company, JSON.stringify(body));
      assert.equal(response.headers.etag, company.etag);
    }
  });

  it('answers 400 for invalid fields and changes nothing', async () => {
    const api = await newApi();
    const company = await newCompany(api, full);
    for (const [body, field] of [
      [{ name: null }, 'name'],
      [{ name: '  ' }, 'name'],
      [{ name: 'x'.repeat(256) }, 'name'],
      [{ website: 'not a url' }, 'website'],
      [{ id: randomUUID() }, 'id'],
    ] as const) {
      const response = await api.patch(company.uri, body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(response.json().errors), [field], JSON.stringify(body));
    }
    assert.deepEqual((await api.get(company.uri)).json(), company);
  });

  it('answers 412 when If-Match is stale and accepts the current, weak, listed or * ETag', async () => {
    const api = await newApi();
    const company = await newCompany(api);
    let etag: string = company.etag;
    for (const form of [
      (tag: string) => tag,
      (tag: string) => tag.slice(2),
      (tag: string) => `W/"old", ${tag}`,
      () => '*',
    ]) {
      const response = await api.patch(company.uri, { name: randomUUID() }, { 'if-match': form(etag) });
      assert.equal(response.statusCode, 200, form(etag));
      etag = response.json().etag;
    }
    const before = (await api.get(company.uri)).json();
    const stale = await api.patch(company.uri, { name: 'Lost' }, { 'if-match': company.etag });
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.json().type, '/problems/precondition-failed');
    assert.deepEqual((await api.get(company.uri)).json(), before);
  });

  it('answers 428 without If-Match when the organization requires it', async () => {
    const api = await newApi({ requireIfMatch: true });
    const company = await newCompany(api);
    const response = await api.patch(company.uri, { name: 'X' });
    assert.equal(response.statusCode, 428);
    assert.equal(response.json().type, '/problems/precondition-required');
    const given = await api.patch(company.uri, { name: 'X' }, { 'if-match': company.etag });
    assert.equal(given.statusCode, 200);
  });

  it('answers 404 for an unknown or deleted company', async () => {
    const api = await newApi();
    assert.equal((await api.patch(`${COMPANIES}/${randomUUID()}`, { name: 'X' })).statusCode, 404);
    const company = await newCompany(api);
    assert.equal((await api.delete(company.uri)).statusCode, 204);
    assert.equal((await api.patch(company.uri, { name: 'X' })).statusCode, 404);
  });

  it('answers 403 to a token without companies.write', async () => {
    const org = await newOrganization(t.app);
    const company = await newCompany(client(t.app, org));
    const readOnly = await newOrganization(t.app, { scopes: ['companies.read'] });
    const response = await client(t.app, readOnly).patch(company.uri, { name: 'X' });
    assert.equal(response.statusCode, 403);
  });
});
