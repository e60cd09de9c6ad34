import { retryAfterMs } from './problem-error.js';

export type Fetch = (request: Request) => Promise<Response>;

export interface RetryOptions {
  /** Attempts per call, the first included; 1 turns retrying off. */
  maxAttempts: number;
  /**
   * Backoff when the answer names no Retry-After (or the request never got one): before retry n the
   * client waits a random time up to `baseDelayMs · 2^(n−1)` ("full jitter", so that many clients
   * refused at once do not come back at once), never more than `maxDelayMs`.
   */
  baseDelayMs: number;
  /**
   * The longest wait. A Retry-After beyond it is not waited out in the call: the call fails at once
   * with the 429/503 ProblemError (its `retryAfterSeconds` says when to come back), since retrying
   * sooner than the server asked only earns another refusal.
   */
  maxDelayMs: number;
  /** How the client waits; tests pass one that records the delays. */
  sleep: (ms: number) => Promise<void>;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Whether sending the request again cannot do its work twice: every method but POST is idempotent
 * in this API (PATCH sets fields, it does not add to them), and a POST is when the server stores
 * its first answer under the Idempotency-Key and replays it.
 */
export interface RetryPolicy {
  repeatable: boolean;
}

function isIdempotencyKeyInUse(response: Response, body: unknown): boolean {
  return (
    response.status === 409 &&
    typeof body === 'object' &&
    body !== null &&
    String((body as { type?: unknown }).type).endsWith('/idempotency-key-in-use')
  );
}

/**
 * Whether an answer may be retried. 429 always: the rate limiter refuses a request before it runs.
 * 503 only when repeatable: the server rolls back what a 503 request did, but a proxy in front
 * might answer 503 after passing the request on. 409 idempotency-key-in-use means the first attempt
 * of this very call is still running (its answer was lost and the retry overtook it): waiting and
 * asking again returns that attempt's answer.
 */
async function retryable(response: Response, policy: RetryPolicy, request: Request): Promise<boolean> {
  if (response.status === 429) return true;
  if (!policy.repeatable) return false;
  if (response.status === 503) return true;
  if (response.status === 409 && request.headers.has('idempotency-key')) {
    const body = await response
      .clone()
      .json()
      .catch(() => null);
    return isIdempotencyKeyInUse(response, body);
  }
  return false;
}

function backoffMs(retry: number, options: RetryOptions): number {
  return Math.random() * Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
}

/**
 * Sends one call: adds an Idempotency-Key to a POST that has none (one per call, so every retry of
 * it carries the same key), then retries 429/503 and lost answers as RetryOptions and RetryPolicy
 * allow. Resolves with the last answer; rejects only with the network error of the last attempt.
 */
export async function sendWithRetries(
  request: Request,
  policy: RetryPolicy,
  fetch: Fetch,
  options: RetryOptions,
): Promise<Response> {
  if (request.method === 'POST' && !request.headers.has('idempotency-key')) {
    request.headers.set('Idempotency-Key', crypto.randomUUID());
  }
  for (let attempt = 1; ; attempt += 1) {
    const last = attempt >= options.maxAttempts;
    // A body can be read once: every attempt but the last sends a copy.
    const sent = last ? request : request.clone();
    let response: Response;
    try {
      response = await fetch(sent);
    } catch (error) {
      // The server may have acted before the connection failed: repeat only what cannot act twice.
      if (last || !policy.repeatable || request.signal.aborted) throw error;
      await options.sleep(backoffMs(attempt, options));
      request.signal.throwIfAborted();
      continue;
    }
    if (last || !(await retryable(response, policy, request))) return response;
    const asked = retryAfterMs(response);
    const wait = asked ?? backoffMs(attempt, options);
    if (wait > options.maxDelayMs) return response;
    // Frees the connection of an answer nobody will read.
    await response.body?.cancel();
    await options.sleep(wait);
    request.signal.throwIfAborted();
  }
}
