import type { ErrorObject } from 'ajv';
import { createValidatorCompiler } from '../../src/http/validation.js';

const DOCUMENT_ID = 'openapi.json';

export type OpenApiDocument = Record<string, any>;

/** `#/paths/~1contacts/get` from its segments, each escaped for a JSON pointer in a URI fragment. */
export function pointer(...segments: Array<string | number>): string {
  return `#/${segments.map((segment) => encodeURIComponent(String(segment).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;
}

/** The value a `#/…` pointer (as `pointer` builds them) designates in the document. */
export function resolvePointer(document: OpenApiDocument, target: string): any {
  return target
    .slice(2)
    .split('/')
    .map((segment) => decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((node, segment) => node?.[segment], document);
}

/**
 * Validates values against the schemas of an OpenAPI document as served, with the validator the
 * API validates requests with (its formats, its discriminator handling, no coercion).
 */
export function documentValidator(document: OpenApiDocument) {
  const compile = createValidatorCompiler({ [DOCUMENT_ID]: { ...document, $id: DOCUMENT_ID } });
  const compiled = new Map<string, (value: unknown) => ErrorObject[] | null>();
  return (schemaPointer: string, value: unknown): ErrorObject[] | null => {
    let validate = compiled.get(schemaPointer);
    if (validate === undefined) {
      const check = compile({
        schema: { $ref: `${DOCUMENT_ID}${schemaPointer}` },
        method: 'POST',
        url: '',
        httpPart: 'body',
      }) as ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
      validate = (data) => (check(data) ? null : (check.errors ?? []));
      compiled.set(schemaPointer, validate);
    }
    return validate(value);
  };
}
