import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { customFormats } from './formats.js';

// ajv-formats is CommonJS; under ES modules its default export arrives wrapped.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsImport as unknown as { default?: AddFormats }).default ??
  addFormatsImport) as unknown as AddFormats;

const shared: Options = {
  // Report every failing field at once instead of the first.
  allErrors: true,
  // Unknown fields are an error the client must hear about, never silently dropped.
  removeAdditional: false,
  // oneOf with a discriminator checks only the branch its tag names, so errors speak of that branch.
  discriminator: true,
  strict: false,
};

function createAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...shared, ...options });
  addFormats(ajv);
  for (const [name, validate] of Object.entries(customFormats)) ajv.addFormat(name, { type: 'string', validate });
  return ajv;
}

/** An object may carry this many unknown fields, each named in the answer, before it is refused as a whole. */
export const UNKNOWN_FIELDS_NAMED = 100;
/** Objects whose keys are data (maps such as `errors`) hold at most this many. */
export const MAX_MAP_ENTRIES = 1_000;

type JsonSchema = Record<string, unknown>;

const SUBSCHEMA_KEYS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains'] as const;
const SUBSCHEMA_LIST_KEYS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const;
const SUBSCHEMA_MAP_KEYS = ['properties', 'patternProperties', '$defs', 'definitions'] as const;

/** What a value's elements or characters are checked against only once its size is within bounds. */
const ARRAY_CONTENT = ['items', 'uniqueItems', 'contains', 'prefixItems'] as const;
const STRING_CONTENT = ['format', 'pattern'] as const;
const OBJECT_CONTENT = ['properties', 'patternProperties', 'additionalProperties', 'required', 'dependentRequired'];

function pick(schema: JsonSchema, keys: readonly string[]): [JsonSchema, JsonSchema] {
  const picked: JsonSchema = {};
  const rest: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (keys.includes(key)) picked[key] = value;
    else rest[key] = value;
  }
  return [picked, rest];
}

/** `if: <size within bounds> then: <content rules> else: <the size rule>`, so only the size rule reports. */
function sizeFirst(schema: JsonSchema, sizeKeyword: string, bound: number, contentKeys: readonly string[]): JsonSchema {
  const [content, rest] = pick(schema, contentKeys);
  if (Object.keys(content).length === 0) return schema;
  const size = { [sizeKeyword]: bound };
  // biome-ignore lint/suspicious/noThenProperty: a JSON Schema keyword, never awaited
  const guarded = { if: size, then: content, else: size };
  // A schema may already use if/then/else; nest it so neither is lost.
  return rest.if === undefined
    ? { ...rest, ...guarded }
    : { ...rest, allOf: [...((rest.allOf as unknown[]) ?? []), guarded] };
}

/**
 * The schema the validator runs, derived from the one the OpenAPI document shows. Validation cost is
 * bounded by the schema rather than by the body: an array over its maxItems, a string over its
 * maxLength or an object with far too many keys is refused by that one rule, before any element,
 * character or key is examined (with allErrors, Ajv would otherwise report every one of a million
 * elements).
 */
