/**
 * Server processes cache authenticated tokens; revocations and settings changes must still take
 * effect on every process. Two apps with their own pools and caches stand in for two processes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { adminHeaders, newOrganization, newToken } from '../../helpers/factories.js';

const SETTINGS = '/api/v1/organization/settings';

/** Polls until `check` holds; returns how long it took, or fails after `timeoutMs`. */
async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) assert.fail(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('cached authentication across server processes', () => {
  let first: TestApp;
  let second: TestApp;
  before(async () => {
    first = await createTestApp({}, { authCache: true });
    second = await createTestApp({}, { authCache: true });
    // Let both listeners connect, so both caches are live.
    await new Promise((resolve) => setTimeout(resolve, 200));
  });
  after(async () => {
    await first.close();
    await second.close();
  });

  it('refuses a revoked token on the process that revoked it at once', async () => {
    const org = await newOrganization(first.app);
    assert.equal((await request(first.app, { method: 'GET', url: SETTINGS, headers: org.headers })).statusCode, 200);
    const tokens = await request(first.app, {
      method: 'GET',
      url: `/api/v1/admin/organizations/${org.id}/tokens`,
      headers: adminHeaders,
    });
    const tokenId = tokens.json().data[0].id;
    const revoked = await request(first.app, {
      method: 'DELETE',
      url: `/api/v1/admin/organizations/${org.id}/tokens/${tokenId}`,
      headers: adminHeaders,
    });
    assert.equal(revoked.statusCode, 204);
    assert.equal((await request(first.app, { method: 'GET', url: SETTINGS, headers: org.headers })).statusCode, 401);
  });

  it('refuses a revoked token on another process that had it cached, within moments', async () => {
    const org = await newOrganization(first.app);
    for (const app of [second.app, second.app]) {
      assert.equal((await request(app, { method: 'GET', url: SETTINGS, headers: org.headers })).statusCode, 200);
    }
    const tokens = await request(first.app, {
      method: 'GET',
      url: `/api/v1/admin/organizations/${org.id}/tokens`,
      headers: adminHeaders,
    });
    await request(first.app, {
      method: 'DELETE',
      url: `/api/v1/admin/organizations/${org.id}/tokens/${tokens.json().data[0].id}`,
      headers: adminHeaders,
    });
    const elapsed = await within(1_000, async () => {
      const response = await request(second.app, { method: 'GET', url: SETTINGS, headers: org.headers });
      return response.statusCode === 401;
    });
    assert.ok(elapsed < 1_000);
  });

  it('applies a settings change made on one process to requests on another', async () => {
    const org = await newOrganization(first.app, {
      scopes: ['contacts.read', 'contacts.write', 'settings.write'],
    });
    const created = await request(second.app, {
      method: 'POST',
      url: '/api/v1/network/contacts',
      headers: org.headers,
      payload: { firstName: 'Cached' },
    });
    assert.equal(created.statusCode, 201);
    const changed = await request(first.app, {
      method: 'PATCH',
      url: SETTINGS,
      headers: org.headers,
      payload: { requireIfMatch: true },
    });
    assert.equal(changed.statusCode, 200);
    await within(1_000, async () => {
      const response = await request(second.app, {
        method: 'PATCH',
        url: `/api/v1/network/contacts/${created.json().id}`,
        headers: org.headers,
        payload: { lastName: 'Guarded' },
      });
      return response.statusCode === 428;
    });
  });

  it('keeps serving other tokens from the cache after an unrelated revocation', async () => {
    const org = await newOrganization(first.app);
    const other = await newToken(first.app, org.id);
    const headers = { authorization: `Bearer ${other}` };
    assert.equal((await request(second.app, { method: 'GET', url: SETTINGS, headers })).statusCode, 200);
    const tokens = await request(first.app, {
      method: 'GET',
      url: `/api/v1/admin/organizations/${org.id}/tokens`,
      headers: adminHeaders,
    });
    const firstToken = tokens.json().data[0].id;
    await request(first.app, {
      method: 'DELETE',
      url: `/api/v1/admin/organizations/${org.id}/tokens/${firstToken}`,
      headers: adminHeaders,
    });
    assert.equal((await request(second.app, { method: 'GET', url: SETTINGS, headers })).statusCode, 200);
  });
});
