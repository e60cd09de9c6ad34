import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedAuthLimiter } from '../../src/http/auth-failures.js';

describe('FailedAuthLimiter', () => {
  it('blocks an address that reached its budget until its window ends', () => {
    const limiter = new FailedAuthLimiter(2);
    const start = 1_000_000;
    limiter.record('a', start);
    assert.equal(limiter.blockedFor('a', start), 0);
    limiter.record('a', start + 10);
    assert.equal(limiter.blockedFor('a', start + 20), 60);
    assert.equal(limiter.blockedFor('a', start + 59_500), 1);
    assert.equal(limiter.blockedFor('a', start + 60_000), 0);
    assert.equal(limiter.blockedFor('b', start + 20), 0);
  });
});
