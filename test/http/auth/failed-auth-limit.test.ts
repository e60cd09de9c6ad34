import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { newOrganization } from '../../helpers/factories.js';

const SETTINGS = '/api/v1/organization/settings';
const wrong = { authorization: 'Bearer cst_not-a-real-token' };

describe('failed authentications are rate limited per address', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ RATE_LIMIT_PER_MINUTE: '3' }, { authCache: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
  });
  after(() => t.close());

  it('answers 429 with Retry-After once an address used up its failures, and still serves known tokens', async () => {
    const org = await newOrganization(t.app);
    const known = await request(t.app, {
      method: 'GET',
      url: SETTINGS,
      headers: org.headers,
      remoteAddress: '10.9.8.7',
    });
    assert.equal(known.statusCode, 200);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await request(t.app, {
        method: 'GET',
        url: SETTINGS,
        headers: wrong,
        remoteAddress: '10.9.8.7',
      });
      assert.equal(response.statusCode, 401);
    }
    const blocked = await request(t.app, { method: 'GET', url: SETTINGS, headers: wrong, remoteAddress: '10.9.8.7' });
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(blocked.json().type, '/problems/rate-limited');
    assert.ok(Number(blocked.headers['retry-after']) > 0);

    const stillKnown = await request(t.app, {
      method: 'GET',
      url: SETTINGS,
      headers: org.headers,
      remoteAddress: '10.9.8.7',
    });
    assert.equal(stillKnown.statusCode, 200, 'a token this server already knows is not held back');
    const otherAddress = await request(t.app, {
      method: 'GET',
      url: SETTINGS,
      headers: wrong,
      remoteAddress: '10.9.8.8',
    });
    assert.equal(otherAddress.statusCode, 401, 'other addresses keep their own budget');
  });
});
