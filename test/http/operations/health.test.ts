import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';

describe('health', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('answers /healthz without authentication', async () => {
    const response = await request(t.app, { method: 'GET', url: '/healthz' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ok' });
  });

  it('answers /readyz when the database is reachable', async () => {
    const response = await request(t.app, { method: 'GET', url: '/readyz' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ready' });
  });

  it('echoes a client X-Request-Id and makes one up otherwise', async () => {
    const echoed = await request(t.app, { method: 'GET', url: '/healthz', headers: { 'x-request-id': 'sync-run-42' } });
    assert.equal(echoed.headers['x-request-id'], 'sync-run-42');
    const generated = await request(t.app, { method: 'GET', url: '/healthz' });
    assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('replaces an X-Request-Id it cannot safely echo', async () => {
    for (const given of ['has spaces', '<script>', 'x'.repeat(129)]) {
      const response = await request(t.app, { method: 'GET', url: '/healthz', headers: { 'x-request-id': given } });
      assert.match(String(response.headers['x-request-id']), /^[0-9a-f-]{36}$/, given);
    }
  });

  it('uses the request id as the traceId of a problem', async () => {
    const response = await request(t.app, {
      method: 'GET',
      url: '/nowhere',
      headers: { 'x-request-id': 'trace-me-1' },
    });
    assert.equal(response.json().traceId, 'trace-me-1');
  });
});
