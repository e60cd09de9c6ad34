import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthCache, type CachedToken, EXPIRING_ENTRY_TTL_MS } from '../../src/http/auth-cache.js';

const token = (expiresAt: Date | null = null): CachedToken => ({
  organizationId: 'org',
  tokenId: 'token',
  scopes: ['contacts.read'],
  settings: { defaultPhoneRegion: null, duplicateContactMatching: { fields: ['email'] }, requireIfMatch: false },
  expiresAt,
  origin: null,
});

describe('AuthCache', () => {
  it('serves nothing while its invalidation channel is down', () => {
    const cache = new AuthCache();
    cache.set('k', token(), cache.ticket());
    assert.equal(cache.get('k'), undefined);
  });

  it('serves a stored token while live and forgets everything when the channel drops', () => {
    const cache = new AuthCache();
    cache.setLive(true);
    cache.set('k', token(), cache.ticket());
    assert.equal(cache.get('k')?.tokenId, 'token');
    cache.setLive(false);
    cache.setLive(true);
    assert.equal(cache.get('k'), undefined);
  });

  it('never serves a token past its expiry', () => {
    const cache = new AuthCache();
    cache.setLive(true);
    cache.set('k', token(new Date(Date.now() - 1)), cache.ticket());
    assert.equal(cache.get('k'), undefined);
  });

  it('does not store a lookup that started before an invalidation', () => {
    const cache = new AuthCache();
    cache.setLive(true);
    const ticket = cache.ticket();
    cache.clear();
    cache.set('k', token(), ticket);
    assert.equal(cache.get('k'), undefined);
    cache.set('k', token(), cache.ticket());
    assert.equal(cache.get('k')?.tokenId, 'token');
  });

  it("forgets one organization's tokens on its invalidation, and keeps the others'", () => {
    const cache = new AuthCache();
    cache.setLive(true);
    cache.set('a', token(), cache.ticket());
    cache.set('b', { ...token(), organizationId: 'other' }, cache.ticket());
    cache.invalidate('org');
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('b')?.organizationId, 'other');
    cache.invalidate(undefined);
    assert.equal(cache.get('b'), undefined);
  });

  it('without a listener (expiry), serves at once and forgets an entry within seconds', (context) => {
    context.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const cache = new AuthCache({ invalidation: 'expiry' });
    cache.set('k', token(), cache.ticket());
    assert.equal(cache.get('k')?.tokenId, 'token');
    context.mock.timers.tick(EXPIRING_ENTRY_TTL_MS - 1);
    assert.equal(cache.get('k')?.tokenId, 'token');
    context.mock.timers.tick(1);
    assert.equal(cache.get('k'), undefined);
    assert.ok(EXPIRING_ENTRY_TTL_MS <= 10_000, 'a revocation must take effect within seconds');
  });

  it('forgets everything on clear', () => {
    const cache = new AuthCache();
    cache.setLive(true);
    cache.set('a', token(), cache.ticket());
    cache.set('b', token(), cache.ticket());
    cache.clear();
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('b'), undefined);
  });
});
