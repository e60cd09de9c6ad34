/**
 * Rate limiting: a token bucket per API token (per client address for requests without one). The
 * bucket holds up to RATE_LIMIT_PER_MINUTE tokens and refills continuously at that rate; a request
 * takes one. So a client may burst up to its budget, then goes at the refill rate, and a refused
 * client waits only until the next token arrives, never out a whole window.
 *
 * This is our own hook rather than @fastify/rate-limit because that plugin is built on fixed windows:
 * its store contract is `incr(key) → { current, ttl }`, from which the plugin itself decides
 * (`current > max`) and derives Retry-After and the reset header (the window's ttl). A token bucket
 * has neither a count per window nor one reset time (the next request fits long before the bucket is
 * full again), so a store would have to report made-up window numbers. Its headers are fixed to the
 * X-RateLimit-* family or the older draft's RateLimit-Limit/-Remaining/-Reset, not the current
 * draft's RateLimit and RateLimit-Policy; sending those would mean switching off every plugin header
 * and recomputing them in a second hook from bucket state that a store cannot hand over (stores never
 * see the request). One hook that takes a token and writes the headers is shorter and says what it does.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './problem.js';
import { RedisBucketStore } from './rate-limit-redis.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `false` exempts a route (health probes, the API description) from rate limiting. */
    rateLimit?: false;
  }
}

const WINDOW_MS = 60_000;

export interface BucketPolicy {
  /** Tokens a full bucket holds: the burst a client may send at once. */
  readonly capacity: number;
  /** Tokens added per millisecond. */
  readonly refillPerMs: number;
}

export function bucketPolicy(perMinute: number): BucketPolicy {
  return { capacity: perMinute, refillPerMs: perMinute / WINDOW_MS };
}

export interface TakeResult {
  allowed: boolean;
  /** Tokens left after this request; fractional, as the bucket refills continuously. */
  tokens: number;
}

/** Where buckets live: process memory, or Redis so that every server process shares one budget. */
export interface BucketStore {
  /** Refills the bucket for the time passed and takes one token if there is one. Rejects when the store fails. */
  take(key: string): Promise<TakeResult>;
  close(): Promise<void>;
}

/** The bucket's tokens `elapsedMs` after it held `tokens`. */
export function refilled(tokens: number, elapsedMs: number, policy: BucketPolicy): number {
  return Math.min(policy.capacity, tokens + Math.max(0, elapsedMs) * policy.refillPerMs);
}

/** Whole seconds until the bucket holds one more whole token, i.e. until one more request fits. */
export function secondsUntilNextToken(tokens: number, policy: BucketPolicy): number {
  const missing = 1 - (tokens - Math.floor(tokens));
  // The epsilon keeps float noise (20.000000000004) from adding a second.
  return Math.max(1, Math.ceil(missing / policy.refillPerMs / 1000 - 1e-9));
}

interface MemoryBucket {
  tokens: number;
  updatedAt: number;
}

// Bounds memory under a flood of distinct keys (IPv6 addresses are plentiful): past it the least
// recently used bucket goes, which only gives that client a full bucket again.
const MAX_MEMORY_BUCKETS = 100_000;

/** Buckets in this process's memory; `now` is a monotonic clock in milliseconds (tests move it). */
export class MemoryBucketStore implements BucketStore {
  readonly #buckets = new Map<string, MemoryBucket>();

  constructor(
    readonly policy: BucketPolicy,
    readonly now: () => number = () => performance.now(),
    readonly maxBuckets = MAX_MEMORY_BUCKETS,
  ) {}

  get size(): number {
    return this.#buckets.size;
  }

  async take(key: string): Promise<TakeResult> {
    const now = this.now();
    this.#evictIdle(now);
    const bucket = this.#buckets.get(key);
    let tokens =
      bucket === undefined ? this.policy.capacity : refilled(bucket.tokens, now - bucket.updatedAt, this.policy);
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    // Re-inserted so that the Map's order stays least recently used first.
    this.#buckets.delete(key);
    this.#buckets.set(key, { tokens, updatedAt: now });
    return { allowed, tokens };
  }

  /** A bucket untouched for a whole window is full again, the same as no bucket: it can go. */
  #evictIdle(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.updatedAt < WINDOW_MS && this.#buckets.size < this.maxBuckets) break;
      this.#buckets.delete(key);
    }
  }

  async close(): Promise<void> {
    this.#buckets.clear();
  }
}

