import { decodeCursor, encodeCursor } from './cursor.js';
import { AppError } from './problem.js';

/**
 * Position in a change feed: the event number (events/, migration 0006) of the last record listed.
 * A record is listed at its latest event, so a position is a point in commit order.
 */
export interface FeedPosition {
  seq: number;
}

export interface FeedQuery {
  limit: number;
  cursor?: string;
  updated_since?: string;
  include_deleted?: boolean;
}

/**
 * A list's own filters (beyond updated_since and include_deleted), by query parameter, each in a
 * canonical JSON form the list chooses (the same search sent twice gives equal values). Opaque here:
 * the cursor carries them, and a request that sends a parameter with a cursor must send the value the
 * cursor was issued with.
 */
export type FeedSearch = Readonly<Record<string, unknown>>;

export interface FeedFilter {
  after: FeedPosition | null;
  updatedSince: Date | null;
  includeDeleted: boolean;
  /** The filters of the first page: the request's own, or those its cursor carries. */
  search: FeedSearch;
  limit: number;
}

/** The lists that page by cursor. A position in one means nothing in the other, so each refuses the other's cursors. */
export type FeedName = 'contacts' | 'companies';

interface FeedCursor {
  o: string;
  f: FeedName;
  q: number;
  s: string | null;
  d: boolean;
  /** The search (FeedSearch); absent when there is none, as in cursors issued before lists had one. */
  x?: FeedSearch;
}

function invalidCursor(detail: string): AppError {
  return new AppError('invalid-cursor', detail, { errors: { cursor: [detail] } });
}

/**
 * The filter a list request means: its own parameters, or those its cursor was issued with.
 * `search` holds the list's own filters the request sent (FeedSearch).
 */
export function feedFilter(
  query: FeedQuery,
  organizationId: string,
  secret: Buffer,
  feed: FeedName,
  search: FeedSearch = {},
): FeedFilter {
  if (query.cursor === undefined) {
    return {
      after: null,
      updatedSince: query.updated_since === undefined ? null : new Date(query.updated_since),
      includeDeleted: query.include_deleted ?? false,
      search,
      limit: query.limit,
    };
  }
  const payload = decodeCursor(query.cursor, secret, organizationId) as FeedCursor | null;
  // A cursor from before the event log (it carried a transaction id) is refused like any stranger's.
  if (payload === null || payload.f !== feed || !Number.isSafeInteger(payload.q)) {
    throw invalidCursor(`The cursor is not one this API issued to your organization for the ${feed} list.`);
  }
  const issuedWith: FeedSearch = payload.x ?? {};
  for (const [parameter, value] of Object.entries(search)) {
    // Compared as JSON, the form the cursor carries them in (a -0 read back is 0).
    if (!Object.hasOwn(issuedWith, parameter) || JSON.stringify(issuedWith[parameter]) !== JSON.stringify(value)) {
      throw invalidCursor(`The cursor was issued for another ${parameter}; omit ${parameter} when passing a cursor.`);
    }
  }
  // Compared as instants: clients resend the value they first sent, which need not be in the
  // toISOString form the cursor stores (`…:09Z` and `…:09.000Z` are the same time).
  const since = query.updated_since === undefined ? undefined : new Date(query.updated_since).getTime();
  if (since !== undefined && (payload.s === null || since !== new Date(payload.s).getTime())) {
    throw invalidCursor('The cursor was issued for another updated_since; omit updated_since when passing a cursor.');
  }
  if (query.include_deleted !== undefined && query.include_deleted !== payload.d) {
    throw invalidCursor('The cursor was issued for another include_deleted; omit it when passing a cursor.');
  }
  return {
    after: { seq: payload.q },
    updatedSince: payload.s === null ? null : new Date(payload.s),
    includeDeleted: payload.d,
    search: issuedWith,
    limit: query.limit,
  };
}

export interface FeedPage<Row> {
  rows: Row[];
  nextCursor: string | null;
  hasMore: boolean;
}

/**
 * Cuts the page (rows were fetched with limit + 1 to learn whether more follow). `nextCursor` is
 * also a resume point when hasMore is false: fetching it later yields only what changed since.
 */
export function feedPage<Row extends { feed_seq: number }>(
  fetched: Row[],
  query: FeedQuery,
  filter: FeedFilter,
  organizationId: string,
  secret: Buffer,
  feed: FeedName,
): FeedPage<Row> {
  const hasMore = fetched.length > filter.limit;
  const rows = hasMore ? fetched.slice(0, filter.limit) : fetched;
  const last = rows.at(-1);
  const nextCursor =
    last === undefined
      ? (query.cursor ?? null)
      : encodeCursor(
          {
            o: organizationId,
            f: feed,
            q: last.feed_seq,
            s: filter.updatedSince?.toISOString() ?? null,
            d: filter.includeDeleted,
            // Without a search the cursor stays as it always was (companies, the plain feed).
            ...(Object.keys(filter.search).length > 0 ? { x: filter.search } : {}),
          } satisfies FeedCursor,
          secret,
        );
  return { rows, nextCursor, hasMore };
}
