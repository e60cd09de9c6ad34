import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizePhone } from '../../src/contacts/phone.js';

describe('normalizePhone', () => {
  it('reads a national number with the default region as E.164', () => {
    assert.equal(normalizePhone('070-123 45 67', 'SE'), '+46701234567');
    assert.equal(normalizePhone('08-765 43 21', 'SE'), '+4687654321');
    assert.equal(normalizePhone('(212) 555-0123', 'US'), '+12125550123');
  });

  it('normalizes international numbers whatever the region', () => {
    assert.equal(normalizePhone('+46 70 123 45 67', null), '+46701234567');
    assert.equal(normalizePhone('+46701234567', 'US'), '+46701234567');
    assert.equal(normalizePhone(' +44 20 7946 0958 ', 'SE'), '+442079460958');
  });

  it('keeps a national number as given (trimmed) when there is no region', () => {
    assert.equal(normalizePhone(' 070-123 45 67 ', null), '070-123 45 67');
  });

  it('keeps numbers that parse but are not valid, trimmed', () => {
    assert.equal(normalizePhone(' +1 555 555 5555 ', null), '+1 555 555 5555');
    assert.equal(normalizePhone('0701', 'SE'), '0701');
  });

  it('keeps what cannot be parsed at all, trimmed', () => {
    assert.equal(normalizePhone('12', 'SE'), '12');
    assert.equal(normalizePhone('  call me  ', 'SE'), 'call me');
    assert.equal(normalizePhone('   ', 'SE'), '');
  });
});