/** What the rate limiter reports, for metrics. */
export interface RateLimitEvents {
  decided(decision: 'allowed' | 'limited'): void;
  /** The store failed and the request was served unchecked. */
  storeFailed(): void;
}

// While the store is down every request fails the same way: one warning per interval says so.
const STORE_WARNING_INTERVAL_MS = 60_000;

/** Logs store failures at most once per interval, with how many went unlogged, and when the store answers again. */
export class StoreFailureLog {
  #lastWarningAt = Number.NEGATIVE_INFINITY;
  #unlogged = 0;
  #failing = false;

  constructor(
    private readonly logger: FastifyBaseLogger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  failed(error: unknown): void {
    this.#failing = true;
    const now = this.now();
    if (now - this.#lastWarningAt < STORE_WARNING_INTERVAL_MS) {
      this.#unlogged += 1;
      return;
    }
    this.logger.warn(
      { err: error, failuresSinceLastWarning: this.#unlogged },
      'rate-limit store unavailable: requests are served without rate limiting until it answers again',
    );
    this.#lastWarningAt = now;
    this.#unlogged = 0;
  }

  recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.logger.info('rate-limit store answers again: rate limiting resumed');
  }
}

export interface RateLimitOptions {
  perMinute: number;
  /** Set: buckets live in this Redis, shared by every server process. Null: in this process's memory. */
  redisUrl: string | null;
  events?: RateLimitEvents | null;
}

// The policy's name in the RateLimit-Policy and RateLimit fields, which tie a service limit to its policy.
const POLICY_NAME = '"default"';

/**
 * Limits every route registered after this call, except those with `config: { rateLimit: false }`.
 *
 * Headers follow "RateLimit header fields for HTTP", draft-ietf-httpapi-ratelimit-headers-11 (May 2026),
 * sections 3 and 4: Structured Field lists of a policy name (a String) with parameters.
 * - `RateLimit-Policy: "default";q=600;w=60`: the quota q per window w seconds (the budget per minute).
 * - `RateLimit: "default";r=N;t=S`: r whole tokens left; t the seconds until the next token arrives, within
 *   which the client can use no more than r. On a 429, r=0 and t equals Retry-After, as the draft asks
 *   (section 6: Retry-After SHOULD NOT point before the end of the effective window).
 * Requests served while the store is down carry the policy but no RateLimit field: nothing was measured.
 */
export function registerRateLimit(app: FastifyInstance, { perMinute, redisUrl, events }: RateLimitOptions): void {
  const policy = bucketPolicy(perMinute);
  const failures = new StoreFailureLog(app.log);
  let store: BucketStore;
  if (redisUrl === null) {
    store = new MemoryBucketStore(policy);
  } else {
    const redis = new RedisBucketStore(redisUrl, policy, (error) => failures.failed(error));
    app.addHook('onReady', () => redis.connected());
    store = redis;
  }
  const policyField = `${POLICY_NAME};q=${perMinute};w=${WINDOW_MS / 1000}`;

  const limit = async (request: FastifyRequest, reply: FastifyReply) => {
    // Runs after authentication (onRequest), so the budget belongs to the token, not to a shared address.
    const key = request.auth ? `token:${request.auth.tokenId}` : `ip:${request.ip}`;
    reply.header('ratelimit-policy', policyField);
    let result: TakeResult;
    try {
      result = await store.take(key);
    } catch (error) {
      // Fail open: an unavailable limiter must not take the API down with it.
      events?.storeFailed();
      failures.failed(error);
      return;
    }
    failures.recovered();
    const seconds = secondsUntilNextToken(result.tokens, policy);
    reply.header('ratelimit', `${POLICY_NAME};r=${Math.floor(result.tokens)};t=${seconds}`);
    events?.decided(result.allowed ? 'allowed' : 'limited');
    if (!result.allowed) {
      throw new AppError(
        'rate-limited',
        `Rate limit of ${perMinute} requests per minute exceeded; the next request fits in ${seconds} s.`,
        {},
        { 'retry-after': String(seconds) },
      );
    }
  };

  // Per route, as preParsing: after every onRequest hook (authentication included), before the body is
  // read; unknown routes (404) are not limited, as they do no work.
  app.addHook('onRoute', (route) => {
    if (route.config?.rateLimit === false) return;
    const existing = route.preParsing;
    route.preParsing = existing === undefined ? [limit] : [...(Array.isArray(existing) ? existing : [existing]), limit];
  });
  app.addHook('onClose', async () => {
    await store.close();
  });
}
