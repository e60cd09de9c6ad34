const WINDOW_MS = 60_000;
const MAX_ADDRESSES = 10_000;

/**
 * Counts failed authentications per client address. Requests that fail authentication never reach
 * the per-token rate limit, so without this a client could make the server look up guessed tokens
 * as fast as it can send them. Past the budget an address is refused (429) for the rest of its
 * window, except for tokens already known to this process.
 */
export class FailedAuthLimiter {
  #windows = new Map<string, { failures: number; resetAt: number }>();

  constructor(readonly limitPerMinute: number) {}

  /** Seconds until `address` may try again, or 0 when it is within its budget. */
  blockedFor(address: string, now = Date.now()): number {
    const window = this.#windows.get(address);
    if (window === undefined) return 0;
    if (window.resetAt <= now) {
      this.#windows.delete(address);
      return 0;
    }
    return window.failures >= this.limitPerMinute ? Math.ceil((window.resetAt - now) / 1000) : 0;
  }

  record(address: string, now = Date.now()): void {
    const window = this.#windows.get(address);
    if (window !== undefined && window.resetAt > now) {
      window.failures += 1;
      return;
    }
    // A flood of distinct addresses must not grow memory without bound.
    if (this.#windows.size >= MAX_ADDRESSES) this.#windows.clear();
    this.#windows.set(address, { failures: 1, resetAt: now + WINDOW_MS });
  }
}
