import { uniqueConstraintFields } from '../db/constraints.js';
import { isPostgresError, SqlState } from '../db/sqlstate.js';
import { DatabaseUnavailableError } from '../db/unavailable.js';

interface ProblemDefinition {
  readonly status: number;
  readonly title: string;
  readonly description: string;
}

/** Every problem the API can answer with. `type` URIs are built from these codes and never change. */
export const problemRegistry = {
  'validation-failed': {
    status: 400,
    title: 'Validation failed',
    description: 'One or more fields are invalid; `errors` maps each field path to its messages.',
  },
  'malformed-request': {
    status: 400,
    title: 'Malformed request',
    description:
      'The body is not valid JSON, is empty where a body is needed, or has a forbidden property such as __proto__.',
  },
  'invalid-cursor': {
    status: 400,
    title: 'Invalid cursor',
    description: 'The cursor was not issued by this API for this organization, or it was altered.',
  },
  unauthorized: {
    status: 401,
    title: 'Unauthorized',
    description: 'The request has no valid bearer token (missing, unknown, revoked or expired).',
  },
  'insufficient-scope': {
    status: 403,
    title: 'Insufficient scope',
    description: 'The token is valid but lacks the scope this operation needs.',
  },
  'not-found': {
    status: 404,
    title: 'Not found',
    description: 'The resource does not exist in your organization (or was deleted).',
  },
  'route-not-found': {
    status: 404,
    title: 'Route not found',
    description: 'No operation matches this method and path.',
  },
  conflict: {
    status: 409,
    title: 'Conflict',
    description: 'The change would break a uniqueness rule.',
  },
  'idempotency-key-in-use': {
    status: 409,
    title: 'Idempotency key in use',
    description:
      'Another request with this Idempotency-Key is still running; retry after Retry-After seconds to get its answer.',
  },
  'webhook-limit-reached': {
    status: 409,
    title: 'Webhook limit reached',
    description: 'Your organization has as many webhooks as it may have; delete one before creating another.',
  },
  'contact-field-limit-reached': {
    status: 409,
    title: 'Custom field limit reached',
    description:
      'Your organization has as many custom contact fields as it may have (archived ones count); delete one before creating another.',
  },
  'contact-field-in-use': {
    status: 409,
    title: 'Custom field in use',
    description:
      'Contacts (deleted ones included) still hold values of this custom field, or of the options the change removes: archive the field instead, or clear those values first.',
  },
  'request-timeout': {
    status: 408,
    title: 'Request timeout',
    description: "The request (headers and body) did not arrive within the server's time limit.",
  },
  'precondition-failed': {
    status: 412,
    title: 'Precondition failed',
    description: 'If-Match does not match the current ETag: the resource changed since you read it.',
  },
  'events-expired': {
    status: 410,
    title: 'Events expired',
    description:
      'Events after the `after` you sent are no longer kept (EVENT_RETENTION_DAYS): resynchronize from the lists, then follow the log from `resumeAfter`.',
  },
  'payload-too-large': {
    status: 413,
    title: 'Payload too large',
    description: 'The body is larger than the configured BODY_LIMIT.',
  },
  'unsupported-media-type': {
    status: 415,
    title: 'Unsupported media type',
    description: 'Send request bodies as application/json.',
  },
  'idempotency-key-reused': {
    status: 422,
    title: 'Idempotency key reused',
    description:
      'This Idempotency-Key was used for a different request (method, path or body); use a new key for a new request.',
  },
  'location-mismatch': {
    status: 422,
    title: 'Location is not your organization',
    description:
      "The request's locationId is not the id of the organization your token belongs to; send that id or leave the field out.",
  },
  'batch-rolled-back': {
    status: 424,
    title: 'Batch rolled back',
    description: 'This item was valid, but another item of the atomic batch failed, so nothing was stored.',
  },
  'precondition-required': {
    status: 428,
    title: 'Precondition required',
    description: 'Your organization requires If-Match on updates; read the resource and send its ETag.',
  },
  'headers-too-large': {
    status: 431,
    title: 'Request header fields too large',
    description: 'The request line and headers together exceed the size this server accepts.',
  },
  'rate-limited': {
    status: 429,
    title: 'Too many requests',
    description: 'The token exceeded its request rate; retry after the number of seconds in Retry-After.',
  },
  'internal-error': {
    status: 500,
    title: 'Internal server error',
    description: 'An unexpected error; it is logged with the traceId of the response.',
  },
  'service-unavailable': {
    status: 503,
    title: 'Service unavailable',
    description: 'The database is unreachable, overloaded or briefly busy; retry after Retry-After seconds.',
  },
} as const satisfies Record<string, ProblemDefinition>;

