import { type Static, type TSchema, Type } from 'typebox';
import { type ProblemCode, problemRegistry } from './problem.js';

/**
 * `type: ["string", "null"]` rather than `anyOf`, so a wrong value yields one clear validation message
 * instead of one per branch, and the OpenAPI 3.1 document stays idiomatic.
 */
export function Nullable<T extends TSchema>(schema: T) {
  const { type, ...rest } = schema as unknown as { type: string } & Record<string, unknown>;
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'] });
}

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC.' });

export const Uuid = Type.String({ format: 'uuid' });

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'Identifies the problem kind; stable, see GET /problems.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String({ description: 'The path of the request that failed.' }),
    traceId: Type.String({ description: 'The request id; quote it when reporting a problem.' }),
    errors: Type.Optional(
      Type.Record(Type.String(), Type.Array(Type.String()), {
        description: 'Validation failures: field path (e.g. `emails[0].address`) → messages.',
      }),
    ),
  },
  { $id: 'Problem', additionalProperties: true, description: 'An RFC 9457 problem details document.' },
);

/** Problem responses for a route's schema, grouped by status, so the OpenAPI document lists them. */
export function problemResponses(...codes: ProblemCode[]): Record<number, unknown> {
  const responses: Record<number, unknown> = {};
  const byStatus = new Map<number, string[]>();
  for (const code of [...codes, 'internal-error' as const]) {
    const { status, title } = problemRegistry[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), title]);
  }
  for (const [status, titles] of byStatus) {
    responses[status] = {
      description: titles.join('; '),
      content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
    };
  }
  return responses;
}

/** A `$ref` to a shared schema that keeps the referenced schema's static type. */
export function RefTo<T extends TSchema & { $id?: string }>(schema: T) {
  if (schema.$id === undefined) throw new Error('RefTo needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
}

/**
 * A system's name: an external reference's namespace, and a change's origin (the namespace of an
 * upsert by reference, X-Change-Origin, a token's origin), which events and webhooks filter on.
 */
export const SYSTEM_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$';

export function SystemName(options: { description?: string } = {}) {
  return Type.String({ minLength: 1, maxLength: 50, pattern: SYSTEM_NAME_PATTERN, ...options });
}

/** Shared by every resource synced from other systems. */
export const ExternalRefSchema = Type.Object(
  {
    namespace: SystemName({
      description: 'The source system, e.g. `hubspot`. Compared case-insensitively and stored lower-case.',
    }),
    id: Type.String({ minLength: 1, maxLength: 255, description: "The record's id in that system; case-sensitive." }),
  },
  { $id: 'ExternalRef', additionalProperties: false, description: 'A reference to this record in another system.' },
);
export type ExternalRef = Static<typeof ExternalRefSchema>;

/** What an upsert did (`created`, `updated`, `revived`), for contacts and companies alike. */
export const UPSERT_ACTION_HEADER = 'x-propstreet-upsert-action';

/** The path of a record addressed by its reference in another system: `/external/{namespace}/{id}`. */
export const ExternalRefParams = Type.Object(
  {
    namespace: SystemName(),
    id: Type.String({ minLength: 1, maxLength: 255, description: 'URL-encoded.' }),
  },
  { additionalProperties: false },
);

export const PageSchema = Type.Object(
  {
    nextCursor: Nullable(Type.String({ description: 'Pass as `cursor` to get the next page.' })),
    hasMore: Type.Boolean(),
    pageSize: Type.Integer(),
  },
  { $id: 'Page', additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    cursor: Type.Optional(
      Type.String({ maxLength: 2000, description: "A page's nextCursor; it carries the filters of the first page." }),
    ),
    updated_since: Type.Optional(
      Type.String({ format: 'date-time', description: 'Only contacts changed at or after this time (ISO 8601).' }),
    ),
    include_deleted: Type.Optional(Type.Boolean({ description: 'Also list soft-deleted contacts (default false).' })),
  },
  { additionalProperties: false },
);
export type ListQueryInput = Static<typeof ListQuery>;
