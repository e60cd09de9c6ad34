import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestApp, type Response, request, type TestApp } from '../../helpers/app.js';
import { CONTACTS } from '../../helpers/contacts.js';
import { adminHeaders, newOrganization } from '../../helpers/factories.js';

const SETTINGS = '/api/v1/organization/settings';

/** The RateLimit field's r and t, or null when the response has none. */
function serviceLimit(response: Response): { r: number; t: number } | null {
  const header = response.headers.ratelimit;
  if (header === undefined) return null;
  const match = /^"default";r=(\d+);t=(\d+)$/.exec(String(header));
  assert.ok(match, `RateLimit: ${String(header)}`);
  return { r: Number(match[1]), t: Number(match[2]) };
}

describe('rate limiting: a token bucket per token', () => {
  // Organizations are made on an unlimited app, so setup does not spend the budgets under test.
  let setup: TestApp;
  let three: TestApp;
  before(async () => {
    setup = await createTestApp();
    three = await createTestApp({ RATE_LIMIT_PER_MINUTE: '3' });
  });
  after(async () => {
    await three.close();
    await setup.close();
  });

  it('lets a token burst up to its budget, then answers 429 until the next token, with the draft headers', async () => {
    const organization = await newOrganization(setup.app);
    const read = () => request(three.app, { method: 'GET', url: SETTINGS, headers: organization.headers });
    for (const expected of [2, 1, 0]) {
      const response = await read();
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['ratelimit-policy'], '"default";q=3;w=60');
      const limit = serviceLimit(response);
      assert.equal(limit?.r, expected);
      // The next token is at most 20 s away (3 a minute).
      assert.ok(limit && limit.t >= 1 && limit.t <= 20, `t=${limit?.t}`);
    }

    const refused = await read();
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(refused.json().type, '/problems/rate-limited');
    assert.equal(refused.json().status, 429);
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 20, `Retry-After ${retryAfter}`);
    assert.deepEqual(serviceLimit(refused), { r: 0, t: retryAfter });
    assert.equal(refused.headers['ratelimit-policy'], '"default";q=3;w=60');
  });

  it('counts a batch as one request, whatever its number of items', async () => {
    const organization = await newOrganization(setup.app);
    const items = Array.from({ length: 5 }, (_, i) => ({
      ref: `row-${i}`,
      externalRef: { namespace: 'hubspot', id: `rate-${i}` },
      data: { firstName: `Batch ${i}` },
    }));
    const batch = await request(three.app, {
      method: 'POST',
      url: `${CONTACTS}/batch`,
      headers: organization.headers,
      payload: { items },
    });
    assert.equal(batch.statusCode, 200, batch.body);
    assert.equal(serviceLimit(batch)?.r, 2);
    const next = await request(three.app, { method: 'GET', url: SETTINGS, headers: organization.headers });
    assert.equal(serviceLimit(next)?.r, 1);
  });

  it('keys requests without an organization token by client address', async () => {
    const organization = await newOrganization(setup.app);
    const read = (remoteAddress: string) =>
      request(three.app, {
        method: 'GET',
        url: `/api/v1/admin/organizations/${organization.id}`,
        headers: adminHeaders,
        remoteAddress,
      });
    for (let i = 0; i < 3; i += 1) assert.equal((await read('10.20.30.1')).statusCode, 200);
    assert.equal((await read('10.20.30.1')).statusCode, 429);
    const other = await read('10.20.30.2');
    assert.equal(other.statusCode, 200);
    assert.equal(serviceLimit(other)?.r, 2);
  });
});

describe('rate limiting: refill', () => {
  let setup: TestApp;
  let limited: TestApp;
  before(async () => {
    setup = await createTestApp();
    // Two tokens a second, so that a refused client waits one second.
    limited = await createTestApp({ RATE_LIMIT_PER_MINUTE: '120' });
  });
  after(async () => {
    await limited.close();
    await setup.close();
  });

  it('serves the next request once Retry-After seconds have passed', async () => {
    const organization = await newOrganization(setup.app);
    const read = () => request(limited.app, { method: 'GET', url: SETTINGS, headers: organization.headers });
    let refused: Response | undefined;
    // The bucket refills while it is being emptied, so spend until refused rather than exactly 120.
    for (let i = 0; i < 1000 && refused === undefined; i += 1) {
      const response = await read();
      if (response.statusCode === 429) refused = response;
      else assert.equal(response.statusCode, 200);
    }
    assert.ok(refused, 'the budget was never exhausted');
    assert.equal(refused.headers['retry-after'], '1');
    // Waiting what Retry-After says (plus a margin for timer granularity) must be enough.
    await sleep(1000 + 50);
    const served = await read();
    assert.equal(served.statusCode, 200, served.body);
  });
});