export type ProblemCode = keyof typeof problemRegistry;

export const PROBLEM_TYPE_BASE = '/problems/';

export function problemType(code: ProblemCode): string {
  return `${PROBLEM_TYPE_BASE}${code}`;
}

export type FieldErrors = Record<string, string[]>;

/** Extra members a problem carries besides the standard ones (`errors`, `conflictField`, …). */
export type ProblemExtensions = Record<string, unknown>;

/** The one error type domain code throws. */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly extensions: ProblemExtensions = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }

  static validation(errors: FieldErrors): AppError {
    const result = boundedFieldErrors(errors);
    return new AppError('validation-failed', describeFieldErrors(result.errors, result.errorsTruncated), result);
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  traceId: string;
  [extension: string]: unknown;
}

export interface ProblemResponse {
  body: ProblemBody;
  headers: Record<string, string>;
  /** Unexpected errors are logged in full; expected ones are not noise. */
  unexpected: boolean;
}

export interface ProblemContext {
  instance: string;
  traceId: string;
}

// The detail names a few fields; `errors` has them all (up to MAX_FIELD_ERRORS).
const FIELDS_NAMED_IN_DETAIL = 10;

export function describeFieldErrors(errors: FieldErrors, truncated = false): string {
  const fields = Object.keys(errors);
  if (fields.length === 1 && !truncated) {
    const [field] = fields as [string];
    return `${field}: ${errors[field]?.join('; ')}`;
  }
  const count = truncated ? `More than ${fields.length}` : String(fields.length);
  const named = fields.slice(0, FIELDS_NAMED_IN_DETAIL).join(', ');
  const rest = fields.length > FIELDS_NAMED_IN_DETAIL ? ', …' : '';
  return `${count} fields are invalid: ${named}${rest}`;
}

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/emails/0/address` → `emails[0].address`, the form clients use in code. */
export function fieldPath(instancePath: string, child?: string): string {
  const segments = instancePath.split('/').slice(1);
  if (child !== undefined) segments.push(child);
  let result = '';
  for (const raw of segments) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(segment)) result += `[${segment}]`;
    else result += result === '' ? segment : `.${segment}`;
  }
  return result;
}

const formatMessages: Record<string, string> = {
  'email-address': 'must be a valid email address',
  'iso639-1': 'must be an ISO 639-1 language code such as "en" or "sv"',
  'linkedin-profile': 'must be a LinkedIn profile URL: https://www.linkedin.com/in/{slug}',
  'date-time': 'must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z',
  uuid: 'must be a UUID',
  uri: 'must be an absolute URL',
  'idempotency-key': 'must be 1 to 255 printable ASCII characters',
};

/** Past this many, a client learns nothing more and the answer only grows; the rest is counted, not listed. */
export const MAX_FIELD_ERRORS = 100;
// Field paths come from the client's own keys, which can be megabytes long.
const MAX_FIELD_PATH_LENGTH = 200;

function boundedPath(path: string): string {
  return path.length <= MAX_FIELD_PATH_LENGTH ? path : `${path.slice(0, MAX_FIELD_PATH_LENGTH - 1)}…`;
}

/**
 * Collects field → messages from client-chosen keys. A Map, not an object: a field named `constructor`
 * or `__proto__` must not meet Object.prototype's members.
 */
class FieldErrorCollector {
  readonly #fields = new Map<string, string[]>();
  truncated = false;

  add(field: string, message: string): void {
    const key = boundedPath(field);
    const list = this.#fields.get(key);
    if (list !== undefined) {
      if (!list.includes(message)) list.push(message);
    } else if (this.#fields.size < MAX_FIELD_ERRORS) {
      this.#fields.set(key, [message]);
    } else {
      this.truncated = true;
    }
  }

  /** A plain object for the JSON body, built with defineProperty so every key is an own data property. */
  toFieldErrors(): FieldErrors {
    const result: FieldErrors = {};
    for (const [field, messages] of this.#fields) {
      Object.defineProperty(result, field, { value: messages, enumerable: true, writable: true, configurable: true });
    }
    return result;
  }
}

/** The `errors` member of a validation problem, bounded, with `errorsTruncated` when some were left out. */
export function boundedFieldErrors(errors: FieldErrors): { errors: FieldErrors; errorsTruncated?: true } {
  const collector = new FieldErrorCollector();
  for (const field of Object.keys(errors)) {
    for (const message of errors[field] ?? []) collector.add(field, message);
  }
  return collectorResult(collector);
}

function collectorResult(collector: FieldErrorCollector): { errors: FieldErrors; errorsTruncated?: true } {
  const errors = collector.toFieldErrors();
  return collector.truncated ? { errors, errorsTruncated: true } : { errors };
}

export function validationErrors(
  errors: readonly AjvLikeError[],
  context?: string,
): { errors: FieldErrors; errorsTruncated?: true } {
  const collector = new FieldErrorCollector();
  const add = (field: string, message: string) => collector.add(field === '' ? (context ?? 'body') : field, message);
  for (const error of errors) {
    switch (error.keyword) {
      // boundedSchema's if/then/else: the failing size rule reports for itself.
      case 'if':
        break;
      case 'maxProperties':
        add(fieldPath(error.instancePath), `has more than ${String(error.params.limit)} fields`);
        break;
      case 'required':
        add(fieldPath(error.instancePath, String(error.params.missingProperty)), 'is required');
        break;
      case 'additionalProperties':
        add(fieldPath(error.instancePath, String(error.params.additionalProperty)), 'is not a known field');
        break;
      case 'type':
        add(fieldPath(error.instancePath), `must be ${String(error.params.type).replace(',', ' or ')}`);
        break;
      case 'enum':
        add(
          fieldPath(error.instancePath),
          `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
        );
        break;
      case 'format':
        add(
          fieldPath(error.instancePath),
          (Object.hasOwn(formatMessages, String(error.params.format))
            ? formatMessages[String(error.params.format)]
            : undefined) ?? `must be a valid ${String(error.params.format)}`,
        );
        break;
      case 'discriminator': {
        const tag = String(error.params.tag);
        add(
          fieldPath(error.instancePath, tag),
          error.params.error === 'mapping' ? 'is not one of the accepted kinds' : 'is required',
        );
        break;
      }
      case 'const':
        add(fieldPath(error.instancePath), `must be ${JSON.stringify(error.params.allowedValue)}`);
        break;
      default:
        add(fieldPath(error.instancePath), error.message ?? `fails the "${error.keyword}" rule`);
    }
  }
  return collectorResult(collector);
}

