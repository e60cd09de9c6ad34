import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { client } from '../../helpers/contacts.js';
import { newToken } from '../../helpers/factories.js';
import { CONTACT_FIELDS, createField, fieldPath, fieldsOrganization, TIER_OPTIONS } from './helpers.js';

describe('custom fields: any token reads them, settings.write changes them', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('answers 403 insufficient-scope to changes without settings.write, and reads for any token', async () => {
    const { org, api: admin } = await fieldsOrganization(t.app);
    const field = await createField(admin, {
      key: 'tier',
      label: 'Tier',
      type: 'single_select',
      options: TIER_OPTIONS,
    });
    for (const scopes of [undefined, ['contacts.read'], ['webhooks.read', 'webhooks.write']]) {
      const token = await newToken(t.app, org.id, scopes);
      const sync = client(t.app, { ...org, token, headers: { authorization: `Bearer ${token}` } });
      const writes = [
        () => sync.post(CONTACT_FIELDS, { key: 'budget', label: 'Budget', type: 'number' }),
        () => sync.patch(fieldPath('tier'), { label: 'Changed' }),
        () => sync.patch(fieldPath('missing'), { label: 'Changed' }),
        () => sync.delete(fieldPath('tier')),
      ];
      for (const write of writes) {
        const response = await write();
        assert.equal(response.statusCode, 403, `${JSON.stringify(scopes)}: ${response.body}`);
        assert.equal(response.json().type, '/problems/insufficient-scope');
        assert.equal(response.json().requiredScope, 'settings.write');
      }
      const list = await sync.get(CONTACT_FIELDS);
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(list.json(), { data: [field] });
      const read = await sync.get(fieldPath('tier'));
      assert.equal(read.statusCode, 200, read.body);
      assert.deepEqual(read.json(), field);
    }
    assert.deepEqual((await admin.get(CONTACT_FIELDS)).json(), { data: [field] });
  });

  it('lets a token with settings.write alone manage and read fields', async () => {
    const { api } = await fieldsOrganization(t.app, { scopes: ['settings.write'] });
    await createField(api, { key: 'budget', label: 'Budget', type: 'number' });
    assert.equal((await api.patch(fieldPath('budget'), { archived: true })).statusCode, 200);
    assert.equal((await api.get(CONTACT_FIELDS)).json().data.length, 1);
    assert.equal((await api.delete(fieldPath('budget'))).statusCode, 204);
  });

  it('answers 401 without a valid token', async () => {
    for (const [method, url] of [
      ['GET', CONTACT_FIELDS],
      ['GET', fieldPath('tier')],
      ['POST', CONTACT_FIELDS],
      ['PATCH', fieldPath('tier')],
      ['DELETE', fieldPath('tier')],
    ] as const) {
      const response = await request(t.app, { method, url, headers: { authorization: 'Bearer cst_nope' } });
      assert.equal(response.statusCode, 401, `${method} ${url}`);
      assert.equal(response.json().type, '/problems/unauthorized');
    }
  });
});
