import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { COMPANIES, CONTACTS, client, type Json } from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

describe('POST /companies/batch', () => {
  let test: TestApp;
  let org: TestOrganization;
  let api: ReturnType<typeof client>;

  before(async () => {
    test = await createTestApp();
    org = await newOrganization(test.app);
    api = client(test.app, org);
  });
  after(() => test.close());

  const item = (id: string, data: Json, extra: Json = {}) => ({
    ref: id,
    externalRef: { namespace: 'hubspot', id },
    data,
    ...extra,
  });

  it('upserts companies by reference with a result per item, then contacts link to them by reference', async () => {
    const response = await api.post(`${COMPANIES}/batch`, {
      items: [
        item('co-1', { name: 'One AB' }),
        item('co-2', { name: 'Two AB', website: 'https://two.test' }),
        item('co-1', { website: 'https://one.test' }),
        item('co-3', { website: 'https://three.test' }),
        item('co-2', { name: 'Two AB', website: 'https://two.test' }),
      ],
    });
    assert.equal(response.statusCode, 207, response.body);
    const { results, summary } = response.json();
    assert.deepEqual(
      results.map((r: Json) => [r.ref, r.status, r.action, r.matchedBy]),
      [
        ['co-1', 201, 'created', 'none'],
        ['co-2', 201, 'created', 'none'],
        ['co-1', 200, 'updated', 'external_ref'],
        ['co-3', 400, null, null],
        ['co-2', 200, 'unchanged', 'external_ref'],
      ],
    );
    assert.deepEqual(results[3].problem.errors, { 'data.name': ['is required to create a company'] });
    assert.deepEqual(summary, { total: 5, created: 2, updated: 1, revived: 0, unchanged: 1, failed: 1 });
    const one = (await api.get(`${COMPANIES}/external/hubspot/co-1`)).json();
    assert.equal(one.website, 'https://one.test');
    assert.equal(one.etag, results[2].etag);

    const contacts = await api.post(`${CONTACTS}/batch`, {
      items: [
        {
          externalRef: { namespace: 'hubspot', id: 'p-1' },
          data: {
            firstName: 'Linked',
            connections: [{ company: { kind: 'external', namespace: 'hubspot', id: 'co-2' }, primary: true }],
          },
        },
      ],
    });
    assert.equal(contacts.statusCode, 200, contacts.body);
    const contact = (await api.get(`${CONTACTS}/${contacts.json().results[0].id}`)).json();
    assert.equal(contact.primaryCompanyId, results[1].id);
  });

  it('stores nothing when atomic and an item fails', async () => {
    const response = await api.post(`${COMPANIES}/batch`, {
      atomic: true,
      items: [item('co-a1', { name: 'A' }), item('co-a2', { website: 'not a url' })],
    });
    assert.equal(response.statusCode, 422);
    assert.deepEqual(
      response.json().results.map((r: Json) => r.status),
      [424, 400],
    );
    assert.equal((await api.get(`${COMPANIES}/external/hubspot/co-a1`)).statusCode, 404);
  });

  it('needs externalRef on every item', async () => {
    const response = await api.post(`${COMPANIES}/batch`, { items: [{ data: { name: 'No ref AB' } }] });
    assert.equal(response.statusCode, 207);
    assert.deepEqual(Object.keys(response.json().results[0].problem.errors), ['externalRef']);
  });
});
