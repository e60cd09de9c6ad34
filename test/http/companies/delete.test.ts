import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { type Client, COMPANIES, client, newCompany } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('DELETE /companies/{id}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async (settings?: Record<string, unknown>): Promise<Client> =>
    client(t.app, await newOrganization(t.app, settings ? { settings } : {}));

  it('soft-deletes: 204, then 404, with the row kept and deleted_at set', async () => {
    const api = await newApi();
    const company = await newCompany(api);
    const response = await api.delete(company.uri);
    assert.equal(response.statusCode, 204);
    assert.equal(response.body, '');
    assert.equal((await api.get(company.uri)).statusCode, 404);
    assert.equal((await api.delete(company.uri)).statusCode, 404);
    const row = await t.database.db
      .selectFrom('companies')
      .select('deleted_at')
      .where('id', '=', company.id)
      .executeTakeFirstOrThrow();
    assert.ok(row.deleted_at instanceof Date);
  });

  it('answers 404 for an unknown company', async () => {
    const api = await newApi();
    const response = await api.delete(`${COMPANIES}/${randomUUID()}`);
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().type, '/problems/not-found');
  });

  it('answers 412 when If-Match is stale and deletes with the current ETag', async () => {
    const api = await newApi();
    const company = await newCompany(api);
    const renamed = await api.patch(company.uri, { name: 'Renamed' });
    const stale = await api.delete(company.uri, { 'if-match': company.etag });
    assert.equal(stale.statusCode, 412);
    assert.equal((await api.get(company.uri)).statusCode, 200);
    assert.equal((await api.delete(company.uri, { 'if-match': renamed.json().etag })).statusCode, 204);
  });

  it('answers 428 without If-Match when the organization requires it', async () => {
    const api = await newApi({ requireIfMatch: true });
    const company = await newCompany(api);
    assert.equal((await api.delete(company.uri)).statusCode, 428);
    assert.equal((await api.get(company.uri)).statusCode, 200);
  });
});
