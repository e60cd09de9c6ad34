/**
 * Generators of malformed requests, shared by the fuzz test (through app.inject) and by
 * scripts/resilience.ts (against a real server). Every generated request carries at least one defect
 * that the API must refuse with a 4xx problem, mixed with values that may or may not be valid.
 */
import fc from 'fast-check';

export interface HostileRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** What makes it malformed, for the failure message. */
  defect: string;
}

/** A route under fuzz: its method and path, the fields its body or query knows, and whose token it needs. */
export interface FuzzTarget {
  name: string;
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  bodyFields?: readonly string[];
  queryFields?: readonly string[];
}

// Keys that have broken JavaScript servers: prototype members, empty and odd names.
const NASTY_KEYS = [
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '__lookupSetter__',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  'prototype',
  '',
  ' ',
  'a.b',
  '[0]',
  'emails[0]',
  '$ref',
  'null',
  'undefined',
  'k'.repeat(300),
];

const nul = fc.string({ maxLength: 20 }).map((text) => `${text}\u0000${text}`);
const loneSurrogate = fc
  .tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0xd800, max: 0xdfff }))
  .map(([text, unit]) => `${text}${String.fromCharCode(unit)}`);

/** Any JSON value a client might send, from plausible to absurd; small enough for many runs. */
export const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 30 }),
    fc.string({ unit: 'grapheme', maxLength: 10 }),
    fc.constantFrom('', ' ', 'null', 'true', '0', 'jane@example.com', '+46701234567', 'https://x.test', 'en'),
    nul,
    loneSurrogate,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...NASTY_KEYS), fc.string({ maxLength: 8 })), tie('value'), {
      maxKeys: 4,
    }),
  ),
})).value;

type Defect = (fields: readonly string[]) => fc.Arbitrary<{ body: Record<string, unknown>; defect: string }>;

/** Body-level defects: each alone makes the request invalid, whatever else the body holds. */
const bodyDefects: Defect[] = [
  () => fc.constantFrom(...NASTY_KEYS).map((key) => ({ body: { [key]: 1 }, defect: `unknown field ${key}` })),
  (fields) =>
    fc
      .tuple(fc.constantFrom(...fields), nul)
      .map(([field, text]) => ({ body: { [field]: text }, defect: `NUL in ${field}` })),
  (fields) =>
    fc
      .tuple(fc.constantFrom(...fields), loneSurrogate)
      .map(([field, text]) => ({ body: { [field]: text }, defect: `lone surrogate in ${field}` })),
  (fields) =>
    fc.tuple(fc.constantFrom(...fields), fc.integer({ min: 1_001, max: 2_000 })).map(([field, length]) => ({
      body: { [field]: Array(length).fill(0) },
      defect: `${length} numbers in ${field}`,
    })),
];

const rawDefects: Array<fc.Arbitrary<{ text: string | Buffer; contentType?: string; defect: string }>> = [
  fc.constantFrom('{', '{"a":}', 'nul', '[1,]', '{"a" 1}', '\u0000', '{}}', '"', "{'a':1}").map((text) => ({
    text,
    defect: `not JSON: ${JSON.stringify(text)}`,
  })),
  fc
    .constantFrom('[]', '"text"', '42', 'null', 'true', '[{}]')
    .map((text) => ({ text, defect: `not an object: ${text}` })),
  fc
    .constantFrom(...NASTY_KEYS.slice(0, 8))
    .map((key) => ({ text: `{"${key}":1,"${key}":2}`, defect: `repeated key ${key}` })),
  fc
    .integer({ min: 65, max: 5_000 })
    .map((depth) => ({ text: `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`, defect: `depth ${depth}` })),
  fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]).map((bytes) => ({
    text: Buffer.concat([Buffer.from('{"x":"'), Buffer.from(bytes), Buffer.from('"}')]),
    defect: `invalid UTF-8 ${bytes.join(',')}`,
  })),
  fc.constantFrom('latin1', 'utf-16', 'iso-8859-1', 'windows-1252', 'ascii').map((charset) => ({
    text: '{}',
    contentType: `application/json; charset=${charset}`,
    defect: `charset ${charset}`,
  })),
  fc
    .constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data')
    .map((contentType) => ({ text: '{}', contentType, defect: `content type ${contentType}` })),
];

