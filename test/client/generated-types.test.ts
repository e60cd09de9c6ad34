import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { OpenAPI3 } from 'openapi-typescript';
import ts from 'typescript';
import {
  CLIENT_OPERATIONS_FILE,
  CLIENT_TYPES_FILE,
  clientOperationsSource,
  clientTypesSource,
  readOpenApiDocument,
} from '../../scripts/generate-client-types.js';

/**
 * The generated types must let a client omit every parameter the API defaults (limit, revive,
 * create_only, update_only, validate_only, …). This generates the types from openapi.json, writes a
 * sample that calls every operation through the client with only what is required, and type-checks
 * the client against those types (in memory, in place of the committed ones).
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: Json[];
  const?: Json;
  default?: Json;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}
interface Parameter {
  $ref?: string;
  name: string;
  in: 'query' | 'header' | 'path' | 'cookie';
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;
const CLIENT_DIR = path.dirname(CLIENT_TYPES_FILE);
const SAMPLE_FILE = path.join(CLIENT_DIR, 'typecheck-sample.ts');

function components(document: OpenAPI3, kind: 'schemas' | 'parameters'): Record<string, unknown> {
  return ((document.components as Record<string, Record<string, unknown>> | undefined)?.[kind] ?? {}) as Record<
    string,
    unknown
  >;
}

function resolve<T extends { $ref?: string }>(document: OpenAPI3, node: T): T {
  if (node.$ref === undefined) return node;
  const [, , kind, name] = node.$ref.split('/');
  const target = components(document, kind as 'schemas' | 'parameters')[name ?? ''];
  assert.ok(target, `unresolved ${node.$ref}`);
  return resolve(document, target as T);
}

function operationsOf(document: OpenAPI3): Array<{ route: string; method: (typeof METHODS)[number]; op: Operation }> {
  return Object.entries((document.paths ?? {}) as Record<string, Record<string, Operation>>).flatMap(([route, item]) =>
    METHODS.filter((method) => item[method] !== undefined).map((method) => ({
      route,
      method,
      op: item[method] as Operation,
    })),
  );
}

/** The smallest value of a schema for the type checker: required properties only, first of every choice. */
function minimalValue(document: OpenAPI3, node: Schema): Json {
  const schema = resolve(document, node);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined) return schema.enum[0] ?? null;
  const choice = schema.anyOf ?? schema.oneOf;
  if (choice?.[0] !== undefined) return minimalValue(document, choice[0]);
  if (schema.allOf !== undefined) {
    return Object.assign({}, ...schema.allOf.map((part) => minimalValue(document, part) as object));
  }
  const types = Array.isArray(schema.type) ? schema.type : [schema.type ?? (schema.properties ? 'object' : 'null')];
  const type = types.find((candidate) => candidate !== 'null') ?? 'null';
  switch (type) {
    case 'object':
      return Object.fromEntries(
        (schema.required ?? []).map((name) => [name, minimalValue(document, schema.properties?.[name] ?? {})]),
      );
    case 'array':
      return [];
    case 'string':
      return 'x';
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    default:
      return null;
  }
}

interface DefaultedPart {
  operation: string;
  where: string;
}

/** Every parameter and top-level body property with a default, per operation. */
function defaultedParts(document: OpenAPI3): DefaultedPart[] {
  return operationsOf(document).flatMap(({ route, method, op }) => {
    const operation = op.operationId ?? `${method} ${route}`;
    const parameters = (op.parameters ?? [])
      .map((parameter) => resolve(document, parameter))
      .filter((parameter) => parameter.schema?.default !== undefined)
      .map((parameter) => ({ operation, where: `${parameter.in} ${parameter.name}` }));
    const body = op.requestBody?.content?.['application/json']?.schema;
    const properties = body === undefined ? {} : (resolve(document, body).properties ?? {});
    const bodyDefaults = Object.entries(properties)
      .filter(([, property]) => resolve(document, property).default !== undefined)
      .map(([name]) => ({ operation, where: `body ${name}` }));
    return [...parameters, ...bodyDefaults];
  });
}

