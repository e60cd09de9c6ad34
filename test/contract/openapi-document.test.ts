import assert from 'node:assert/strict';
import fs from 'node:fs';
import { before, describe, it } from 'node:test';
import { openApiDocument } from '../../src/http/openapi-document.js';
import type { OpenApiDocument } from './openapi-validator.js';

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];
const PUBLIC_OPERATIONS = ['health.live', 'health.ready', 'problems.list', 'problems.get'];

interface Operation {
  name: string;
  path: string;
  method: string;
  operation: any;
}

function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries<any>(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => method in item).map((method) => ({
      name: `${method.toUpperCase()} ${path}`,
      path,
      method,
      operation: item[method],
    })),
  );
}

function mediaHasExamples(media: any): boolean {
  return 'example' in media || Object.keys(media.examples ?? {}).length > 0;
}

describe('the OpenAPI document describes every operation fully', () => {
  let document: OpenApiDocument;
  let operations: Operation[];

  before(async () => {
    document = JSON.parse(JSON.stringify(await openApiDocument()));
    operations = operationsOf(document);
  });

  it('names the package version and the relative root server', () => {
    const { version } = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    assert.equal(document.info.version, version);
    assert.deepEqual(document.servers, [{ url: '/' }]);
  });

  it('gives every operation a summary and a description', () => {
    assert.ok(operations.length >= 40, `${operations.length} operations`);
    assert.deepEqual(
      operations.filter(({ operation }) => !operation.summary || !operation.description).map(({ name }) => name),
      [],
    );
  });

  it('describes every response in its own words', () => {
    const vague = operations.flatMap(({ name, operation }) =>
      Object.entries<any>(operation.responses)
        .filter(([, response]) => !response.description || response.description === 'Default Response')
        .map(([status]) => `${name} ${status}`),
    );
    assert.deepEqual(vague, []);
  });

  it('shows an example of every request body and of every answer with a body', () => {
    const missing = operations.flatMap(({ name, operation }) => [
      ...Object.entries<any>(operation.requestBody?.content ?? {})
        .filter(([, media]) => !mediaHasExamples(media))
        .map(([type]) => `${name} request ${type}`),
      ...Object.entries<any>(operation.responses).flatMap(([status, response]) =>
        Object.entries<any>(response.content ?? {})
          .filter(([, media]) => !mediaHasExamples(media))
          .map(([type]) => `${name} ${status} ${type}`),
      ),
    ]);
    assert.deepEqual(missing, []);
  });

  it('declares no body for 204 and 304 answers', () => {
    const bodies = operations.flatMap(({ name, operation }) =>
      ['204', '304'].filter((status) => operation.responses[status]?.content !== undefined).map((s) => `${name} ${s}`),
    );
    assert.deepEqual(bodies, []);
    assert.ok(operations.some(({ operation }) => operation.responses['204'] !== undefined));
    assert.ok(operations.some(({ operation }) => operation.responses['304'] !== undefined));
  });

  it('makes every parameter with a default optional', () => {
    const defaulted = operations.flatMap(({ name, operation }) =>
      (operation.parameters ?? [])
        .filter((parameter: any) => parameter.schema?.default !== undefined)
        .map((parameter: any) => ({ at: `${name} ${parameter.name}`, required: parameter.required })),
    );
    assert.ok(defaulted.length >= 8, 'limit, revive, create_only, update_only, validate_only… have defaults');
    assert.deepEqual(
      defaulted.filter((parameter) => parameter.required).map((parameter) => parameter.at),
      [],
    );
  });

  it('says `security: []` on the public operations and names a scheme on every other', () => {
    const byName = new Map(operations.map((entry) => [entry.operation.operationId, entry.operation]));
    for (const name of PUBLIC_OPERATIONS) assert.deepEqual(byName.get(name)?.security, [], name);
    const unsecured = operations
      .filter(({ operation }) => !PUBLIC_OPERATIONS.includes(operation.operationId))
      .filter(({ operation }) => !(operation.security?.length > 0))
      .map(({ name }) => name);
    assert.deepEqual(unsecured, []);
  });

  it('types the extension members problems carry', () => {
    const problem = document.components.schemas.Problem;
    for (const member of [
      'errors',
      'errorsTruncated',
      'conflictField',
      'conflictingContactId',
      'conflictingCompanyId',
      'currentEtag',
      'requiredScope',
      'resumeAfter',
      'limit',
    ]) {
      assert.ok(problem.properties[member]?.type, `Problem.${member} has a type`);
    }
    assert.deepEqual(problem.properties.errors.additionalProperties, { type: 'array', items: { type: 'string' } });
  });
});