export function hostileBodyRequest(target: FuzzTarget, headers: Record<string, string>): fc.Arbitrary<HostileRequest> {
  const fields = target.bodyFields ?? [];
  const noise = fc.dictionary(fc.constantFrom(...fields), anyValue, { maxKeys: Math.min(4, fields.length) });
  const structured = fc
    .tuple(noise, fc.oneof(...bodyDefects.map((defect) => defect(fields))))
    .map(([extra, { body, defect }]) => ({
      text: JSON.stringify({ ...extra, ...body }),
      contentType: 'application/json',
      defect,
    }));
  return fc
    .oneof({ weight: 3, arbitrary: structured }, { weight: 2, arbitrary: fc.oneof(...rawDefects) })
    .map(({ text, contentType, defect }) => ({
      method: target.method,
      url: target.path,
      headers: { ...headers, 'content-type': contentType ?? 'application/json' },
      payload: text,
      defect,
    }));
}

const queryValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  nul,
  fc.constantFrom('-1', '0', '501', '1e309', 'NaN', '99999999999999999999', 'true', '2026-13-45', '%', '%zz', '%ff'),
);

export function hostileQueryRequest(target: FuzzTarget, headers: Record<string, string>): fc.Arbitrary<HostileRequest> {
  const fields = target.queryFields ?? [];
  const defect = fc.oneof(
    fc.tuple(fc.constantFrom(...NASTY_KEYS.filter((key) => key !== '')), queryValue).map(([key, value]) => ({
      query: `${encodeURIComponent(key)}=${encodeURIComponent(value)}`,
      defect: `unknown parameter ${key}`,
    })),
    fc.tuple(fc.constantFrom(...fields), nul).map(([field, value]) => ({
      query: `${field}=${encodeURIComponent(value)}`,
      defect: `NUL in ${field}`,
    })),
    fc
      .constantFrom('limit=0', 'limit=501', 'limit=abc', 'limit=1.5', 'updated_since=yesterday', 'cursor=%00')
      .map((query) => ({ query, defect: query })),
  );
  const noise = fc.array(
    fc.tuple(fc.constantFrom(...fields), queryValue).map(([key, value]) => `${key}=${encodeURIComponent(value)}`),
    { maxLength: 3 },
  );
  return fc.tuple(noise, defect).map(([extra, { query, defect: what }]) => ({
    method: 'GET' as const,
    url: `${target.path}?${[...extra, query].join('&')}`,
    headers,
    defect: what,
  }));
}

/** Nothing a client sees may come from inside: no stack, SQL, driver or file path. */
export const INTERNAL_TEXT =
  /postgres|\bselect\b.*\bfrom\b|insert into|node_modules|\.ts:\d|\/src\/|\bat [\w.<>]+ \(|stack|sqlstate/i;

interface OpenApiOperation {
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content?: Record<string, { schema?: { $ref?: string; properties?: Record<string, unknown> } }> };
}
interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, { properties?: Record<string, unknown> }> };
}

export interface FuzzIds {
  contactId: string;
  companyId: string;
  webhookId: string;
  organizationId: string;
  tokenId: string;
  contactFieldKey: string;
}

/**
 * Every operation that takes a body or query parameters, read from the OpenAPI document, so a new
 * route is fuzzed without being listed anywhere. Path parameters are filled with existing ids.
 */
export function fuzzTargets(document: OpenApiDocument, ids: FuzzIds): FuzzTarget[] {
  const targets: FuzzTarget[] = [];
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const upper = method.toUpperCase();
      if (upper !== 'GET' && upper !== 'POST' && upper !== 'PATCH') continue;
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      const resolved = schema?.$ref ? document.components?.schemas?.[schema.$ref.split('/').pop() ?? ''] : schema;
      const bodyFields = Object.keys(resolved?.properties ?? {});
      const queryFields = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      if (upper === 'GET' ? queryFields.length === 0 : operation.requestBody === undefined) continue;
      const concrete = path
        .replace('{orgId}', ids.organizationId)
        .replace('{tokenId}', ids.tokenId)
        .replace('{key}', ids.contactFieldKey)
        .replace('{namespace}', 'hubspot')
        .replace(/\/external\/hubspot\/\{id\}/, '/external/hubspot/fuzz-1')
        .replace(
          '{id}',
          path.includes('/companies') ? ids.companyId : path.includes('/webhooks') ? ids.webhookId : ids.contactId,
        );
      targets.push({
        name: `${upper} ${path}`,
        method: upper,
        path: concrete,
        bodyFields: bodyFields.length > 0 ? bodyFields : ['name'],
        queryFields,
      });
    }
  }
  return targets;
}