/** One call per operation with its required parts only; maps each operation to its line in the sample. */
function sampleSource(document: OpenAPI3): { source: string; lines: Map<string, number> } {
  const lines = new Map<string, number>();
  const out = [
    "import { createContactsClient } from './index.js';",
    '',
    "const client = createContactsClient({ baseUrl: 'http://127.0.0.1:3000', token: 'cst_sample' });",
    '',
    'export async function everyOperation(): Promise<void> {',
  ];
  for (const { route, method, op } of operationsOf(document)) {
    const params: Record<string, Record<string, Json>> = {};
    for (const parameter of (op.parameters ?? []).map((candidate) => resolve(document, candidate))) {
      if (parameter.required !== true || parameter.schema?.default !== undefined) continue;
      params[parameter.in] ??= {};
      (params[parameter.in] as Record<string, Json>)[parameter.name] = minimalValue(document, parameter.schema ?? {});
    }
    const init: Record<string, Json> = {};
    if (Object.keys(params).length > 0) init.params = params;
    const body = op.requestBody?.content?.['application/json']?.schema;
    if (op.requestBody?.required === true && body !== undefined) init.body = minimalValue(document, body);
    const args = [JSON.stringify(route), ...(Object.keys(init).length > 0 ? [JSON.stringify(init)] : [])];
    lines.set(op.operationId ?? `${method} ${route}`, out.length);
    out.push(`  await client.${method.toUpperCase()}(${args.join(', ')});`);
  }
  // The iterators take the list queries, whose every parameter is optional or defaulted.
  for (const [name, call] of [
    ['contacts.list', 'client.contacts.changes()'],
    ['companies.list', 'client.companies.changes()'],
    ['events.list', 'client.events()'],
  ] as const) {
    lines.set(`${name} (iterator)`, out.length);
    out.push(`  for await (const page of ${call}) void page.data;`);
  }
  out.push('}', '');
  return { source: out.join('\n'), lines };
}

/** Type-checks the client with generated files and the sample in place of what is on disk. */
function typeCheck(files: Map<string, string>): ts.Diagnostic[] {
  const configFile = ts.readConfigFile(path.join(CLIENT_DIR, '..', 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, path.join(CLIENT_DIR, '..'));
  const options = { ...parsed.options, noEmit: true, declaration: false };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (fileName) => files.has(path.resolve(fileName)) || fileExists.call(host, fileName);
  host.readFile = (fileName) => files.get(path.resolve(fileName)) ?? readFile.call(host, fileName);
  host.getSourceFile = (fileName, language, ...rest) => {
    const text = files.get(path.resolve(fileName));
    return text === undefined
      ? getSourceFile.call(host, fileName, language, ...rest)
      : ts.createSourceFile(fileName, text, language);
  };
  const program = ts.createProgram([SAMPLE_FILE], options, host);
  return [...ts.getPreEmitDiagnostics(program)];
}

function describeDiagnostic(diagnostic: ts.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  if (diagnostic.file === undefined || diagnostic.start === undefined) return message;
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return `${path.basename(diagnostic.file.fileName)}:${line + 1}: ${message}`;
}

async function checkSample(document: OpenAPI3, sample: string): Promise<ts.Diagnostic[]> {
  return typeCheck(
    new Map([
      [CLIENT_TYPES_FILE, await clientTypesSource(document)],
      [CLIENT_OPERATIONS_FILE, clientOperationsSource(document)],
      [SAMPLE_FILE, sample],
    ]),
  );
}

/** The document with every defaulted parameter and body property made required. */
function requiringDefaults(document: OpenAPI3): OpenAPI3 {
  const changed = structuredClone(document);
  for (const { op } of operationsOf(changed)) {
    for (const parameter of (op.parameters ?? []).map((candidate) => resolve(changed, candidate))) {
      if (parameter.schema?.default !== undefined) parameter.required = true;
    }
    const body = op.requestBody?.content?.['application/json']?.schema;
    if (body === undefined) continue;
    const schema = resolve(changed, body);
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      if (resolve(changed, property).default !== undefined) schema.required = [...(schema.required ?? []), name];
    }
  }
  return changed;
}

describe('the client types generated from openapi.json', () => {
  const document = readOpenApiDocument();
  const defaulted = defaultedParts(document);
  const sample = sampleSource(document);

  it('find the defaulted parameters to leave out (limit, revive, create_only, update_only, validate_only, …)', () => {
    const names = new Set(defaulted.map((part) => part.where.split(' ')[1]));
    for (const expected of ['limit', 'revive', 'create_only', 'update_only', 'validate_only']) {
      assert.ok(names.has(expected), `no defaulted parameter named ${expected}: ${[...names].join(', ')}`);
    }
    for (const { operation } of defaulted) assert.ok(sample.lines.has(operation), `no sample call for ${operation}`);
  });

  it('type-check a client that calls every operation omitting every defaulted parameter', async () => {
    const diagnostics = await checkSample(document, sample.source);
    assert.deepEqual(diagnostics.map(describeDiagnostic), []);
  });

  it('would refuse that client if a defaulted parameter were required (the check above bites)', async () => {
    const diagnostics = await checkSample(requiringDefaults(document), sample.source);
    const failingLines = new Set(
      diagnostics
        .filter((diagnostic) => diagnostic.file?.fileName === SAMPLE_FILE && diagnostic.start !== undefined)
        .map((diagnostic) => diagnostic.file?.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line),
    );
    const uncaught = [...new Set(defaulted.map((part) => part.operation))].filter(
      (operation) => !failingLines.has(sample.lines.get(operation)),
    );
    assert.deepEqual(uncaught, []);
    for (const iterator of ['contacts.list (iterator)', 'companies.list (iterator)', 'events.list (iterator)']) {
      assert.ok(failingLines.has(sample.lines.get(iterator)), `${iterator} still type-checks`);
    }
  });
});
