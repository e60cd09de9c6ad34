import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { adminHeaders, newOrganization } from '../../helpers/factories.js';

describe('request validation', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const postOrganization = (payload: unknown) =>
    request(t.app, {
      method: 'POST',
      url: '/api/v1/admin/organizations',
      headers: { ...adminHeaders, 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });

  it('answers 400 for a number where a string is expected instead of storing its text', async () => {
    const name = randomInt(1e9, 2e9);
    const response = await postOrganization({ name });
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.json().type, '/problems/validation-failed');
    assert.deepEqual(response.json().errors, { name: ['must be string'] });
    const stored = await t.database.db
      .selectFrom('organizations')
      .select('id')
      .where('name', '=', String(name))
      .execute();
    assert.deepEqual(stored, []);
  });

  it('coerces no type in a body', async () => {
    for (const [payload, field] of [
      [{ name: true }, 'name'],
      [{ name: ['Acme'] }, 'name'],
      [{ name: null }, 'name'],
      [{ name: 'Acme', settings: { requireIfMatch: 'true' } }, 'settings.requireIfMatch'],
      [{ name: 'Acme', settings: { requireIfMatch: 1 } }, 'settings.requireIfMatch'],
      [
        { name: 'Acme', settings: { duplicateContactMatching: { fields: 'email' } } },
        'settings.duplicateContactMatching.fields',
      ],
    ] as const) {
      const response = await postOrganization(payload);
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.deepEqual(Object.keys(response.json().errors), [field], JSON.stringify(payload));
    }
  });

  it('answers 400 naming unknown fields at any depth instead of dropping them', async () => {
    const response = await postOrganization({
      name: 'Acme',
      id: '00000000-0000-0000-0000-000000000000',
      settings: { requireIfMatch: true, secret: 1 },
    });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json().errors, {
      id: ['is not a known field'],
      'settings.secret': ['is not a known field'],
    });
    assert.match(response.json().detail, /2 fields are invalid: .*id.*settings\.secret|settings\.secret.*id/);
  });

  it('lists every failing field with array positions written as field[index]', async () => {
    const response = await postOrganization({
      name: 'x'.repeat(201),
      settings: {
        defaultPhoneRegion: 'Sweden',
        duplicateContactMatching: { fields: ['email', 'fax'] },
        requireIfMatch: null,
      },
    });
    assert.equal(response.statusCode, 400);
    const errors = response.json().errors;
    assert.deepEqual(Object.keys(errors).sort(), [
      'name',
      'settings.defaultPhoneRegion',
      'settings.duplicateContactMatching.fields[1]',
      'settings.requireIfMatch',
    ]);
    for (const messages of Object.values(errors)) {
      assert.ok(Array.isArray(messages) && messages.length > 0 && messages.every((m) => typeof m === 'string'));
    }
  });

  it('answers 400 naming the body when it is not an object', async () => {
    for (const payload of [[{ name: 'Acme' }], 'Acme', 42, null]) {
      const response = await postOrganization(payload);
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.deepEqual(Object.keys(response.json().errors), ['body'], JSON.stringify(payload));
    }
  });

  it('validates path parameters and names them', async () => {
    const organization = await newOrganization(t.app);
    const response = await request(t.app, {
      method: 'DELETE',
      url: `/api/v1/admin/organizations/${organization.id}/tokens/12345`,
      headers: adminHeaders,
    });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json().errors), ['tokenId']);
  });
});