export function boundedSchema(input: unknown, options: { keepShape?: boolean } = {}): unknown {
  if (Array.isArray(input)) return input.map((item) => boundedSchema(item));
  if (typeof input !== 'object' || input === null) return input;
  let schema: JsonSchema = { ...(input as JsonSchema) };
  // A discriminator reads its tag from each branch's own `properties`, so branches keep their shape.
  if (schema.discriminator !== undefined && Array.isArray(schema.oneOf)) {
    schema.oneOf = schema.oneOf.map((branch) => boundedSchema(branch, { keepShape: true }));
  }
  for (const key of SUBSCHEMA_KEYS) {
    if (typeof schema[key] === 'object' && schema[key] !== null) schema[key] = boundedSchema(schema[key]);
  }
  for (const key of SUBSCHEMA_LIST_KEYS) {
    if (key === 'oneOf' && schema.discriminator !== undefined) continue;
    if (Array.isArray(schema[key])) schema[key] = (schema[key] as unknown[]).map((item) => boundedSchema(item));
  }
  for (const key of SUBSCHEMA_MAP_KEYS) {
    const map = schema[key];
    if (typeof map === 'object' && map !== null) {
      schema[key] = Object.fromEntries(Object.entries(map).map(([name, sub]) => [name, boundedSchema(sub)]));
    }
  }
  // A batch's items are validated one by one by the batch itself, so that an invalid item fails alone.
  if (schema['x-validated-per-item'] === true) schema.items = {};
  if (typeof schema.maxItems === 'number') schema = sizeFirst(schema, 'maxItems', schema.maxItems, ARRAY_CONTENT);
  if (typeof schema.maxLength === 'number') schema = sizeFirst(schema, 'maxLength', schema.maxLength, STRING_CONTENT);
  if (!options.keepShape && (typeof schema.properties === 'object' || schema.additionalProperties !== undefined)) {
    const declared = Object.keys((schema.properties as object | undefined) ?? {}).length;
    const closed = schema.additionalProperties === false && schema.patternProperties === undefined;
    const bound =
      typeof schema.maxProperties === 'number'
        ? schema.maxProperties
        : closed
          ? declared + UNKNOWN_FIELDS_NAMED
          : MAX_MAP_ENTRIES;
    schema = sizeFirst(schema, 'maxProperties', bound, OBJECT_CONTENT);
  }
  return schema;
}

/**
 * Text that PostgreSQL cannot store, or would store altered: the NUL character (text columns refuse
 * it) and UTF-16 surrogates without their pair (JSON lets `"\ud800"` through; PostgreSQL would store
 * U+FFFD in its place, or refuse it in jsonb). Keys are checked like values. The walk is iterative so
 * deep documents cannot overflow the stack.
 */
export function unsafeTextErrors(data: unknown, skipRootKeys: ReadonlySet<string> = new Set()): ErrorObject[] {
  const errors: ErrorObject[] = [];
  const report = (instancePath: string, message: string) =>
    errors.push({ instancePath, schemaPath: '#', keyword: 'text', params: {}, message });
  const check = (text: string, instancePath: string) => {
    if (text.includes('\u0000')) report(instancePath, 'must not contain the NUL character');
    else if (!text.isWellFormed()) report(instancePath, 'must be valid Unicode text (it has an unpaired surrogate)');
  };
  const pending: Array<[unknown, string]> = [[data, '']];
  while (pending.length > 0 && errors.length < 100) {
    const [value, path] = pending.pop() as [unknown, string];
    if (typeof value === 'string') {
      check(value, path);
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index -= 1) pending.push([value[index], `${path}/${index}`]);
    } else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value)) {
        if (path === '' && skipRootKeys.has(key)) continue;
        const childPath = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        check(key, childPath);
        pending.push([(value as Record<string, unknown>)[key], childPath]);
      }
    }
  }
  return errors;
}

interface CompiledValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/**
 * Bodies are validated exactly as sent: no type coercion ("123" stays a string) and no defaults
 * (PATCH must see which fields were present). Query strings and path parameters arrive as text and
 * are coerced (`limit=7` → 7) with defaults applied. Every part is first checked for text that could
 * not be stored as sent.
 */
export function createValidatorCompiler(sharedSchemas: Record<string, unknown>): FastifySchemaCompiler<unknown> {
  const bodyAjv = createAjv({ coerceTypes: false, useDefaults: false });
  const textAjv = createAjv({ coerceTypes: 'array', useDefaults: true });
  for (const schema of Object.values(sharedSchemas)) {
    bodyAjv.addSchema(boundedSchema(schema) as object);
    textAjv.addSchema(boundedSchema(schema) as object);
  }
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv;
    const validateSchema = ajv.compile(boundedSchema(schema) as object);
    // A batch's items are checked one by one (text included), so that bad text fails only its item.
    const properties =
      (schema as { properties?: Record<string, { 'x-validated-per-item'?: boolean }> }).properties ?? {};
    const perItem = new Set(
      Object.keys(properties).filter((key) => properties[key]?.['x-validated-per-item'] === true),
    );
    const validate: CompiledValidator = (data) => {
      const textErrors = unsafeTextErrors(data, perItem);
      const valid = validateSchema(data);
      const errors = [...textErrors, ...(validateSchema.errors ?? [])];
      validate.errors = errors.length > 0 ? errors : null;
      return valid && textErrors.length === 0;
    };
    return validate;
  };
}
