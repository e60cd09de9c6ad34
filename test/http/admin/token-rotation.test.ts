import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { adminHeaders, newOrganization, type TestOrganization } from '../../helpers/factories.js';

const SETTINGS = '/api/v1/organization/settings';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds, or fails after `timeoutMs`. */
async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`not true within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * Rotation through the admin API, on apps with a token cache kept coherent by LISTEN/NOTIFY as
 * server.ts wires it (two of them stand in for two server processes), and on one without a cache.
 */
describe('POST /api/v1/admin/organizations/{orgId}/tokens/{tokenId}/rotate', () => {
  let t: TestApp;
  let other: TestApp;
  let uncached: TestApp;
  before(async () => {
    t = await createTestApp({}, { authCache: true });
    other = await createTestApp({}, { authCache: true });
    uncached = await createTestApp();
  });
  after(async () => {
    await t.close();
    await other.close();
    await uncached.close();
  });

  const rotate = (
    orgId: string,
    tokenId: string,
    payload: unknown = {},
    headers: Record<string, string> = {},
    app = t.app,
  ) =>
    request(app, {
      method: 'POST',
      url: `/api/v1/admin/organizations/${orgId}/tokens/${tokenId}/rotate`,
      headers: { ...adminHeaders, ...headers },
      payload: payload as object,
    });
  const tokens = async (orgId: string) =>
    (
      await request(t.app, { method: 'GET', url: `/api/v1/admin/organizations/${orgId}/tokens`, headers: adminHeaders })
    ).json().data as Array<Record<string, unknown> & { id: string }>;
  const tokenIdOf = async (org: TestOrganization) => ((await tokens(org.id))[0] as { id: string }).id;
  const status = async (secret: string, app = t.app) =>
    (await request(app, { method: 'GET', url: SETTINGS, headers: { authorization: `Bearer ${secret}` } })).statusCode;

  it('answers 200 with a new secret that works while the old one stops at once (no grace by default)', async () => {
    const org = await newOrganization(t.app);
    const tokenId = await tokenIdOf(org);
    const before = (await tokens(org.id))[0] as Record<string, unknown>;
    // Cached on this process and on the other one before the rotation.
    assert.equal(await status(org.token), 200);
    assert.equal(await status(org.token, other.app), 200);

    const response = await rotate(org.id, tokenId);
    assert.equal(response.statusCode, 200);
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
    assert.equal(body.id, tokenId);
    assert.match(body.token, /^cst_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(body.token, org.token);
    assert.match(body.rotatedUtc, ISO_UTC);
    assert.equal(body.previousSecretExpiresUtc, null);
    for (const kept of ['name', 'scopes', 'createdUtc', 'expiresUtc', 'origin']) {
      assert.deepEqual(body[kept], before[kept], kept);
    }

    assert.equal(await status(org.token), 401);
    assert.equal(await status(org.token, uncached.app), 401);
    await within(1_000, async () => (await status(org.token, other.app)) === 401);
    assert.equal(await status(body.token), 200);
    assert.equal(await status(body.token, other.app), 200);

    const listed = (await tokens(org.id))[0] as Record<string, unknown>;
    assert.equal(listed.rotatedUtc, body.rotatedUtc);
    assert.equal(listed.revokedUtc, null);
    assert.ok(!JSON.stringify(listed).includes(body.token));
  });

  it('keeps the old secret working for graceSeconds, and not a moment longer, on every process', async () => {
    const org = await newOrganization(t.app);
    const graceSeconds = 3;
    const response = await rotate(org.id, await tokenIdOf(org), { graceSeconds });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    const graceEnd = Date.parse(body.previousSecretExpiresUtc);
    assert.equal(graceEnd - Date.parse(body.rotatedUtc), graceSeconds * 1000);

    // Within the grace: both secrets work everywhere, and the caches now hold the old one.
    for (const app of [t.app, other.app, uncached.app]) {
      assert.equal(await status(org.token, app), 200);
      assert.equal(await status(body.token, app), 200);
    }
    assert.ok(Date.now() < graceEnd, 'the machine took the whole grace period to get here');

    await sleep(Math.max(0, graceEnd - Date.now()) + 50);
    for (const app of [t.app, other.app, uncached.app]) {
      assert.equal(await status(org.token, app), 401);
      assert.equal(await status(body.token, app), 200);
    }
  });

  it('ends the grace of an earlier rotation at once when the token is rotated again', async () => {
    const org = await newOrganization(t.app);
    const tokenId = await tokenIdOf(org);
    const first = (await rotate(org.id, tokenId, { graceSeconds: 3600 })).json();
    assert.equal(await status(org.token, other.app), 200);
    const second = (await rotate(org.id, tokenId, { graceSeconds: 3600 })).json();
    assert.equal(await status(org.token), 401);
    await within(1_000, async () => (await status(org.token, other.app)) === 401);
    assert.equal(await status(first.token), 200);
    assert.equal(await status(second.token), 200);
    assert.ok(Date.parse(second.previousSecretExpiresUtc) > Date.parse(first.previousSecretExpiresUtc) - 1);
  });

  it("ends the grace with the token's own expiry when that comes first, cached or not", async () => {
    const org = await newOrganization(t.app);
    const expiresUtc = new Date(Date.now() + 2_500).toISOString();
    const created = await request(t.app, {
      method: 'POST',
      url: `/api/v1/admin/organizations/${org.id}/tokens`,
      headers: adminHeaders,
      payload: { expiresUtc },
    });
    assert.equal(created.statusCode, 201);
    const body = (await rotate(org.id, created.json().id, { graceSeconds: 3600 })).json();
    assert.equal(body.expiresUtc, expiresUtc);
    // Both secrets now cached on both processes, the old one with the token's expiry as its end.
    for (const app of [t.app, other.app]) {
      assert.equal(await status(created.json().token, app), 200);
      assert.equal(await status(body.token, app), 200);
    }
    await sleep(Math.max(0, Date.parse(expiresUtc) - Date.now()) + 50);
    for (const app of [t.app, other.app, uncached.app]) {
      assert.equal(await status(created.json().token, app), 401);
      assert.equal(await status(body.token, app), 401);
    }
  });

  it('stops both the new secret and the old one in its grace when the token is revoked', async () => {
    const org = await newOrganization(t.app);
    const tokenId = await tokenIdOf(org);
    const body = (await rotate(org.id, tokenId, { graceSeconds: 3600 })).json();
    assert.equal(await status(org.token, other.app), 200);
    const revoked = await request(t.app, {
      method: 'DELETE',
      url: `/api/v1/admin/organizations/${org.id}/tokens/${tokenId}`,
      headers: adminHeaders,
    });
    assert.equal(revoked.statusCode, 204);
    assert.equal(await status(org.token), 401);
    assert.equal(await status(body.token), 401);
    await within(1_000, async () => (await status(org.token, other.app)) === 401);
  });

  it('answers a retry with the same Idempotency-Key with the first answer and rotates once', async () => {
    const org = await newOrganization(t.app);
    const tokenId = await tokenIdOf(org);
    const key = randomUUID();
    const first = await rotate(org.id, tokenId, { graceSeconds: 60 }, { 'idempotency-key': key });
    assert.equal(first.statusCode, 200);
    const again = await rotate(org.id, tokenId, { graceSeconds: 60 }, { 'idempotency-key': key });
    assert.equal(again.statusCode, 200);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(again.json(), first.json());
    // Rotated once: the original secret is still the one in its grace.
    assert.equal(await status(org.token), 200);
    assert.equal(await status(first.json().token), 200);
    const reused = await rotate(org.id, tokenId, { graceSeconds: 0 }, { 'idempotency-key': key });
    assert.equal(reused.statusCode, 422);
    assert.equal(reused.json().type, '/problems/idempotency-key-reused');
  });

  it('forgets the old secret on the rotating process when an idempotent rotation commits', async () => {
    const org = await newOrganization(t.app);
    assert.equal(await status(org.token), 200);
    const response = await rotate(org.id, await tokenIdOf(org), {}, { 'idempotency-key': randomUUID() });
    assert.equal(response.statusCode, 200);
    assert.equal(await status(org.token), 401);
    assert.equal(await status(response.json().token), 200);
  });

  it('answers 404 for a revoked token, an expired one and one that does not exist', async () => {
    const org = await newOrganization(t.app);
    const tokenId = await tokenIdOf(org);
    await request(t.app, {
      method: 'DELETE',
      url: `/api/v1/admin/organizations/${org.id}/tokens/${tokenId}`,
      headers: adminHeaders,
    });
    const revoked = await rotate(org.id, tokenId);
    assert.equal(revoked.statusCode, 404);
    assert.equal(revoked.json().type, '/problems/not-found');
    assert.match(revoked.json().detail, /revoked/);

    const expiring = await newOrganization(t.app);
    const expiringId = await tokenIdOf(expiring);
    await t.database.db
      .updateTable('api_tokens')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where('organization_id', '=', expiring.id)
      .where('id', '=', expiringId)
      .execute();
    const expired = await rotate(expiring.id, expiringId);
    assert.equal(expired.statusCode, 404);
    assert.match(expired.json().detail, /expired/);

    for (const [orgId, id] of [
      [org.id, randomUUID()],
      [randomUUID(), tokenId],
    ] as const) {
      const missing = await rotate(orgId, id);
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().type, '/problems/not-found');
    }
  });

  it("answers 404 for another organization's token and leaves it working", async () => {
    const mine = await newOrganization(t.app);
    const theirs = await newOrganization(t.app);
    const response = await rotate(mine.id, await tokenIdOf(theirs));
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().type, '/problems/not-found');
    assert.ok(!response.body.includes('cst_'));
    assert.equal(await status(theirs.token), 200);
    assert.equal((await tokens(theirs.id))[0]?.rotatedUtc, null);
  });

  it('answers 400 naming graceSeconds for a grace that is not 0 to 604800 whole seconds', async () => {
    const org = await newOrganization(t.app);
    const tokenId = await tokenIdOf(org);
    for (const graceSeconds of [-1, 604_801, 1.5, '60', null, true]) {
      const response = await rotate(org.id, tokenId, { graceSeconds });
      assert.equal(response.statusCode, 400, JSON.stringify(graceSeconds));
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.deepEqual(Object.keys(response.json().errors), ['graceSeconds'], JSON.stringify(graceSeconds));
    }
    const unknown = await rotate(org.id, tokenId, { grace: 60 });
    assert.equal(unknown.statusCode, 400);
    assert.deepEqual(unknown.json().errors, { grace: ['is not a known field'] });
    // None of these rotated anything.
    assert.equal(await status(org.token), 200);
    assert.equal((await rotate(org.id, tokenId, { graceSeconds: 604_800 })).statusCode, 200);
  });

  it('answers 400 naming the parameter for ids that are not UUIDs', async () => {
    const org = await newOrganization(t.app);
    const badToken = await rotate(org.id, 'nope');
    assert.equal(badToken.statusCode, 400);
    assert.deepEqual(Object.keys(badToken.json().errors), ['tokenId']);
    const badOrg = await rotate('nope', await tokenIdOf(org));
    assert.equal(badOrg.statusCode, 400);
    assert.deepEqual(Object.keys(badOrg.json().errors), ['orgId']);
  });

  it('answers 401 to an organization token, even for its own token', async () => {
    const org = await newOrganization(t.app);
    const response = await request(t.app, {
      method: 'POST',
      url: `/api/v1/admin/organizations/${org.id}/tokens/${await tokenIdOf(org)}/rotate`,
      headers: org.headers,
      payload: {},
    });
    assert.equal(response.statusCode, 401);
    assert.equal(await status(org.token), 200);
  });
});
