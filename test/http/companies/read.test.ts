import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { COMPANIES, client, newCompany } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('GET /companies/{id}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async () => client(t.app, await newOrganization(t.app));

  it('answers 200 with the company and its ETag', async () => {
    const api = await newApi();
    const company = await newCompany(api);
    const response = await api.get(company.uri);
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers.etag, company.etag);
    assert.deepEqual(response.json(), company);
  });

  it('answers 304 when If-None-Match holds the current ETag and 200 after a change', async () => {
    const api = await newApi();
    const company = await newCompany(api);
    for (const tag of [company.etag, company.etag.slice(2), `"x", ${company.etag}`]) {
      const response = await api.get(company.uri, { 'if-none-match': tag });
      assert.equal(response.statusCode, 304, tag);
      assert.equal(response.body, '');
    }
    assert.equal((await api.patch(company.uri, { name: 'Renamed' })).statusCode, 200);
    const changed = await api.get(company.uri, { 'if-none-match': company.etag });
    assert.equal(changed.statusCode, 200);
    assert.equal(changed.json().name, 'Renamed');
  });

  it('answers 404 for an unknown or deleted company', async () => {
    const api = await newApi();
    const missing = await api.get(`${COMPANIES}/${randomUUID()}`);
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().type, '/problems/not-found');
    const company = await newCompany(api);
    assert.equal((await api.delete(company.uri)).statusCode, 204);
    assert.equal((await api.get(company.uri)).statusCode, 404);
  });

  it('answers 403 to a token without companies.read', async () => {
    const org = await newOrganization(t.app, { scopes: ['contacts.read'] });
    const response = await client(t.app, org).get(`${COMPANIES}/${randomUUID()}`);
    assert.equal(response.statusCode, 403);
  });
});
