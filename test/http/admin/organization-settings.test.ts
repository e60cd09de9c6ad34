import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { adminHeaders, newOrganization, newToken } from '../../helpers/factories.js';

describe('organization settings with an organization token', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const readSettings = (headers: Record<string, string>) =>
    request(t.app, { method: 'GET', url: '/api/v1/organization/settings', headers });
  const patchSettings = (headers: Record<string, string>, payload: unknown) =>
    request(t.app, { method: 'PATCH', url: '/api/v1/organization/settings', headers, payload: payload as object });
  const adminGet = (orgId: string) =>
    request(t.app, { method: 'GET', url: `/api/v1/admin/organizations/${orgId}`, headers: adminHeaders });

  it("answers GET with the token's own organization settings, whatever its scopes", async () => {
    const organization = await newOrganization(t.app, {
      settings: { defaultPhoneRegion: 'gb', requireIfMatch: true },
      scopes: ['contacts.read'],
    });
    await newOrganization(t.app, { settings: { defaultPhoneRegion: 'US' } });
    const response = await readSettings(organization.headers);
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      defaultPhoneRegion: 'GB',
      duplicateContactMatching: { fields: ['email', 'phone'] },
      requireIfMatch: true,
    });
  });

  it('answers PATCH with 403 for a token with the default scopes', async () => {
    const organization = await newOrganization(t.app);
    const response = await patchSettings(organization.headers, { requireIfMatch: true });
    assert.equal(response.statusCode, 403);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.json().type, '/problems/insufficient-scope');
    assert.equal((await readSettings(organization.headers)).json().requireIfMatch, false);
  });

  it('changes only the settings present for a token with settings.write', async () => {
    const organization = await newOrganization(t.app, {
      settings: { defaultPhoneRegion: 'SE' },
      scopes: ['settings.write'],
    });
    const response = await patchSettings(organization.headers, {
      requireIfMatch: true,
      duplicateContactMatching: { fields: ['phone'] },
    });
    assert.equal(response.statusCode, 200);
    const expected = {
      defaultPhoneRegion: 'SE',
      duplicateContactMatching: { fields: ['phone'] },
      requireIfMatch: true,
    };
    assert.deepEqual(response.json(), expected);
    assert.deepEqual((await readSettings(organization.headers)).json(), expected);
    assert.deepEqual((await adminGet(organization.id)).json().settings, expected);
  });

  it('takes effect for the other tokens of the organization at once', async () => {
    const organization = await newOrganization(t.app, { scopes: ['settings.write'] });
    const other = await newToken(t.app, organization.id);
    await patchSettings(organization.headers, { defaultPhoneRegion: 'fi' });
    const response = await readSettings({ authorization: `Bearer ${other}` });
    assert.equal(response.json().defaultPhoneRegion, 'FI');
  });

  it('leaves updatedUtc unchanged when the patch changes nothing', async () => {
    const organization = await newOrganization(t.app, {
      settings: { defaultPhoneRegion: 'DK' },
      scopes: ['settings.write'],
    });
    await t.database.db
      .updateTable('organizations')
      .set({ updated_at: sql<Date>`'2000-01-01T00:00:00Z'::timestamptz` })
      .where('id', '=', organization.id)
      .execute();
    const response = await patchSettings(organization.headers, { defaultPhoneRegion: 'dk', requireIfMatch: false });
    assert.equal(response.statusCode, 200);
    assert.equal((await adminGet(organization.id)).json().updatedUtc, '2000-01-01T00:00:00.000Z');

    await patchSettings(organization.headers, { requireIfMatch: true });
    assert.notEqual((await adminGet(organization.id)).json().updatedUtc, '2000-01-01T00:00:00.000Z');
  });

  it('answers 400 naming the field for an unknown region', async () => {
    const organization = await newOrganization(t.app, { scopes: ['settings.write'] });
    const response = await patchSettings(organization.headers, { defaultPhoneRegion: 'QQ' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json().errors), ['defaultPhoneRegion']);
  });

  it('answers 400 for unknown fields and values of the wrong type', async () => {
    const organization = await newOrganization(t.app, { scopes: ['settings.write'] });
    const response = await patchSettings(organization.headers, { requireIfMatch: 'true', timezone: 'UTC' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json().errors, {
      requireIfMatch: ['must be boolean'],
      timezone: ['is not a known field'],
    });
    assert.equal((await readSettings(organization.headers)).json().requireIfMatch, false);
  });
});
