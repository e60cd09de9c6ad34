import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { adminHeaders, newOrganization } from '../../helpers/factories.js';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DEFAULT_SCOPES = ['contacts.read', 'contacts.write', 'companies.read', 'companies.write'];

describe('admin tokens', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const createToken = (orgId: string, payload: object = {}) =>
    request(t.app, {
      method: 'POST',
      url: `/api/v1/admin/organizations/${orgId}/tokens`,
      headers: adminHeaders,
      payload,
    });
  const listTokens = (orgId: string) =>
    request(t.app, { method: 'GET', url: `/api/v1/admin/organizations/${orgId}/tokens`, headers: adminHeaders });
  const revoke = (orgId: string, tokenId: string) =>
    request(t.app, {
      method: 'DELETE',
      url: `/api/v1/admin/organizations/${orgId}/tokens/${tokenId}`,
      headers: adminHeaders,
    });
  const readSettings = (token: string) =>
    request(t.app, {
      method: 'GET',
      url: '/api/v1/organization/settings',
      headers: { authorization: `Bearer ${token}` },
    });

  describe('POST /api/v1/admin/organizations/{orgId}/tokens', () => {
    it('answers 201 with a cst_ secret and the default scopes', async () => {
      const organization = await newOrganization(t.app);
      const response = await createToken(organization.id);
      assert.equal(response.statusCode, 201);
      const body = response.json();
      assert.deepEqual(Object.keys(body).sort(), [
        'createdUtc',
        'expiresUtc',
        'id',
        'name',
        'origin',
        'previousSecretExpiresUtc',
        'rotatedUtc',
        'scopes',
        'token',
      ]);
      assert.equal(body.rotatedUtc, null);
      assert.equal(body.previousSecretExpiresUtc, null);
      assert.match(body.id, /^[0-9a-f-]{36}$/);
      assert.match(body.token, /^cst_[A-Za-z0-9_-]{40,}$/);
      assert.equal(body.name, null);
      assert.deepEqual(body.scopes, DEFAULT_SCOPES);
      assert.match(body.createdUtc, ISO_UTC);
      assert.equal(body.expiresUtc, null);
      assert.equal((await readSettings(body.token)).statusCode, 200);
    });

    it('keeps the name, scopes and expiry it is given', async () => {
      const organization = await newOrganization(t.app);
      const expires = new Date(Date.now() + 86_400_000);
      const response = await createToken(organization.id, {
        name: 'HubSpot sync',
        scopes: ['contacts.read', 'settings.write'],
        expiresUtc: expires.toISOString().replace('Z', '+00:00'),
      });
      assert.equal(response.statusCode, 201);
      const body = response.json();
      assert.equal(body.name, 'HubSpot sync');
      assert.deepEqual(body.scopes, ['contacts.read', 'settings.write']);
      assert.equal(body.expiresUtc, expires.toISOString());
    });

    it('stores only a hash of the secret', async () => {
      const organization = await newOrganization(t.app);
      const { id, token } = (await createToken(organization.id)).json();
      const row = await t.database.db
        .selectFrom('api_tokens')
        .selectAll()
        .where('organization_id', '=', organization.id)
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(row.token_hash, createHash('sha256').update(token).digest());
      assert.ok(!JSON.stringify(row).includes(token.slice(4)));
    });

    it('answers 400 naming expiresUtc when it is in the past or not a date-time', async () => {
      const organization = await newOrganization(t.app);
      for (const expiresUtc of [new Date(Date.now() - 1000).toISOString(), 'tomorrow', '2030-13-01T00:00:00Z']) {
        const response = await createToken(organization.id, { expiresUtc });
        assert.equal(response.statusCode, 400, expiresUtc);
        assert.deepEqual(Object.keys(response.json().errors), ['expiresUtc'], expiresUtc);
      }
    });

    it('answers 400 for unknown, repeated or no scopes', async () => {
      const organization = await newOrganization(t.app);
      for (const scopes of [['contacts.delete'], ['contacts.read', 'contacts.read'], [], 'contacts.read']) {
        const response = await createToken(organization.id, { scopes });
        assert.equal(response.statusCode, 400, JSON.stringify(scopes));
        assert.ok(
          Object.keys(response.json().errors).every((field) => field.startsWith('scopes')),
          JSON.stringify(response.json().errors),
        );
      }
    });

    it('answers 400 for unknown fields instead of ignoring them', async () => {
      const organization = await newOrganization(t.app);
      const response = await createToken(organization.id, { name: 'x', admin: true });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json().errors, { admin: ['is not a known field'] });
    });

    it('answers 404 for an organization that does not exist', async () => {
      const response = await createToken(randomUUID());
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().type, '/problems/not-found');
    });
  });

  describe('GET /api/v1/admin/organizations/{orgId}/tokens', () => {
    it("lists the organization's tokens in creation order without their secrets", async () => {
      const organization = await newOrganization(t.app);
      const second = (await createToken(organization.id, { name: 'second' })).json();
      const response = await listTokens(organization.id);
      assert.equal(response.statusCode, 200);
      const { data } = response.json();
      assert.equal(data.length, 2);
      assert.equal(data[1].id, second.id);
      for (const token of data) {
        assert.deepEqual(Object.keys(token).sort(), [
          'createdUtc',
          'expiresUtc',
          'id',
          'name',
          'origin',
          'previousSecretExpiresUtc',
          'revokedUtc',
          'rotatedUtc',
          'scopes',
        ]);
        assert.equal(token.revokedUtc, null);
      }
      assert.ok(!response.body.includes(organization.token));
      assert.ok(!response.body.includes(second.token));
      assert.ok(!response.body.includes('cst_'));
    });

    it("never lists another organization's tokens", async () => {
      const mine = await newOrganization(t.app);
      const theirs = await newOrganization(t.app);
      const theirToken = (await createToken(theirs.id)).json();
      const ids = (await listTokens(mine.id)).json().data.map((token: { id: string }) => token.id);
      assert.equal(ids.length, 1);
      assert.ok(!ids.includes(theirToken.id));
    });

    it('answers 404 for an organization that does not exist', async () => {
      const response = await listTokens(randomUUID());
      assert.equal(response.statusCode, 404);
    });
  });

  describe('DELETE /api/v1/admin/organizations/{orgId}/tokens/{tokenId}', () => {
    it('answers 204 and the token stops working at once', async () => {
      const organization = await newOrganization(t.app);
      const created = (await createToken(organization.id)).json();
      assert.equal((await readSettings(created.token)).statusCode, 200);

      const response = await revoke(organization.id, created.id);
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, '');

      assert.equal((await readSettings(created.token)).statusCode, 401);
      assert.equal((await readSettings(organization.token)).statusCode, 200);
      const listed = (await listTokens(organization.id))
        .json()
        .data.find((token: { id: string }) => token.id === created.id);
      assert.match(listed.revokedUtc, ISO_UTC);
    });

    it('keeps the first revocation time when revoked again', async () => {
      const organization = await newOrganization(t.app);
      const created = (await createToken(organization.id)).json();
      await revoke(organization.id, created.id);
      const first = (await listTokens(organization.id)).json().data[1].revokedUtc;
      const again = await revoke(organization.id, created.id);
      assert.equal(again.statusCode, 204);
      assert.equal((await listTokens(organization.id)).json().data[1].revokedUtc, first);
    });

    it("answers 404 for another organization's token and leaves it working", async () => {
      const mine = await newOrganization(t.app);
      const theirs = await newOrganization(t.app);
      const theirToken = (await listTokens(theirs.id)).json().data[0];
      const response = await revoke(mine.id, theirToken.id);
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().type, '/problems/not-found');
      assert.equal((await readSettings(theirs.token)).statusCode, 200);
    });

    it('answers 404 for a token that does not exist and 400 for an id that is not a UUID', async () => {
      const organization = await newOrganization(t.app);
      assert.equal((await revoke(organization.id, randomUUID())).statusCode, 404);
      const malformed = await revoke(organization.id, 'nope');
      assert.equal(malformed.statusCode, 400);
      assert.deepEqual(Object.keys(malformed.json().errors), ['tokenId']);
    });
  });
});
