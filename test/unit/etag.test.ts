import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { etagMatches, parseEntityTags, weakEtag } from '../../src/http/etag.js';

describe('weakEtag', () => {
  it('is a weak, quoted tag that depends only on its parts', () => {
    const tag = weakEtag('id-1', 3);
    assert.match(tag, /^W\/"[A-Za-z0-9_-]{22}"$/);
    assert.equal(weakEtag('id-1', 3), tag);
    assert.notEqual(weakEtag('id-1', 4), tag);
    assert.notEqual(weakEtag('id-2', 3), tag);
  });

  it('keeps part boundaries: ("a", "bc") and ("ab", "c") differ', () => {
    assert.notEqual(weakEtag('a', 'bc'), weakEtag('ab', 'c'));
    assert.notEqual(weakEtag('company', 'x', 1), weakEtag('x', 1));
  });
});

describe('parseEntityTags', () => {
  it('reads the wildcard', () => {
    assert.deepEqual(parseEntityTags('*'), ['*']);
    assert.deepEqual(parseEntityTags('  *  '), ['*']);
  });

  it('reads one tag, weak or strong', () => {
    assert.deepEqual(parseEntityTags('W/"AAAAAAAAK0Q="'), ['W/"AAAAAAAAK0Q="']);
    assert.deepEqual(parseEntityTags('"abc"'), ['"abc"']);
  });

  it('reads a comma-separated list with or without spaces', () => {
    assert.deepEqual(parseEntityTags('W/"a", "b",W/"c"'), ['W/"a"', '"b"', 'W/"c"']);
  });

  it('answers null for values that are not entity tags', () => {
    for (const value of ['', 'abc', 'W/abc', '"unterminated', 'w/"lower"', '"a" junk', '*, "a"']) {
      assert.equal(parseEntityTags(value), null, value);
    }
  });
});

describe('etagMatches', () => {
  const current = weakEtag('contact', 1);

  it('compares weakly: W/"x" and "x" match', () => {
    assert.equal(etagMatches([current], current), true);
    assert.equal(etagMatches([current.slice(2)], current), true);
    assert.equal(etagMatches(['W/"x"'], '"x"'), true);
  });

  it('matches when any tag of the list matches, and always for *', () => {
    assert.equal(etagMatches(['W/"old"', current], current), true);
    assert.equal(etagMatches(['*'], current), true);
  });

  it('does not match other tags', () => {
    assert.equal(etagMatches(['W/"old"', '"older"'], current), false);
    assert.equal(etagMatches([], current), false);
  });
});
