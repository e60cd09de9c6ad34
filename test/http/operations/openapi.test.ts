import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'];

interface Operation {
  operationId?: string;
  tags?: string[];
  responses?: Record<string, unknown>;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  let document: any;
  before(async () => {
    t = await createTestApp();
    const response = await request(t.app, { method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    document = response.json();
  });
  after(() => t.close());

  const operations = (): Array<[string, Operation]> =>
    Object.entries(document.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, operation]): [string, Operation] => [`${method.toUpperCase()} ${path}`, operation]),
    );

  it('is OpenAPI 3.1 with a title and version', () => {
    assert.equal(document.openapi, '3.1.0');
    assert.equal(typeof document.info.title, 'string');
    assert.equal(typeof document.info.version, 'string');
  });

  it('documents the routes of the foundation', () => {
    const documented = operations().map(([name]) => name);
    for (const expected of [
      'GET /healthz',
      'GET /readyz',
      'GET /problems',
      'GET /problems/{code}',
      'POST /api/v1/admin/organizations',
      'GET /api/v1/admin/organizations/{orgId}',
      'PATCH /api/v1/admin/organizations/{orgId}',
      'POST /api/v1/admin/organizations/{orgId}/tokens',
      'GET /api/v1/admin/organizations/{orgId}/tokens',
      'DELETE /api/v1/admin/organizations/{orgId}/tokens/{tokenId}',
      'GET /api/v1/organization/settings',
      'PATCH /api/v1/organization/settings',
    ]) {
      assert.ok(documented.includes(expected), `${expected} is documented`);
    }
  });

  it('gives every operation a unique resource.verb operationId and a declared tag', () => {
    const declaredTags = new Set((document.tags as Array<{ name: string }>).map((tag) => tag.name));
    const seen = new Set<string>();
    const all = operations();
    assert.ok(all.length > 0);
    for (const [name, operation] of all) {
      assert.match(operation.operationId ?? '', /^[a-z][A-Za-z]*\.[a-z][A-Za-z]*$/, `operationId of ${name}`);
      assert.ok(!seen.has(operation.operationId as string), `operationId of ${name} is unique`);
      seen.add(operation.operationId as string);
      assert.ok(operation.tags && operation.tags.length > 0, `tags of ${name}`);
      for (const tag of operation.tags) assert.ok(declaredTags.has(tag), `tag ${tag} of ${name} is declared`);
    }
  });

  it('describes error responses as problem+json documents of the shared Problem schema', () => {
    assert.ok(document.components.schemas.Problem);
    for (const [name, operation] of operations()) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (Number(status) < 400) continue;
        const content = (response as { content?: Record<string, { schema: { $ref?: string } }> }).content;
        // A failed atomic batch answers 422 with its per-item results; every other error is a problem.
        const batchResults = status === '422' && name.endsWith('/batch');
        assert.deepEqual(
          Object.keys(content ?? {}),
          batchResults ? ['application/json', 'application/problem+json'] : ['application/problem+json'],
          `${status} of ${name}`,
        );
        if (batchResults)
          assert.equal(content?.['application/json']?.schema.$ref, '#/components/schemas/BatchResponse');
        assert.equal(content?.['application/problem+json']?.schema.$ref, '#/components/schemas/Problem');
      }
    }
  });

  it('names shared schemas by their id, never def-N', () => {
    assert.doesNotMatch(JSON.stringify(document), /def-\d+/);
    for (const name of ['Organization', 'OrganizationSettings', 'CreatedApiToken', 'ApiToken', 'ApiTokenList']) {
      assert.ok(document.components.schemas[name], `${name} is a component`);
    }
  });
});
