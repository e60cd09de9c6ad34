import { Redis } from 'ioredis';
import type { BucketPolicy, BucketStore, TakeResult } from './rate-limit.js';

/**
 * One request's whole bucket update, atomic because Redis runs a script alone: read tokens and
 * timestamp, refill for the time passed, take a token if there is one, write both back, and let the
 * key expire when the bucket would be full again (a missing key reads as a full bucket).
 *
 * The clock is Redis's own TIME, not a timestamp passed in by the caller: every server process then
 * measures refill on one clock. With callers' clocks, a process whose clock runs ahead would refill
 * buckets early for everyone, and one running behind would see time go backwards and refill nothing.
 * Redis 5 and later replicate a script's effects rather than the script, which is what allows a
 * script to read TIME before it writes.
 *
 * Timestamps are whole milliseconds: Lua prints numbers with 14 significant digits, too few for
 * microseconds since 1970. Tokens go back as a string, since Redis turns Lua numbers into integers.
 */
const TAKE_SCRIPT = `
local capacity = tonumber(ARGV[1])
local refill_per_ms = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * refill_per_ms)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / refill_per_ms) + 1)
return { allowed, tostring(tokens) }
`;

const KEY_PREFIX = 'contacts-api:rate-limit:';

// Every request waits for Redis, so a slow Redis must cost little: past this the request is served
// unchecked. Far above a healthy round trip on a network (about a millisecond), far below what a
// client would notice.
const COMMAND_TIMEOUT_MS = 200;
// A Redis that sends nothing for this long while commands wait (frozen, partitioned without a reset)
// gets its connection dropped and reopened, so unanswered commands do not pile up behind it.
const SOCKET_TIMEOUT_MS = 2_000;
// Reconnect quickly and keep trying: while Redis is away requests go unchecked, so it should be
// back in use within about a second of returning. A connection attempt is cheap.
const MAX_RECONNECT_DELAY_MS = 1_000;
// How long startup waits for the first connection, so that the first requests are already limited;
// an unreachable Redis does not keep the server from starting (requests are served unchecked).
const STARTUP_WAIT_MS = 2_000;
const QUIT_TIMEOUT_MS = 500;

type RedisWithTake = Redis & {
  takeToken(key: string, capacity: number, refillPerMs: number): Promise<[number, string]>;
};

export class RedisBucketStore implements BucketStore {
  readonly #client: RedisWithTake;

  constructor(
    url: string,
    private readonly policy: BucketPolicy,
    onConnectionError: (error: Error) => void,
  ) {
    this.#client = new Redis(url, {
      connectionName: 'contacts-api-rate-limit',
      // Never queue a request behind a connection that is not there: fail at once and serve it unchecked.
      enableOfflineQueue: false,
      // Commands in flight when the connection drops fail then, instead of waiting for a reconnection.
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      socketTimeout: SOCKET_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
      // Sent as EVALSHA, falling back to EVAL when Redis does not know the script (after a restart).
      scripts: { takeToken: { lua: TAKE_SCRIPT, numberOfKeys: 1 } },
    }) as RedisWithTake;
    // Without a listener, connection errors would be unhandled 'error' events.
    this.#client.on('error', onConnectionError);
  }

  /** Resolves once connected, or after a short wait; never rejects. */
  async connected(): Promise<void> {
    if (this.#client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#client.off('ready', done);
        this.#client.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, STARTUP_WAIT_MS);
      this.#client.once('ready', done);
      this.#client.once('error', done);
    });
  }

  async take(key: string): Promise<TakeResult> {
    const [allowed, tokens] = await this.#client.takeToken(
      KEY_PREFIX + key,
      this.policy.capacity,
      this.policy.refillPerMs,
    );
    return { allowed: allowed === 1, tokens: Number(tokens) };
  }

  async close(): Promise<void> {
    // QUIT lets Redis close its side cleanly; if Redis does not answer, the socket is closed anyway.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#client.quit().catch(() => {}),
      new Promise((resolve) => {
        timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    this.#client.disconnect();
  }
}
