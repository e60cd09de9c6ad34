import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { generateToken } from '../../../src/organizations/api-token.js';
import { ADMIN_TOKEN, createTestApp, type Response, request, type TestApp } from '../../helpers/app.js';
import { adminHeaders, newOrganization } from '../../helpers/factories.js';

const SETTINGS = '/api/v1/organization/settings';

/** The parts of a 401 that must not tell one failure from another. */
function anonymous(response: Response) {
  const { traceId, instance, ...rest } = response.json();
  assert.equal(traceId, response.headers['x-request-id']);
  assert.equal(instance, SETTINGS);
  return { status: response.statusCode, wwwAuthenticate: response.headers['www-authenticate'], body: rest };
}

describe('organization token authentication', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const readSettings = (headers: Record<string, string> = {}) =>
    request(t.app, { method: 'GET', url: SETTINGS, headers });

  it('answers 200 for a valid token, whatever the case of the scheme', async () => {
    const organization = await newOrganization(t.app);
    assert.equal((await readSettings(organization.headers)).statusCode, 200);
    assert.equal((await readSettings({ authorization: `bearer ${organization.token}` })).statusCode, 200);
  });

  it('answers a missing token with 401, WWW-Authenticate: Bearer and a problem+json body', async () => {
    const response = await readSettings();
    assert.equal(response.statusCode, 401);
    assert.match(String(response.headers['www-authenticate']), /^Bearer realm="api"/);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.json().type, '/problems/unauthorized');
  });

  it('answers missing, malformed, unknown, revoked and expired tokens identically', async () => {
    const revoked = await newOrganization(t.app);
    const tokenId = (
      await request(t.app, {
        method: 'GET',
        url: `/api/v1/admin/organizations/${revoked.id}/tokens`,
        headers: adminHeaders,
      })
    ).json().data[0].id;
    await request(t.app, {
      method: 'DELETE',
      url: `/api/v1/admin/organizations/${revoked.id}/tokens/${tokenId}`,
      headers: adminHeaders,
    });

    const expired = await newOrganization(t.app);
    await t.database.db
      .updateTable('api_tokens')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where('organization_id', '=', expired.id)
      .execute();

    const responses = {
      missing: await readSettings(),
      'another scheme': await readSettings({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }),
      'an empty bearer': await readSettings({ authorization: 'Bearer ' }),
      unknown: await readSettings({ authorization: `Bearer ${generateToken()}` }),
      'the admin token': await readSettings({ authorization: `Bearer ${ADMIN_TOKEN}` }),
      revoked: await readSettings(revoked.headers),
      expired: await readSettings(expired.headers),
    };
    const reference = anonymous(responses.missing);
    assert.equal(reference.status, 401);
    for (const [what, response] of Object.entries(responses)) {
      assert.deepEqual(anonymous(response), reference, what);
    }
  });

  it('accepts a token until its expiry and refuses it after', async () => {
    const organization = await newOrganization(t.app);
    const created = await request(t.app, {
      method: 'POST',
      url: `/api/v1/admin/organizations/${organization.id}/tokens`,
      headers: adminHeaders,
      payload: { expiresUtc: new Date(Date.now() + 3_600_000).toISOString() },
    });
    const headers = { authorization: `Bearer ${created.json().token}` };
    assert.equal((await readSettings(headers)).statusCode, 200);

    await t.database.db
      .updateTable('api_tokens')
      .set({ expires_at: sql<Date>`now()` })
      .where('organization_id', '=', organization.id)
      .where('id', '=', created.json().id)
      .execute();
    assert.equal((await readSettings(headers)).statusCode, 401);
  });

  it('answers 401 before looking at the body', async () => {
    const response = await request(t.app, {
      method: 'PATCH',
      url: SETTINGS,
      payload: { requireIfMatch: 'not a boolean' },
    });
    assert.equal(response.statusCode, 401);
  });

  it('answers 403 with the scope it needs when the token lacks it', async () => {
    const organization = await newOrganization(t.app, { scopes: ['contacts.read', 'contacts.write'] });
    const response = await request(t.app, {
      method: 'PATCH',
      url: SETTINGS,
      headers: organization.headers,
      payload: { requireIfMatch: true },
    });
    assert.equal(response.statusCode, 403);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.match(String(response.headers['www-authenticate']), /error="insufficient_scope"/);
    const body = response.json();
    assert.equal(body.type, '/problems/insufficient-scope');
    assert.equal(body.status, 403);
    assert.equal(body.requiredScope, 'settings.write');
    assert.match(body.detail, /settings\.write/);
  });

  it('answers 403 before looking at the body', async () => {
    const organization = await newOrganization(t.app);
    const response = await request(t.app, {
      method: 'PATCH',
      url: SETTINGS,
      headers: organization.headers,
      payload: { requireIfMatch: 'not a boolean' },
    });
    assert.equal(response.statusCode, 403);
  });
});
