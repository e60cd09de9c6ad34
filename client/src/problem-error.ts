import type { components } from './schema.js';

/** An RFC 9457 problem details document, as the API answers every error. */
export type Problem = components['schemas']['Problem'];

const PROBLEM_MEDIA_TYPE = /^application\/problem\+json\b/i;

/**
 * Any answer outside 2xx. For the API's own errors `problem` is the body it sent (`type`, `detail`,
 * `errors`, `currentEtag`, `conflictingContactId`, …); an answer that is not problem+json (a 304 to
 * If-None-Match, a proxy's HTML page) gets an `about:blank` problem built from its status, so a
 * caller handles every failure one way.
 */
export class ProblemError extends Error {
  override name = 'ProblemError';

  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly response: Response,
  ) {
    super(`${status} ${problem.title}: ${problem.detail}`);
  }

  /** The problem's code: the last segment of its `type` (`precondition-failed`), or `about:blank`. */
  get code(): string {
    return this.problem.type.split('/').at(-1) ?? this.problem.type;
  }

  get type(): string {
    return this.problem.type;
  }

  get detail(): string {
    return this.problem.detail;
  }

  /** Seconds the server asked to wait before retrying (429, 503), when it said so. */
  get retryAfterSeconds(): number | null {
    const seconds = retryAfterMs(this.response);
    return seconds === null ? null : Math.ceil(seconds / 1000);
  }
}

/** The error for a non-2xx answer whose body openapi-fetch already read (parsed JSON, text or nothing). */
export function problemErrorFrom(response: Response, body: unknown): ProblemError {
  const isProblem =
    PROBLEM_MEDIA_TYPE.test(response.headers.get('content-type') ?? '') &&
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { type?: unknown }).type === 'string';
  const problem: Problem = isProblem
    ? (body as Problem)
    : {
        type: 'about:blank',
        title: response.statusText || `HTTP ${response.status}`,
        status: response.status,
        detail:
          typeof body === 'string' && body !== '' ? body.slice(0, 500) : `The server answered ${response.status}.`,
        instance: response.url === '' ? '' : new URL(response.url).pathname,
        traceId: response.headers.get('x-request-id') ?? '',
      };
  return new ProblemError(response.status, problem, response);
}

/** Retry-After in milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(response: Response, now: number = Date.now()): number | null {
  const value = response.headers.get('retry-after')?.trim();
  if (value === undefined || value === '') return null;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
