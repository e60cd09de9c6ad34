import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bucketPolicy,
  MemoryBucketStore,
  StoreFailureLog,
  secondsUntilNextToken,
} from '../../../src/http/rate-limit.js';

/** A store on a clock the test moves. */
function storeAt(perMinute: number, maxBuckets?: number) {
  let now = 1_000_000;
  const store = new MemoryBucketStore(bucketPolicy(perMinute), () => now, maxBuckets);
  return {
    store,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('the in-memory token bucket', () => {
  it('bursts up to the budget, then refuses until a token has refilled', async () => {
    const { store, advance } = storeAt(3);
    const policy = store.policy;
    for (const left of [2, 1, 0]) assert.deepEqual(await store.take('a'), { allowed: true, tokens: left });
    const refused = await store.take('a');
    assert.equal(refused.allowed, false);
    // 3 a minute: one token every 20 s, so the wait is 20 s, not the rest of a minute.
    assert.equal(secondsUntilNextToken(refused.tokens, policy), 20);

    advance(5_000);
    const stillRefused = await store.take('a');
    assert.equal(stillRefused.allowed, false);
    assert.equal(secondsUntilNextToken(stillRefused.tokens, policy), 15);

    advance(15_000);
    const served = await store.take('a');
    assert.equal(served.allowed, true);
    assert.ok(Math.abs(served.tokens) < 1e-9, `tokens ${served.tokens}`);
  });

  it('refills continuously and never beyond the budget', async () => {
    const { store, advance } = storeAt(60);
    for (let i = 0; i < 60; i += 1) assert.equal((await store.take('a')).allowed, true);
    assert.equal((await store.take('a')).allowed, false);
    advance(2_500);
    // One token a second: two whole tokens after 2.5 s.
    assert.equal((await store.take('a')).allowed, true);
    assert.equal((await store.take('a')).allowed, true);
    assert.equal((await store.take('a')).allowed, false);

    advance(10 * 60_000);
    const afterLongIdle = await store.take('a');
    assert.equal(afterLongIdle.tokens, 59);
  });

  it('keeps a bucket per key', async () => {
    const { store } = storeAt(1);
    assert.equal((await store.take('a')).allowed, true);
    assert.equal((await store.take('a')).allowed, false);
    assert.equal((await store.take('b')).allowed, true);
  });

  it('forgets buckets idle long enough to be full again, and never holds more than its cap', async () => {
    const { store, advance } = storeAt(10, 100);
    for (let i = 0; i < 50; i += 1) await store.take(`idle-${i}`);
    advance(60_000);
    await store.take('fresh');
    assert.equal(store.size, 1);

    for (let i = 0; i < 500; i += 1) await store.take(`flood-${i}`);
    assert.ok(store.size <= 100, `${store.size} buckets`);
    // The most recent keys keep their buckets.
    assert.equal((await store.take('flood-499')).tokens, 8);
  });
});

describe('store failure logging', () => {
  it('warns once per minute while the store fails, and says when it answers again', () => {
    const lines: Array<[string, string]> = [];
    const logger = {
      warn: (_fields: unknown, message: string) => lines.push(['warn', message]),
      info: (message: string) => lines.push(['info', message]),
    };
    let now = 0;
    const log = new StoreFailureLog(logger as never, () => now);
    for (let i = 0; i < 100; i += 1) log.failed(new Error('down'));
    assert.equal(lines.length, 1);
    now += 60_000;
    log.failed(new Error('down'));
    assert.equal(lines.length, 2);
    log.recovered();
    log.recovered();
    assert.deepEqual(
      lines.map(([level]) => level),
      ['warn', 'warn', 'info'],
    );
  });
});
