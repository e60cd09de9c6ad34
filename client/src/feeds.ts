import type { RequiredKeysOf } from 'openapi-typescript-helpers';
import type { components, paths } from './schema.js';

type ListPath = '/api/v1/network/contacts' | '/api/v1/network/companies' | '/api/v1/network/events';

/** The query of a list operation, as its GET takes it (`updated_since`, `cursor`, `after`, `types`, …). */
export type FeedQuery<Path extends ListPath> = NonNullable<paths[Path]['get']['parameters']['query']>;

/**
 * The contacts list's query: its documented parameters, plus `custom.<key>` filters on custom
 * fields, which the document describes but cannot list (OpenAPI names parameters one by one).
 */
export type ContactSearchQuery = FeedQuery<'/api/v1/network/contacts'> & { [filter: `custom.${string}`]: string };

/** The iterator's argument: optional exactly when the operation's query is (every parameter optional or defaulted). */
export type FeedArgs<Path extends ListPath, Query = FeedQuery<Path>> =
  RequiredKeysOf<FeedQuery<Path>> extends never ? [query?: Query] : [query: Query];

type ChangeList = components['schemas']['ContactList'] | components['schemas']['CompanyList'];
type EventList = components['schemas']['EventList'];

/** The client's GET, loosely typed: the feeds below call it for paths fixed by their callers. */
export type Get = (url: string, init: { params: { query: object } }) => Promise<{ data: unknown }>;

/**
 * Every page of a change feed from `query` on, following `page.nextCursor` while `hasMore`; the last
 * page is yielded even when empty. It stops there rather than polling: a sync stores the last page's
 * `nextCursor` and passes it as `cursor` on its next run to get only what changed since.
 */
export async function* followChanges<List extends ChangeList>(
  get: Get,
  path: string,
  query: object = {},
): AsyncGenerator<List, void, undefined> {
  const { limit } = query as { limit?: number };
  let next = query;
  for (;;) {
    const page = (await get(path, { params: { query: next } })).data as List;
    yield page;
    if (!page.page.hasMore || page.page.nextCursor === null) return;
    // The cursor carries updated_since and include_deleted; the API refuses them beside a cursor
    // unless they match, so only the page size travels with it.
    next = limit === undefined ? { cursor: page.page.nextCursor } : { limit, cursor: page.page.nextCursor };
  }
}

/**
 * Every page of the event log after `query.after`, following `page.nextAfter` while `hasMore`, with
 * the same `types`, `exclude_origin` and `limit` on every page. It stops at the end: keep the last
 * page's `nextAfter` (or the last event's `seq`) and pass it as `after` next time.
 */
export async function* followEvents(get: Get, query: object = {}): AsyncGenerator<EventList, void, undefined> {
  let next = query;
  for (;;) {
    const page = (await get('/api/v1/network/events', { params: { query: next } })).data as EventList;
    yield page;
    if (!page.page.hasMore) return;
    next = { ...query, after: page.page.nextAfter };
  }
}