function build(
  code: ProblemCode,
  detail: string,
  context: ProblemContext,
  extensions: ProblemExtensions = {},
  headers: Record<string, string> = {},
  unexpected = false,
): ProblemResponse {
  const { status, title } = problemRegistry[code];
  return {
    body: {
      type: problemType(code),
      title,
      status,
      detail,
      instance: context.instance,
      traceId: context.traceId,
      ...extensions,
    },
    headers,
    unexpected,
  };
}

interface FrameworkError {
  code?: string;
  statusCode?: number;
  validation?: AjvLikeError[];
  validationContext?: string;
}

const frameworkProblems: Record<string, [ProblemCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported-media-type', 'Send the body as application/json.'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['payload-too-large', 'The body is larger than this server accepts.'],
  // Fastify reports a __proto__ or constructor.prototype key (prototype poisoning) as invalid JSON too.
  FST_ERR_CTP_INVALID_JSON_BODY: [
    'malformed-request',
    'The body is not valid JSON, or it has a forbidden key such as __proto__.',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: [
    'malformed-request',
    'The body is empty but Content-Type is application/json; send a JSON document.',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['malformed-request', 'Content-Length does not match the body.'],
  FST_ERR_CTP_INVALID_TYPE: ['unsupported-media-type', 'The Content-Type header is malformed.'],
};

const RETRY_SOON = { 'retry-after': '1' };

const DATABASE_UNAVAILABLE_DETAIL: Record<DatabaseUnavailableError['reason'], string> = {
  checkout: 'The database cannot be reached right now; retry shortly.',
  'connection-lost':
    'The connection to the database was lost; retry shortly (repeating an upsert or an If-Match update is safe).',
  timeout: 'The database did not answer in time; retry shortly.',
};

/**
 * Turns any error into a problem+json response. Pure: decides on error types and codes, never on
 * message text, so it is unit-tested on its own.
 */
export function toProblem(error: unknown, context: ProblemContext): ProblemResponse {
  if (error instanceof AppError) {
    return build(error.code, error.detail, context, error.extensions, error.headers);
  }
  const framework = (typeof error === 'object' && error !== null ? error : {}) as FrameworkError;
  if (Array.isArray(framework.validation)) {
    const result = validationErrors(framework.validation, framework.validationContext);
    return build('validation-failed', describeFieldErrors(result.errors, result.errorsTruncated), context, result);
  }
  if (framework.code !== undefined && Object.hasOwn(frameworkProblems, framework.code)) {
    const [code, detail] = frameworkProblems[framework.code] as [ProblemCode, string];
    return build(code, detail, context);
  }
  // secure-json-parse rejects __proto__ / constructor.prototype keys with a SyntaxError carrying 400.
  if (error instanceof SyntaxError && framework.statusCode === 400) {
    return build('malformed-request', 'The body is not valid JSON or contains a forbidden property.', context);
  }
  if (error instanceof DatabaseUnavailableError) {
    return build('service-unavailable', DATABASE_UNAVAILABLE_DETAIL[error.reason], context, {}, RETRY_SOON);
  }
  if (isPostgresError(error)) {
    // Class 08: the connection itself failed (the server went away between statements, a proxy dropped it).
    if (error.code.startsWith('08')) {
      return build('service-unavailable', DATABASE_UNAVAILABLE_DETAIL['connection-lost'], context, {}, RETRY_SOON);
    }
    switch (error.code) {
      case SqlState.uniqueViolation:
        return build('conflict', 'The change conflicts with existing data.', context, {
          conflictField: (error.constraint && uniqueConstraintFields[error.constraint]) ?? null,
        });
      case SqlState.foreignKeyViolation:
        // A reference to a row that is gone (or a delete of a row still referenced): the client's data, not our bug.
        return build('conflict', 'The change refers to data that does not exist or is still in use.', context);
      case SqlState.serializationFailure:
      case SqlState.deadlockDetected:
      case SqlState.lockNotAvailable:
        return build(
          'service-unavailable',
          'A concurrent change got in the way; retry the request.',
          context,
          {},
          RETRY_SOON,
        );
      case SqlState.queryCanceled:
      case SqlState.tooManyConnections:
      // Also "out of shared memory" when the lock table is full: it clears as transactions end.
      case SqlState.outOfMemory:
      case SqlState.cannotConnectNow:
      case SqlState.adminShutdown:
      case SqlState.crashShutdown:
        return build(
          'service-unavailable',
          'The database is busy or restarting; retry shortly.',
          context,
          {},
          RETRY_SOON,
        );
    }
  }
  if (isConnectionError(error)) {
    return build('service-unavailable', 'The database is unreachable; retry shortly.', context, {}, RETRY_SOON, true);
  }
  const status = framework.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && framework.code?.startsWith('FST_')) {
    return build(
      status === 404 ? 'route-not-found' : 'malformed-request',
      'The request could not be processed.',
      context,
    );
  }
  return build(
    'internal-error',
    'An unexpected error occurred; it has been logged with this traceId.',
    context,
    {},
    {},
    true,
  );
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE']);

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_ERROR_CODES.has(code);
}
