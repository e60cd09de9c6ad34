import { type Static, type TObject, type TObjectOptions, type TProperties, type TSchema, Type } from 'typebox';
import type { BatchAction, BatchResult, BatchSummary } from './batch.js';
import { type ProblemCode, problemRegistry, problemType } from './problem.js';

/**
 * `type: ["string", "null"]` rather than `anyOf`, so a wrong value yields one clear validation message
 * instead of one per branch, and the OpenAPI 3.1 document stays idiomatic.
 */
export function Nullable<T extends TSchema>(schema: T) {
  const { type, ...rest } = schema as unknown as { type: string | string[] } & Record<string, unknown>;
  const types = Array.isArray(type) ? type : [type];
  return Type.Unsafe<Static<T> | null>({ ...rest, type: types.includes('null') ? types : [...types, 'null'] });
}

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC.' });

export const Uuid = Type.String({ format: 'uuid' });

/** An example the OpenAPI document shows; a contract test checks that every one validates against its schema. */
export interface Example {
  summary: string;
  description?: string;
  value: unknown;
}

export type ExampleRef = { $ref: string };
export type Examples = Record<string, Example | ExampleRef>;

/**
 * Examples that several operations show (a contact, a problem), listed once in the document's
 * `components/examples` and referenced where they are used. Routes fill it as they are declared, so
 * it lists exactly the examples some operation uses; src/http/openapi.ts hands it to the document.
 */
export const sharedExamples: Record<string, Example> = {};

/** A reference to a shared example, registered on first use; one name stands for one example. */
export function sharedExample(name: string, example: Example): ExampleRef {
  const registered = sharedExamples[name];
  if (registered !== undefined && registered !== example) throw new Error(`Two different examples are named "${name}"`);
  sharedExamples[name] = example;
  return { $ref: `#/components/examples/${name}` };
}

/**
 * The examples of a route's request body, spread into the options of the body's schema: @fastify/swagger
 * moves them to the request body's `examples` and out of the schema, which the validator then ignores.
 * Only for a route's own body schema: in a shared one ($id) they would stay in the document, malformed.
 */
export function bodyExamples(examples: Examples): { 'x-examples': Examples } {
  return { 'x-examples': examples };
}

/** A JSON answer as the document shows it: what it means, its schema, its examples and its headers. */
export function jsonResponse(
  description: string,
  schema: TSchema,
  examples: Examples,
  headers: Record<string, TSchema> = {},
) {
  return {
    description,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: { 'application/json': { schema, examples } },
  };
}

/** An answer without a body (204, 304): `type: null` keeps the document from announcing content. */
export function emptyResponse(description: string, headers: Record<string, TSchema> = {}) {
  return Type.Null({ description, ...(Object.keys(headers).length > 0 ? { headers } : {}) });
}

/**
 * Adds examples to answers declared elsewhere (the batch envelope's), by status, next to the examples
 * those answers already have.
 */
export function withResponseExamples(
  responses: Record<number, unknown>,
  byStatus: Record<number, Examples>,
  mediaType = 'application/json',
): Record<number, unknown> {
  const result: Record<number, unknown> = { ...responses };
  for (const [status, examples] of Object.entries(byStatus)) {
    const response = responses[Number(status)] as { content: Record<string, { examples?: Examples }> } | undefined;
    const media = response?.content[mediaType];
    if (response === undefined || media === undefined) {
      throw new Error(`No ${mediaType} answer ${status} to add examples to`);
    }
    result[Number(status)] = {
      ...response,
      content: { ...response.content, [mediaType]: { ...media, examples: { ...media.examples, ...examples } } },
    };
  }
  return result;
}

/**
 * A query string's schema. A parameter with a `default` is optional to send: the validator fills the
 * default in (query strings are validated with useDefaults), so the handler's type keeps it present
 * while the document, and clients generated from it, let callers leave it out.
 */
export function QueryString<T extends TProperties>(properties: T, options: TObjectOptions = {}): TObject<T> {
  const schema = Type.Object(properties, { additionalProperties: false, ...options });
  const writable = schema as { required?: string[] };
  const required = (writable.required ?? []).filter((key) => !('default' in (properties[key] as object)));
  if (required.length > 0) writable.required = required;
  else delete writable.required;
  return schema;
}

// Response headers every resource documents alike.
export const ETagHeader = Type.String({
  description: 'The weak ETag of this version of the record; send it as If-Match to change this version only.',
  examples: ['W/"zNY1utXf0CZ2AWcc5TV4qB"'],
});
export const LocationHeader = Type.String({ description: 'The path of the record that was created.' });

