import { Ajv, type Options } from 'ajv';
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
  strict: false,
};

function createAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...shared, ...options });
  addFormats(ajv);
  for (const [name, validate] of Object.entries(customFormats)) ajv.addFormat(name, { type: 'string', validate });
  return ajv;
}

/**
 * Bodies are validated exactly as sent: no type coercion ("123" stays a string) and no defaults
 * (PATCH must see which fields were present). Query strings and path parameters arrive as text and
 * are coerced (`limit=7` → 7) with defaults applied.
 */
export function createValidatorCompiler(sharedSchemas: Record<string, unknown>): FastifySchemaCompiler<unknown> {
  const bodyAjv = createAjv({ coerceTypes: false, useDefaults: false });
  const textAjv = createAjv({ coerceTypes: 'array', useDefaults: true });
  for (const schema of Object.values(sharedSchemas)) {
    bodyAjv.addSchema(schema as object);
    textAjv.addSchema(schema as object);
  }
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? bodyAjv : textAjv;
    return ajv.compile(schema as object);
  };
}
