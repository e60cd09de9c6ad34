/**
 * The database could not be reached, or the connection died under a statement: never the client's
 * fault. Nothing was committed unless the connection died during COMMIT itself, and the requests that
 * write are idempotent or guarded by If-Match, so the answer is 503 with Retry-After and the client
 * retries.
 */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  constructor(
    /** checkout: no connection could be had in time; connection-lost: it died; timeout: the server did not answer. */
    readonly reason: 'checkout' | 'connection-lost' | 'timeout',
    options?: { cause?: unknown },
  ) {
    super(`database unavailable (${reason})`, options);
  }
}
