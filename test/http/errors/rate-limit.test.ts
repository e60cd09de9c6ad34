import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { newOrganization, newToken } from '../../helpers/factories.js';

const SETTINGS = '/api/v1/organization/settings';

describe('rate limiting', () => {
  // Organizations are made on an unlimited app, so setup does not spend the budget under test.
  let setup: TestApp;
  let limited: TestApp;
  before(async () => {
    setup = await createTestApp();
    limited = await createTestApp({ RATE_LIMIT_PER_MINUTE: '3' });
  });
  after(async () => {
    await limited.close();
    await setup.close();
  });

  const readSettings = (headers: Record<string, string>) =>
    request(limited.app, { method: 'GET', url: SETTINGS, headers });

  it('announces the budget with RateLimit-Policy and what is left with RateLimit', async () => {
    const organization = await newOrganization(setup.app);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await readSettings(organization.headers);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['ratelimit-policy'], '"default";q=3;w=60');
      const [, left] = /^"default";r=(\d+);t=\d+$/.exec(String(response.headers.ratelimit)) ?? [];
      remaining.push(String(left));
    }
    assert.deepEqual(remaining, ['2', '1', '0']);
  });

  it('answers 429 problem+json with Retry-After once the budget is spent', async () => {
    const organization = await newOrganization(setup.app);
    for (let i = 0; i < 3; i += 1) assert.equal((await readSettings(organization.headers)).statusCode, 200);
    const response = await readSettings(organization.headers);
    assert.equal(response.statusCode, 429);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    // 3 a minute refill one every 20 s: the wait is for the next one, not for a whole window.
    const retryAfter = Number(response.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 20, `Retry-After ${retryAfter}`);
    assert.equal(response.headers.ratelimit, `"default";r=0;t=${retryAfter}`);
    const body = response.json();
    assert.equal(body.type, '/problems/rate-limited');
    assert.equal(body.status, 429);
    assert.equal(body.instance, SETTINGS);
    assert.equal(body.traceId, response.headers['x-request-id']);
  });

  it('gives every token its own budget, even tokens of one organization from one address', async () => {
    const organization = await newOrganization(setup.app);
    const second = { authorization: `Bearer ${await newToken(setup.app, organization.id)}` };
    const other = await newOrganization(setup.app);
    for (let i = 0; i < 3; i += 1) await readSettings(organization.headers);
    assert.equal((await readSettings(organization.headers)).statusCode, 429);

    for (const headers of [second, other.headers]) {
      const response = await readSettings(headers);
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers.ratelimit), /^"default";r=2;/);
    }
  });

  it('does not limit health probes', async () => {
    for (let i = 0; i < 5; i += 1) {
      const response = await request(limited.app, { method: 'GET', url: '/healthz' });
      assert.equal(response.statusCode, 200);
    }
  });

  it('is off with RATE_LIMIT_PER_MINUTE=0', async () => {
    const organization = await newOrganization(setup.app);
    for (let i = 0; i < 5; i += 1) {
      const response = await request(setup.app, { method: 'GET', url: SETTINGS, headers: organization.headers });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['ratelimit-policy'], undefined);
      assert.equal(response.headers.ratelimit, undefined);
    }
  });
});
