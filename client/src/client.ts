import createClient, { type FetchResponse, type MaybeOptionalInit } from 'openapi-fetch';
import type { HttpMethod, MediaType, PathsWithMethod, RequiredKeysOf } from 'openapi-typescript-helpers';
import { type ContactSearchQuery, type FeedArgs, followChanges, followEvents, type Get } from './feeds.js';
import { idempotentPostPaths } from './operations.js';
import { problemErrorFrom } from './problem-error.js';
import { DEFAULT_RETRY, type Fetch, type RetryOptions, sendWithRetries } from './retry.js';
import type { components, paths } from './schema.js';

export interface ContactsClientOptions {
  /** Where the API is served, e.g. `https://contacts.example.com` (the paths start with `/api/v1`). */
  baseUrl: string;
  /** An API token (`cst_…`), or the admin token for the admin operations. */
  token: string;
  /** Sent with every request, e.g. `{ 'X-Change-Origin': 'hubspot' }` so the event log credits the sync. */
  headers?: Record<string, string>;
  /** The transport; `globalThis.fetch` when absent. */
  fetch?: Fetch;
  retry?: Partial<RetryOptions>;
}

/** openapi-fetch's own rule: the options argument is required exactly when the operation has a required part. */
type InitParam<Init> =
  RequiredKeysOf<Init> extends never ? [(Init & { [key: string]: unknown })?] : [Init & { [key: string]: unknown }];

/** A 2xx answer: its body, typed from the document, and the response for its headers (ETag, Location, …). */
export type Answer<Result> = Result extends { error: unknown } ? never : Omit<Result, 'error'>;

/** The operation of a path and method (openapi-fetch wants it as an object type, which every operation is). */
type Operation<Path extends keyof paths, Method extends HttpMethod> = Extract<
  paths[Path][Method],
  Record<string | number, unknown>
>;

/** One HTTP method over every path of the API that has it, with openapi-fetch's types; resolves only with a 2xx answer. */
export type CallMethod<Method extends HttpMethod> = <
  Path extends PathsWithMethod<paths, Method>,
  Init extends MaybeOptionalInit<paths[Path], Method>,
>(
  url: Path,
  ...init: InitParam<Init>
) => Promise<Answer<FetchResponse<Operation<Path, Method>, Init, MediaType>>>;

export interface ContactsClient {
  GET: CallMethod<'get'>;
  POST: CallMethod<'post'>;
  PUT: CallMethod<'put'>;
  PATCH: CallMethod<'patch'>;
  DELETE: CallMethod<'delete'>;
  contacts: {
    /**
     * The contact change feed (`GET /api/v1/network/contacts`) page by page, following
     * `page.nextCursor`; with search filters (`tag`, `q`, `custom.<key>`, …), the matching contacts.
     */
    changes(
      ...query: FeedArgs<'/api/v1/network/contacts', ContactSearchQuery>
    ): AsyncIterable<components['schemas']['ContactList']>;
  };
  companies: {
    /** The company change feed (`GET /api/v1/network/companies`) page by page, following `page.nextCursor`. */
    changes(...query: FeedArgs<'/api/v1/network/companies'>): AsyncIterable<components['schemas']['CompanyList']>;
  };
  /** The event log (`GET /api/v1/network/events`) page by page, following `page.nextAfter`. */
  events(...query: FeedArgs<'/api/v1/network/events'>): AsyncIterable<components['schemas']['EventList']>;
}

type LooseCall = (
  method: string,
  url: string,
  init: Record<string, unknown>,
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

/**
 * The API's client: openapi-fetch's typed `GET`/`POST`/`PATCH`/`DELETE` over every operation, plus
 * the bearer token, retries (429/503 and lost answers, honouring Retry-After), an Idempotency-Key
 * per POST, and iterators over the change feeds and the event log. Calls resolve with
 * `{ data, response }` for a 2xx answer and throw ProblemError for every other one, so a sync
 * reads its happy path straight through and handles failures in one catch.
 */
export function createContactsClient(options: ContactsClientOptions): ContactsClient {
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...options.retry };
  const transport: Fetch = options.fetch ?? ((request) => globalThis.fetch(request));
  const inner = createClient<paths>({
    baseUrl: options.baseUrl,
    headers: { ...options.headers, Authorization: `Bearer ${options.token}` },
  });
  const send = inner.request as unknown as LooseCall;

  function method<Method extends HttpMethod>(name: Method): CallMethod<Method> {
    const upper = name.toUpperCase();
    const call = async (url: string, init: Record<string, unknown> = {}) => {
      const policy = { repeatable: upper !== 'POST' || idempotentPostPaths.has(url) };
      const result = await send(upper, url, {
        ...init,
        fetch: (prepared: Request) => sendWithRetries(prepared, policy, transport, retry),
      });
      if (!result.response.ok) throw problemErrorFrom(result.response, result.error);
      return { data: result.data, response: result.response };
    };
    return call as unknown as CallMethod<Method>;
  }

  const GET = method('get');
  const get = GET as unknown as Get;
  return {
    GET,
    POST: method('post'),
    PUT: method('put'),
    PATCH: method('patch'),
    DELETE: method('delete'),
    contacts: { changes: (...[query]) => followChanges(get, '/api/v1/network/contacts', query) },
    companies: { changes: (...[query]) => followChanges(get, '/api/v1/network/companies', query) },
    events: (...[query]) => followEvents(get, query),
  };
}
