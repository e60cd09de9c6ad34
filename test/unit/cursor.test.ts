import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeCursor, encodeCursor } from '../../src/http/cursor.js';

describe('cursors', () => {
  const secret = randomBytes(32);
  const org = randomUUID();
  const payload = { o: org, x: '123456', i: randomUUID(), s: null, d: false };

  it('round-trips the payload for the organization it was issued to', () => {
    const cursor = encodeCursor(payload, secret);
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeCursor(cursor, secret, org), payload);
  });

  it('is opaque: the payload cannot be read from the cursor', () => {
    const cursor = encodeCursor(payload, secret);
    const raw = Buffer.from(cursor, 'base64url').toString('latin1');
    assert.equal(raw.includes(org), false);
    assert.equal(raw.includes(payload.i), false);
    assert.equal(raw.includes('123456'), false);
    assert.notEqual(encodeCursor(payload, secret), cursor, 'a fresh IV each time');
  });

  it('rejects a cursor issued to another organization', () => {
    assert.equal(decodeCursor(encodeCursor(payload, secret), secret, randomUUID()), null);
  });

  it('rejects a cursor sealed with another secret', () => {
    assert.equal(decodeCursor(encodeCursor(payload, randomBytes(32)), secret, org), null);
  });

  it('rejects any altered byte', () => {
    const raw = Buffer.from(encodeCursor(payload, secret), 'base64url');
    for (let index = 0; index < raw.length; index += 1) {
      const altered = Buffer.from(raw);
      altered[index] = (altered[index] as number) ^ 0x01;
      assert.equal(decodeCursor(altered.toString('base64url'), secret, org), null, `byte ${index}`);
    }
  });

  it('rejects truncated, extended, malformed and empty cursors', () => {
    const cursor = encodeCursor(payload, secret);
    for (const bad of [cursor.slice(0, -4), `${cursor}AAAA`, 'not base64!', '', 'AAAA', `${cursor}=`]) {
      assert.equal(decodeCursor(bad, secret, org), null, bad);
    }
  });

  it('rejects a sealed payload that is not an object naming the organization', () => {
    for (const odd of [null, 42, 'text', [org]] as unknown[]) {
      const cursor = encodeCursor(odd as { o: string }, secret);
      assert.equal(decodeCursor(cursor, secret, org), null, JSON.stringify(odd));
    }
  });
});
