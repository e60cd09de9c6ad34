import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { bearerToken, generateToken, hashToken, sameSecret, TOKEN_PREFIX } from '../../src/organizations/api-token.js';

describe('generateToken', () => {
  it('starts every token with cst_ followed by 256 random bits in base64url', () => {
    const token = generateToken();
    assert.equal(TOKEN_PREFIX, 'cst_');
    assert.match(token, /^cst_[A-Za-z0-9_-]{43}$/);
  });

  it('never repeats a token', () => {
    const tokens = new Set(Array.from({ length: 100 }, generateToken));
    assert.equal(tokens.size, 100);
  });
});

describe('hashToken', () => {
  it('is the SHA-256 of the token text', () => {
    const hash = hashToken('cst_example');
    assert.equal(hash.length, 32);
    assert.deepEqual(hash, createHash('sha256').update('cst_example').digest());
  });

  it('differs for different tokens', () => {
    assert.notDeepEqual(hashToken('cst_a'), hashToken('cst_b'));
  });
});

describe('sameSecret', () => {
  it('tells equal secrets from different ones, whatever their lengths', () => {
    assert.equal(sameSecret('admin-secret-value', 'admin-secret-value'), true);
    assert.equal(sameSecret('admin-secret-value', 'admin-secret-valuf'), false);
    assert.equal(sameSecret('short', 'a much longer secret'), false);
  });
});

describe('bearerToken', () => {
  it('takes the token from "Bearer <token>"', () => {
    assert.equal(bearerToken('Bearer cst_abc'), 'cst_abc');
  });

  it('accepts the scheme in any case and extra blanks around the token', () => {
    assert.equal(bearerToken('bearer cst_abc'), 'cst_abc');
    assert.equal(bearerToken('BEARER \tcst_abc  '), 'cst_abc');
  });

  const refused: Array<[string, string | undefined]> = [
    ['no header', undefined],
    ['an empty header', ''],
    ['the scheme alone', 'Bearer'],
    ['the scheme and a blank', 'Bearer '],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a token without a scheme', 'cst_abc'],
    ['two tokens', 'Bearer cst_a cst_b'],
    ['no blank after the scheme', 'Bearercst_abc'],
  ];
  for (const [what, header] of refused) {
    it(`finds no token in ${what}`, () => {
      assert.equal(bearerToken(header), null);
    });
  }
});