/** What an upsert did (`created`, `updated`, `revived`), for contacts and companies alike. */
export const UPSERT_ACTION_HEADER = 'x-propstreet-upsert-action';
export type UpsertAction = 'created' | 'updated' | 'revived';

export function UpsertActionHeader(actions: readonly UpsertAction[] = ['created', 'updated', 'revived']) {
  return Type.Unsafe<UpsertAction>({
    type: 'string',
    enum: [...actions],
    description: `What the upsert did: ${actions.map((action) => `\`${action}\``).join(', ')}.`,
  });
}

// Request headers of the conditional operations.
export const IfMatchHeader = Type.String({
  description:
    'Apply the change only if the record still has this ETag (weak comparison; a list of ETags or `*` is accepted); otherwise 412 and nothing changes.',
  examples: ['W/"zNY1utXf0CZ2AWcc5TV4qB"'],
});
export const IfNoneMatchHeader = Type.String({
  description: 'The ETag of the copy you hold: while it is current, the answer is 304 without a body.',
  examples: ['W/"zNY1utXf0CZ2AWcc5TV4qB"'],
});

// What the error handler adds to a problem beyond RFC 9457's members, each set by the problems named.
const problemExtensions = {
  errors: Type.Optional(
    Type.Record(Type.String(), Type.Array(Type.String()), {
      description:
        'validation-failed (and a few problems about one field): field path (e.g. `emails[0].address`) → messages.',
    }),
  ),
  errorsTruncated: Type.Optional(
    Type.Literal(true, { description: 'Present when more fields failed than `errors` lists (it lists 100).' }),
  ),
  conflictField: Type.Optional(
    Nullable(
      Type.String({
        description:
          'conflict: the request field whose value another record holds (`email`, `externalRefs[0]`, …); null when it cannot be told.',
      }),
    ),
  ),
  conflictingContactId: Type.Optional(
    Nullable(Type.String({ format: 'uuid', description: 'conflict: the contact that holds the value, when known.' })),
  ),
  conflictingCompanyId: Type.Optional(
    Nullable(Type.String({ format: 'uuid', description: 'conflict: the company that holds the value, when known.' })),
  ),
  currentEtag: Type.Optional(
    Type.String({ description: "precondition-failed: the record's current ETag, to compare with what you hold." }),
  ),
  requiredScope: Type.Optional(Type.String({ description: 'insufficient-scope: the scope the operation needs.' })),
  resumeAfter: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'events-expired: after resynchronizing from the lists, follow the event log from this `seq`.',
    }),
  ),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        'webhook-limit-reached, contact-field-limit-reached: how many webhooks, or custom contact fields, an organization may have.',
    }),
  ),
};

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'Identifies the problem kind; stable, see GET /problems.' }),
    title: Type.String({ description: 'The problem kind in a few words; the same for every occurrence.' }),
    status: Type.Integer({ description: 'The HTTP status code of the answer.' }),
    detail: Type.String({ description: 'What went wrong in this request, for a person to read.' }),
    instance: Type.String({ description: 'The path of the request that failed.' }),
    traceId: Type.String({ description: 'The request id (`X-Request-Id`); quote it when reporting a problem.' }),
    ...problemExtensions,
  },
  {
    $id: 'Problem',
    // Open: closed, the serializer would silently drop a member this list lacks. The contract test
    // test/contract/problem-members.test.ts keeps the list and what the API sends the same.
    additionalProperties: true,
    description:
      'An RFC 9457 problem details document. Besides the standard members, a problem may carry the extension members listed for it.',
  },
);
export type Problem = Static<typeof ProblemSchema>;

const EXAMPLE_TRACE_ID = '25655550-cacc-4df0-b59b-2de1e51e69cb';
const EXAMPLE_CONTACT_PATH = '/api/v1/network/contacts/bf80341f-ed94-4202-9eab-d0f128cbb552';

/** One realistic occurrence of every problem, for the examples of the answers that can carry it. */
const problemOccurrences = {
  'validation-failed': {
    instance: '/api/v1/network/contacts',
    detail: '2 fields are invalid: email, primaryLanguage',
    extensions: {
      errors: {
        email: ['must be a valid email address'],
        primaryLanguage: ['must be an ISO 639-1 language code such as "en" or "sv"'],
      },
    },
  },
  'malformed-request': {
    instance: '/api/v1/network/contacts',
    detail: 'The body is not valid JSON, or it has a forbidden key such as __proto__.',
  },
  'invalid-cursor': {
    instance: '/api/v1/network/contacts?cursor=bm90LWEtY3Vyc29y',
    detail: 'The cursor is not one this API issued to your organization for the contacts list.',
    extensions: {
      errors: { cursor: ['The cursor is not one this API issued to your organization for the contacts list.'] },
    },
  },
  unauthorized: {
    instance: '/api/v1/network/contacts',
    detail: 'Send a valid API token as "Authorization: Bearer <token>".',
  },
  'insufficient-scope': {
    instance: '/api/v1/network/contacts',
    detail: 'This operation needs the "contacts.write" scope; the token has "contacts.read".',
    extensions: { requiredScope: 'contacts.write' },
  },
  'not-found': {
    instance: EXAMPLE_CONTACT_PATH,
    detail: 'Contact bf80341f-ed94-4202-9eab-d0f128cbb552 does not exist in your organization.',
  },
  'route-not-found': {
    instance: '/api/v1/network/contact',
    detail: 'No operation GET /api/v1/network/contact.',
  },
  conflict: {
    instance: '/api/v1/network/contacts',
    detail: 'The email jane@example.com already belongs to another contact (bf80341f-ed94-4202-9eab-d0f128cbb552).',
    extensions: { conflictField: 'email', conflictingContactId: 'bf80341f-ed94-4202-9eab-d0f128cbb552' },
  },
  'idempotency-key-in-use': {
    instance: '/api/v1/network/contacts',
    detail: 'A request with this Idempotency-Key is still running; retry shortly to get its answer.',
  },
  'webhook-limit-reached': {
    instance: '/api/v1/webhooks',
    detail: 'Your organization has 20 webhooks, the most it may have; delete one first.',
    extensions: { limit: 20 },
  },
  'contact-field-limit-reached': {
    instance: '/api/v1/network/contact-fields',
    detail:
      'Your organization has 200 custom contact fields, the most it may have (archived ones count); delete one first.',
    extensions: { limit: 200 },
  },
  'contact-field-in-use': {
    instance: '/api/v1/network/contact-fields/membership_tier',
    detail:
      'Contacts (deleted ones included) hold values of membership_tier; archive it instead (PATCH archived: true), or clear those values first.',
  },
  'request-timeout': {
    instance: '',
    detail: 'The request was not received completely in time.',
  },
  'precondition-failed': {
    instance: EXAMPLE_CONTACT_PATH,
    detail: 'The contact changed since you read it; fetch it again, merge, and retry with the new ETag.',
    extensions: { currentEtag: 'W/"-3P9it5mWtngLyCCagWdzr"' },
  },
  'events-expired': {
    instance: '/api/v1/network/events?after=1200',
    detail: 'Events after 1200 are no longer all kept (retention removed events through 4810).',
    extensions: { resumeAfter: 9312 },
  },
  'payload-too-large': {
    instance: '/api/v1/network/contacts/batch',
    detail: 'The body is larger than this server accepts.',
  },
  'unsupported-media-type': {
    instance: '/api/v1/network/contacts',
    detail: 'Send the body as application/json.',
  },
  'idempotency-key-reused': {
    instance: '/api/v1/network/contacts',
    detail: 'This Idempotency-Key was first used for a different request (method, path or body).',
  },
  'location-mismatch': {
    instance: '/api/v1/network/contacts/upsert',
    detail: "locationId is not your organization's id; send that id or leave locationId out.",
    extensions: { errors: { locationId: ["is not your organization's id; send that id or leave locationId out"] } },
  },
  'batch-rolled-back': {
    instance: '/api/v1/network/contacts/batch',
    detail: 'Another item of this atomic batch failed, so nothing was stored.',
  },
  'precondition-required': {
    instance: EXAMPLE_CONTACT_PATH,
    detail: 'Your organization requires If-Match on updates; send the ETag you last read.',
  },
  'headers-too-large': {
    instance: '',
    detail: 'The request line and headers are larger than this server accepts.',
  },
  'rate-limited': {
    instance: '/api/v1/network/contacts',
    detail: 'Rate limit of 600 requests per minute exceeded; the next request fits in 1 s.',
  },
  'internal-error': {
    instance: '/api/v1/network/contacts',
    detail: 'An unexpected error occurred; it has been logged with this traceId.',
  },
  'service-unavailable': {
    instance: '/api/v1/network/contacts',
    detail: 'The database did not answer in time; retry shortly.',
  },
} satisfies Record<ProblemCode, { instance: string; detail: string; extensions?: Partial<Problem> }>;

/** A problem body as the error handler sends it, for documentation. */
export function exampleProblem(
  code: ProblemCode,
  occurrence: { instance: string; detail: string; extensions?: Partial<Problem> } = problemOccurrences[code],
): Problem {
  const { status, title } = problemRegistry[code];
  return {
    type: problemType(code),
    title,
    status,
    detail: occurrence.detail,
    instance: occurrence.instance,
    traceId: EXAMPLE_TRACE_ID,
    ...occurrence.extensions,
  };
}

const problemExamples = Object.fromEntries(
  (Object.keys(problemOccurrences) as ProblemCode[]).map((code) => [
    code,
    { summary: problemRegistry[code].title, value: exampleProblem(code) },
  ]),
) as Record<ProblemCode, Example>;

/** A batch answer as the batch envelope builds it from its results, for documentation. */
export function exampleBatchAnswer(results: BatchResult[]): { results: BatchResult[]; summary: BatchSummary } {
  const count = (action: BatchAction) => results.filter((result) => result.action === action).length;
  return {
    results,
    summary: {
      total: results.length,
      created: count('created'),
      updated: count('updated'),
      revived: count('revived'),
      unchanged: count('unchanged'),
      failed: results.filter((result) => result.problem !== null).length,
    },
  };
}

/** The `security` of an operation anyone may call without a token (probes, problem types). */
export const PUBLIC_SECURITY: never[] = [];

/**
 * Problems any request can meet before it reaches an operation: Node's HTTP parser answers them.
 * Declared on the operations that have no other client error to document.
 */
export const TRANSPORT_PROBLEMS = ['request-timeout', 'headers-too-large'] as const;

/** The problems whose answer says, in Retry-After, when a retry may succeed. */
const RETRY_AFTER_PROBLEMS: ReadonlySet<ProblemCode> = new Set([
  'idempotency-key-in-use',
  'rate-limited',
  'service-unavailable',
]);

/** Problem responses for a route's schema, grouped by status, each with an example per problem. */
export function problemResponses(...codes: ProblemCode[]): Record<number, unknown> {
  const responses: Record<number, unknown> = {};
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set([...codes, 'internal-error' as const])) {
    const { status } = problemRegistry[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, group] of byStatus) {
    const retryAfter = group.filter((code) => RETRY_AFTER_PROBLEMS.has(code));
    responses[status] = {
      description: group.map((code) => problemRegistry[code].title).join('; '),
      ...(retryAfter.length > 0
        ? {
            headers: {
              'Retry-After': Type.Integer({
                minimum: 0,
                description: `Seconds to wait before retrying (${retryAfter.map((code) => problemRegistry[code].title.toLowerCase()).join(', ')}).`,
              }),
            },
          }
        : {}),
      content: {
        'application/problem+json': {
          schema: Type.Ref('Problem'),
          examples: Object.fromEntries(
            group.map((code) => [code, sharedExample(`problem-${code}`, problemExamples[code])]),
          ),
        },
      },
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

export function SystemName(options: { description?: string; examples?: string[] } = {}) {
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

/** The path of a record addressed by its reference in another system: `/external/{namespace}/{id}`. */
export const ExternalRefParams = Type.Object(
  {
    namespace: SystemName({ description: 'The source system, e.g. `hubspot`; any case.', examples: ['hubspot'] }),
    id: Type.String({
      minLength: 1,
      maxLength: 255,
      description: "The record's id in that system, URL-encoded; case-sensitive.",
      examples: ['12345'],
    }),
  },
  { additionalProperties: false },
);

export const PageSchema = Type.Object(
  {
    nextCursor: Nullable(
      Type.String({
        description:
          'Pass as `cursor` to get the next page. On the last page it is where to resume later: it then returns only records changed since.',
      }),
    ),
    hasMore: Type.Boolean({ description: 'Whether more records follow right now.' }),
    pageSize: Type.Integer({ minimum: 0, description: 'How many records this page holds.' }),
  },
  { $id: 'Page', additionalProperties: false, description: 'Where a page of a change feed ends.' },
);

export const ListQuery = QueryString({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Records per page.' }),
  cursor: Type.Optional(
    Type.String({ maxLength: 2000, description: "A page's nextCursor; it carries the filters of the first page." }),
  ),
  updated_since: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'Only records changed at or after this time (ISO 8601), on the first page.',
      examples: ['2026-12-01T00:00:00Z'],
    }),
  ),
  include_deleted: Type.Optional(
    Type.Boolean({ description: 'Also list soft-deleted records (default false), on the first page.' }),
  ),
});
export type ListQueryInput = Static<typeof ListQuery>;
