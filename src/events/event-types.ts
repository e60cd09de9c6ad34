import { type RawBuilder, sql } from 'kysely';
import type { EventResourceType } from '../db/schema.js';
import { AppError } from '../http/problem.js';
import type { Scope } from '../organizations/organization.schemas.js';

/** What an event can be about, and the scope that reading it needs. */
export const EVENT_RESOURCES = {
  contact: { readScope: 'contacts.read' },
  company: { readScope: 'companies.read' },
} as const satisfies Record<EventResourceType, { readScope: Scope }>;

export const EVENT_KINDS = ['created', 'updated', 'deleted', 'revived'] as const;

export const EVENT_TYPES = (Object.keys(EVENT_RESOURCES) as EventResourceType[]).flatMap((resource) =>
  EVENT_KINDS.map((kind) => `${resource}.${kind}`),
);

/**
 * A subscription to event types: exact types (`contact.updated`), a resource's wildcard
 * (`contact.*`) or every type (`*`). The same patterns filter GET /events and webhooks, matched in
 * SQL by typeMatchesSql and nowhere else.
 */
export const EVENT_TYPE_PATTERN = `^(\\*|(${Object.keys(EVENT_RESOURCES).join('|')})\\.(\\*|${EVENT_KINDS.join('|')}))$`;

export function isEventTypePattern(value: string): boolean {
  return new RegExp(EVENT_TYPE_PATTERN).test(value);
}

/** The resources a list of patterns can match: what a reader needs the scopes of. */
export function resourcesOf(patterns: readonly string[]): EventResourceType[] {
  const all = Object.keys(EVENT_RESOURCES) as EventResourceType[];
  return all.filter((resource) => patterns.some((pattern) => pattern === '*' || pattern.startsWith(`${resource}.`)));
}

/** Parses a `types` query value (comma-separated patterns); a bad pattern is a 400 naming it. */
export function parseTypeList(value: string | undefined, field: string): string[] {
  if (value === undefined) return ['*'];
  const patterns = value.split(',').map((part) => part.trim());
  const bad = patterns.filter((pattern) => !isEventTypePattern(pattern));
  if (bad.length > 0) {
    throw AppError.validation({
      [field]: [
        `${bad.map((pattern) => JSON.stringify(pattern)).join(', ')} ${bad.length === 1 ? 'is not an event type' : 'are not event types'}; use ${EVENT_TYPES.join(', ')}, a resource's "contact.*" or "company.*", or "*".`,
      ],
    });
  }
  return [...new Set(patterns)];
}

/** True when `type` (an SQL text expression) matches one of `patterns` (an SQL text[] expression). */
export function typeMatchesSql(type: RawBuilder<unknown>, patterns: RawBuilder<unknown>): RawBuilder<boolean> {
  return sql<boolean>`(${type} = ANY(${patterns}) OR split_part(${type}, '.', 1) || '.*' = ANY(${patterns}) OR '*' = ANY(${patterns}))`;
}
