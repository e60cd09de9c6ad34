import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { assertContactShape, CONTACTS, client, newContact, refPath } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('GET /contacts/{id} and /contacts/external/{namespace}/{id}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async () => client(t.app, await newOrganization(t.app));

  it('answers 200 with the contact and its ETag', async () => {
    const api = await newApi();
    const created = await newContact(api, { lastName: 'Read' });
    const response = await api.get(`${CONTACTS}/${created.id}`);
    assert.equal(response.statusCode, 200);
    assertContactShape(response.json(), response);
    assert.deepEqual(response.json(), created);
  });

  it('answers 304 without a body when If-None-Match holds the current ETag', async () => {
    const api = await newApi();
    const created = await newContact(api);
    for (const ifNoneMatch of [created.etag, created.etag.slice(2), `W/"other", ${created.etag}`, '*']) {
      const response = await api.get(created.uri, { 'if-none-match': ifNoneMatch });
      assert.equal(response.statusCode, 304, ifNoneMatch);
      assert.equal(response.body, '');
      assert.equal(response.headers.etag, created.etag);
    }
  });

  it('answers 200 when If-None-Match holds an older ETag', async () => {
    const api = await newApi();
    const created = await newContact(api);
    const updated = await api.patch(created.uri, { firstName: 'Changed' });
    assert.equal(updated.statusCode, 200);
    const response = await api.get(created.uri, { 'if-none-match': created.etag });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().firstName, 'Changed');
    assert.equal(response.headers.etag, updated.json().etag);
    assert.notEqual(response.headers.etag, created.etag);
  });

  it('answers 404 problem+json for an unknown or deleted contact', async () => {
    const api = await newApi();
    const missing = await api.get(`${CONTACTS}/${randomUUID()}`);
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(missing.json().type, '/problems/not-found');
    const created = await newContact(api);
    assert.equal((await api.delete(created.uri)).statusCode, 204);
    assert.equal((await api.get(created.uri)).statusCode, 404);
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const api = await newApi();
    const response = await api.get(`${CONTACTS}/789`);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json().errors), ['id']);
  });

  it('answers 401 without a token and 403 without contacts.read', async () => {
    const api = await newApi();
    const created = await newContact(api);
    const anonymous = await t.app.inject({ method: 'GET', url: created.uri });
    assert.equal(anonymous.statusCode, 401);
    const org = await newOrganization(t.app, { scopes: ['companies.read'] });
    const response = await client(t.app, org).get(`${CONTACTS}/${randomUUID()}`);
    assert.equal(response.statusCode, 403);
  });

  it('finds a contact by external reference, the namespace case-insensitively and the id exactly', async () => {
    const api = await newApi();
    const created = await newContact(api, { externalRefs: [{ namespace: 'HubSpot', id: 'Ab12' }] });
    for (const namespace of ['hubspot', 'HUBSPOT']) {
      const response = await api.get(refPath(namespace, 'Ab12'));
      assert.equal(response.statusCode, 200, namespace);
      assertContactShape(response.json(), response);
      assert.equal(response.json().id, created.id);
    }
    const wrongCase = await api.get(refPath('hubspot', 'ab12'));
    assert.equal(wrongCase.statusCode, 404);
    assert.equal(wrongCase.json().type, '/problems/not-found');
  });

  it('finds ids with any character when they are URL-encoded in the path', async () => {
    const api = await newApi();
    for (const id of ['a/b c', '100%', 'x?y#z', 'åäö', 'a+b&c=d', 'a.b', ' lead ']) {
      const created = await newContact(api, { externalRefs: [{ namespace: 'crm', id }] });
      const response = await api.get(refPath('crm', id));
      assert.equal(response.statusCode, 200, id);
      assert.equal(response.json().id, created.id, id);
      assert.deepEqual(response.json().externalRefs, [{ namespace: 'crm', id }]);
    }
  });

  it('answers 404 by external reference once the contact is deleted', async () => {
    const api = await newApi();
    const created = await newContact(api, { externalRefs: [{ namespace: 'crm', id: 'del' }] });
    assert.equal((await api.delete(created.uri)).statusCode, 204);
    const response = await api.get(refPath('crm', 'del'));
    assert.equal(response.statusCode, 404);
  });
});
