import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { openApiDocument } from '../../src/http/openapi-document.js';
import { documentValidator, type OpenApiDocument, pointer, resolvePointer } from './openapi-validator.js';

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

interface FoundExample {
  /** Where the example is, for the failure message. */
  at: string;
  /** The schema it must validate against. */
  schema: string;
  value: unknown;
}

/** A media type's or parameter's `example` and `examples` (references to components resolved). */
function examplesOf(document: OpenApiDocument, holder: any, at: string, schema: string): FoundExample[] {
  const found: FoundExample[] = [];
  if ('example' in holder) found.push({ at: `${at}/example`, schema, value: holder.example });
  for (const [name, example] of Object.entries<any>(holder.examples ?? {})) {
    const resolved = example.$ref === undefined ? example : resolvePointer(document, example.$ref);
    assert.ok(resolved !== undefined, `${at}/examples/${name}: ${example.$ref} does not resolve`);
    found.push({ at: `${at}/examples/${name}`, schema, value: resolved.value });
  }
  return found;
}

/** Every example in the document, each with the schema it illustrates. */
function everyExample(document: OpenApiDocument): FoundExample[] {
  const found: FoundExample[] = [];
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const method of METHODS.filter((name) => name in item)) {
      const operation = item[method];
      (operation.parameters ?? []).forEach((parameter: any, index: number) => {
        const at = pointer('paths', path, method, 'parameters', index);
        found.push(...examplesOf(document, parameter, at, `${at}/schema`));
      });
      for (const [type, media] of Object.entries<any>(operation.requestBody?.content ?? {})) {
        const at = pointer('paths', path, method, 'requestBody', 'content', type);
        found.push(...examplesOf(document, media, at, `${at}/schema`));
      }
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        for (const [type, media] of Object.entries<any>(response.content ?? {})) {
          const at = pointer('paths', path, method, 'responses', status, 'content', type);
          found.push(...examplesOf(document, media, at, `${at}/schema`));
        }
      }
    }
  }
  // Schemas carry theirs as a JSON Schema `examples` array (media types and parameters use a map).
  const walk = (node: unknown, segments: Array<string | number>) => {
    if (Array.isArray(node)) {
      node.forEach((child, index) => {
        walk(child, [...segments, index]);
      });
    }
    if (typeof node !== 'object' || node === null) return;
    const schema = node as Record<string, unknown>;
    if (Array.isArray(schema.examples)) {
      schema.examples.forEach((value, index) => {
        found.push({ at: pointer(...segments, 'examples', index), schema: pointer(...segments), value });
      });
    }
    for (const [key, child] of Object.entries(schema)) {
      // Example values are data, not schemas.
      if (key !== 'examples' && key !== 'example') walk(child, [...segments, key]);
    }
  };
  walk(document.paths, ['paths']);
  walk(document.components.schemas, ['components', 'schemas']);
  return found;
}

describe('examples in the OpenAPI document', () => {
  let document: OpenApiDocument;
  let validate: ReturnType<typeof documentValidator>;
  let examples: FoundExample[];

  before(async () => {
    document = JSON.parse(JSON.stringify(await openApiDocument()));
    validate = documentValidator(document);
    examples = everyExample(document);
  });

  it('all validate against their schemas with the API’s own validator', () => {
    assert.ok(examples.length > 100, `only ${examples.length} examples found: the walk misses some`);
    const invalid = examples.flatMap(({ at, schema, value }) => {
      const errors = validate(schema, value);
      return errors === null
        ? []
        : [`${decodeURIComponent(at)}: ${errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`];
    });
    assert.deepEqual(invalid, []);
  });

  it('are checked for real: a response example without a required field is refused', () => {
    const contactGet = pointer('paths', '/api/v1/network/contacts/{id}', 'get', 'responses', '200', 'content');
    const example = examples.find(({ at }) => at.startsWith(`${contactGet}/application~1json/examples/`));
    assert.ok(example, 'GET /contacts/{id} has an example');
    const { etag: _etag, ...withoutEtag } = example.value as Record<string, unknown>;
    assert.equal(validate(example.schema, example.value), null);
    assert.notEqual(validate(example.schema, withoutEtag), null);
    assert.notEqual(validate(example.schema, { ...(example.value as object), email: 42 }), null);
  });

  it('lists in components/examples only examples some operation uses', () => {
    const used = new Set(
      JSON.stringify(document.paths)
        .match(/#\/components\/examples\/[^"]+/g)
        ?.map((ref) => ref.slice('#/components/examples/'.length)),
    );
    assert.deepEqual(
      Object.keys(document.components.examples ?? {}).filter((name) => !used.has(name)),
      [],
    );
  });
});
