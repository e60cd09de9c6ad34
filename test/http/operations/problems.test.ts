import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';

interface ProblemType {
  type: string;
  code: string;
  status: number;
  title: string;
  description: string;
}

describe('problem types', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('lists every problem type with a /problems/<code> type URI', async () => {
    const response = await request(t.app, { method: 'GET', url: '/problems' });
    assert.equal(response.statusCode, 200);
    const data: ProblemType[] = response.json().data;
    const codes = data.map((problem) => problem.code);
    for (const code of [
      'validation-failed',
      'malformed-request',
      'unauthorized',
      'insufficient-scope',
      'not-found',
      'route-not-found',
      'payload-too-large',
      'unsupported-media-type',
      'rate-limited',
      'internal-error',
      'service-unavailable',
    ]) {
      assert.ok(codes.includes(code), `${code} is listed`);
    }
    assert.equal(new Set(codes).size, codes.length);
    for (const problem of data) {
      assert.equal(problem.type, `/problems/${problem.code}`);
      assert.ok(problem.status >= 400 && problem.status < 600);
      assert.ok(problem.title.length > 0 && problem.description.length > 0);
    }
  });

  it('describes each listed problem at its type URI', async () => {
    const data: ProblemType[] = (await request(t.app, { method: 'GET', url: '/problems' })).json().data;
    for (const problem of data) {
      const response = await request(t.app, { method: 'GET', url: problem.type });
      assert.equal(response.statusCode, 200, problem.type);
      assert.deepEqual(response.json(), problem);
    }
  });

  it('resolves the type of a problem the API answers with to its description', async () => {
    const problem = (await request(t.app, { method: 'GET', url: '/api/v1/organization/settings' })).json();
    const description = (await request(t.app, { method: 'GET', url: problem.type })).json();
    assert.equal(description.status, problem.status);
    assert.equal(description.title, problem.title);
  });

  it('answers 404 problem+json for an unknown problem code', async () => {
    for (const code of ['no-such-problem', 'constructor', '__proto__', 'hasOwnProperty']) {
      const response = await request(t.app, { method: 'GET', url: `/problems/${code}` });
      assert.equal(response.statusCode, 404, code);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().type, '/problems/not-found');
    }
  });
});
