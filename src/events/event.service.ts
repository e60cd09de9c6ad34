import type { Db } from '../db/database.js';
import { type AuthContext, requireScope } from '../http/auth.js';
import { AppError } from '../http/problem.js';
import { type EventRow, eventHorizon, listEvents } from './event.repository.js';
import type { EventListQueryInput } from './event.schemas.js';
import { EVENT_RESOURCES, parseTypeList, resourcesOf } from './event-types.js';

export interface EventPage {
  rows: EventRow[];
  nextAfter: number;
  hasMore: boolean;
}

function expired(after: number, prunedThrough: number, lastSeq: number): AppError {
  return new AppError(
    'events-expired',
    `Events after ${after} are no longer all kept (retention removed events through ${prunedThrough}).`,
    { resumeAfter: lastSeq },
  );
}

/**
 * A page of the organization's event log. Every type asked for needs its resource's read scope;
 * without `types`, the token reads the resources it has the scope for.
 */
export async function readEvents(db: Db, auth: AuthContext, query: EventListQueryInput): Promise<EventPage> {
  let types = parseTypeList(query.types, 'types');
  if (query.types === undefined) {
    const readable = resourcesOf(types).filter((resource) => auth.scopes.includes(EVENT_RESOURCES[resource].readScope));
    // A token that reads neither resource gets the 403 of the first.
    types = readable.length > 0 ? readable.map((resource) => `${resource}.*`) : types;
  }
  for (const resource of resourcesOf(types)) requireScope(auth, EVENT_RESOURCES[resource].readScope);

  const horizon = await eventHorizon(db, auth.organizationId);
  if (query.after !== undefined && query.after < horizon.prunedThrough) {
    throw expired(query.after, horizon.prunedThrough, horizon.lastSeq);
  }
  const after = query.after ?? horizon.prunedThrough;
  const fetched = await listEvents(db, auth.organizationId, {
    after,
    limit: query.limit,
    types,
    excludeOrigins: (query.exclude_origin ?? []).map((origin) => origin.toLowerCase()),
  });
  // Retention may have removed events after `after` between the two reads: the page must not hide
  // that. (Without `after` the client asked for the oldest events kept, which these still are.)
  if (query.after !== undefined) {
    const { prunedThrough } = await eventHorizon(db, auth.organizationId);
    if (query.after < prunedThrough) throw expired(query.after, prunedThrough, horizon.lastSeq);
  }
  const hasMore = fetched.length > query.limit;
  const rows = hasMore ? fetched.slice(0, query.limit) : fetched;
  const last = rows.at(-1)?.seq;
  // A short page read everything numbered when the horizon was read; what the filters left out
  // need not be scanned again. A later event is numbered above lastSeq, so nothing is skipped.
  const nextAfter = hasMore ? (last as number) : Math.max(after, last ?? 0, horizon.lastSeq);
  return { rows, nextAfter, hasMore };
}
