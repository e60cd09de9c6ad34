import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCodes } from 'fastify';
import {
  AppError,
  describeFieldErrors,
  fieldPath,
  problemRegistry,
  problemType,
  toProblem,
  validationErrors,
} from '../../src/http/problem.js';

const context = { instance: '/api/v1/things/1?x=y', traceId: 'trace-123' };

/** What node-postgres throws for a server error: a SQLSTATE in `code` and the server's severity. */
function postgresError(code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`postgres said ${code} in SELECT secret FROM table`), {
    code,
    severity: 'ERROR',
    ...extra,
  });
}

describe('toProblem', () => {
  it('maps an AppError to its registered status and title with the standard members', () => {
    const problem = toProblem(new AppError('not-found', 'Contact 42 does not exist.'), context);
    assert.deepEqual(problem.body, {
      type: '/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'Contact 42 does not exist.',
      instance: context.instance,
      traceId: context.traceId,
    });
    assert.deepEqual(problem.headers, {});
    assert.equal(problem.unexpected, false);
  });

  it('carries the extensions and headers of an AppError', () => {
    const problem = toProblem(
      new AppError('insufficient-scope', 'Needs settings.write.', { requiredScope: 'settings.write' }, { a: 'b' }),
      context,
    );
    assert.equal(problem.body.status, 403);
    assert.equal(problem.body.requiredScope, 'settings.write');
    assert.deepEqual(problem.headers, { a: 'b' });
  });

  it('lists field errors of AppError.validation under errors', () => {
    const problem = toProblem(AppError.validation({ expiresUtc: ['must be in the future'] }), context);
    assert.equal(problem.body.status, 400);
    assert.equal(problem.body.type, '/problems/validation-failed');
    assert.deepEqual(problem.body.errors, { expiresUtc: ['must be in the future'] });
    assert.equal(problem.body.detail, 'expiresUtc: must be in the future');
  });

  it('turns a Fastify validation error into 400 with every failing field', () => {
    const error = Object.assign(new Error('body/name must be string'), {
      statusCode: 400,
      code: 'FST_ERR_VALIDATION',
      validationContext: 'body',
      validation: [
        { instancePath: '/name', keyword: 'type', params: { type: 'string' }, message: 'must be string' },
        {
          instancePath: '/emails/0',
          keyword: 'required',
          params: { missingProperty: 'address' },
          message: "must have required property 'address'",
        },
        {
          instancePath: '',
          keyword: 'additionalProperties',
          params: { additionalProperty: 'nickname' },
          message: 'must NOT have additional properties',
        },
      ],
    });
    const problem = toProblem(error, context);
    assert.equal(problem.body.status, 400);
    assert.equal(problem.body.type, '/problems/validation-failed');
    assert.deepEqual(problem.body.errors, {
      name: ['must be string'],
      'emails[0].address': ['is required'],
      nickname: ['is not a known field'],
    });
    assert.equal(problem.body.detail, '3 fields are invalid: name, emails[0].address, nickname');
    assert.equal(problem.unexpected, false);
  });

  const framework: Array<[string, Error, number, string]> = [
    ['an unsupported media type', new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), 415, 'unsupported-media-type'],
    ['a body over the limit', new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), 413, 'payload-too-large'],
    ['malformed JSON', new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), 400, 'malformed-request'],
    ['an empty JSON body', new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), 400, 'malformed-request'],
    ['a wrong Content-Length', new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(), 400, 'malformed-request'],
    ['a bad URL', new errorCodes.FST_ERR_BAD_URL('%E0'), 400, 'malformed-request'],
    ['a framework 404', new errorCodes.FST_ERR_NOT_FOUND(), 404, 'route-not-found'],
    [
      'a forbidden prototype property',
      Object.assign(new SyntaxError('Object contains forbidden prototype property'), { statusCode: 400 }),
      400,
      'malformed-request',
    ],
  ];
  for (const [what, error, status, code] of framework) {
    it(`answers ${status} ${code} for ${what}`, () => {
      const problem = toProblem(error, context);
      assert.equal(problem.body.status, status);
      assert.equal(problem.body.type, `/problems/${code}`);
      assert.equal(problem.unexpected, false);
    });
  }

  it('answers 409 naming the guarded field for a unique violation', () => {
    const problem = toProblem(postgresError('23505', { constraint: 'contacts_email_key' }), context);
    assert.equal(problem.body.status, 409);
    assert.equal(problem.body.type, '/problems/conflict');
    assert.equal(problem.body.conflictField, 'email');
    assert.doesNotMatch(problem.body.detail, /SELECT|secret/);
    assert.equal(problem.unexpected, false);
  });

  it('answers 409 with no field for a unique violation of a constraint it does not know', () => {
    const problem = toProblem(postgresError('23505', { constraint: 'something_else_key' }), context);
    assert.equal(problem.body.status, 409);
    assert.equal(problem.body.conflictField, null);
  });

  it('answers 409 for a foreign-key violation', () => {
    const problem = toProblem(postgresError('23503', { constraint: 'contacts_company_id_fkey' }), context);
    assert.equal(problem.body.status, 409);
    assert.equal(problem.body.type, '/problems/conflict');
  });

  for (const [sqlstate, what] of [
    ['40001', 'a serialization failure'],
    ['40P01', 'a deadlock'],
    ['55P03', 'a lock timeout'],
    ['57014', 'a cancelled statement'],
    ['57P01', 'an administrator shutdown'],
    ['53300', 'too many connections'],
  ]) {
    it(`answers 503 with Retry-After for ${what} (${sqlstate})`, () => {
      const problem = toProblem(postgresError(sqlstate as string), context);
      assert.equal(problem.body.status, 503);
      assert.equal(problem.body.type, '/problems/service-unavailable');
      assert.match(problem.headers['retry-after'] ?? '', /^\d+$/);
      assert.doesNotMatch(problem.body.detail, /SELECT|secret/);
    });
  }

  it('answers 503 with Retry-After when the database is unreachable, and logs it', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
    const problem = toProblem(error, context);
    assert.equal(problem.body.status, 503);
    assert.ok(problem.headers['retry-after']);
    assert.doesNotMatch(problem.body.detail, /10\.0\.0\.5/);
    assert.equal(problem.unexpected, true);
  });

  it('answers 500 with a generic detail for an unknown error and never repeats its message', () => {
    const error = new Error('relation "contacts" does not exist at postgres://app:hunter2@db/contacts');
    const problem = toProblem(error, context);
    assert.equal(problem.body.status, 500);
    assert.equal(problem.body.type, '/problems/internal-error');
    assert.deepEqual(Object.keys(problem.body).sort(), ['detail', 'instance', 'status', 'title', 'traceId', 'type']);
    assert.doesNotMatch(JSON.stringify(problem.body), /hunter2|relation|postgres:/);
    assert.equal(problem.unexpected, true);
  });

  it('answers 500 for an unhandled PostgreSQL error without its SQL', () => {
    const problem = toProblem(postgresError('42P01'), context);
    assert.equal(problem.body.status, 500);
    assert.doesNotMatch(JSON.stringify(problem.body), /SELECT|secret|42P01/);
  });

  it('answers 500 for thrown values that are not errors', () => {
    for (const thrown of [undefined, null, 'boom', 42, { message: 'x' }]) {
      const problem = toProblem(thrown, context);
      assert.equal(problem.body.status, 500, `for ${String(thrown)}`);
      assert.equal(problem.unexpected, true);
    }
  });

  it('does not take a five-letter code without a severity for a PostgreSQL error', () => {
    const problem = toProblem(Object.assign(new Error('x'), { code: '23505' }), context);
    assert.equal(problem.body.status, 500);
  });

  it('does not trust the status of an error that is not the framework’s', () => {
    const problem = toProblem(Object.assign(new Error('upstream said 404'), { statusCode: 404 }), context);
    assert.equal(problem.body.status, 500);
  });
});

describe('fieldPath', () => {
  const cases: Array<[string, string | undefined, string]> = [
    ['/emails/0/address', undefined, 'emails[0].address'],
    ['/name', undefined, 'name'],
    ['', 'name', 'name'],
    ['/emails/2', 'address', 'emails[2].address'],
    ['/settings/duplicateContactMatching/fields/1', undefined, 'settings.duplicateContactMatching.fields[1]'],
    ['/0/name', undefined, '[0].name'],
    ['/a~1b/c~0d', undefined, 'a/b.c~d'],
    ['', undefined, ''],
  ];
  for (const [instancePath, child, expected] of cases) {
    it(`turns ${JSON.stringify(instancePath)}${child ? ` + ${child}` : ''} into ${JSON.stringify(expected)}`, () => {
      assert.equal(fieldPath(instancePath, child), expected);
    });
  }
});

describe('validationErrors', () => {
  it('gathers several messages for one field without repeating any', () => {
    const errors = validationErrors([
      { instancePath: '/code', keyword: 'minLength', params: {}, message: 'must NOT have fewer than 2 characters' },
      { instancePath: '/code', keyword: 'pattern', params: {}, message: 'must match pattern "^[A-Z]+$"' },
      { instancePath: '/code', keyword: 'pattern', params: {}, message: 'must match pattern "^[A-Z]+$"' },
    ]);
    assert.deepEqual(errors.errors, {
      code: ['must NOT have fewer than 2 characters', 'must match pattern "^[A-Z]+$"'],
    });
  });

  it('words type, enum and const failures for people', () => {
    const errors = validationErrors([
      { instancePath: '/name', keyword: 'type', params: { type: 'string,null' } },
      { instancePath: '/scopes/0', keyword: 'enum', params: { allowedValues: ['a.read', 'a.write'] } },
      { instancePath: '/kind', keyword: 'const', params: { allowedValue: 'person' } },
      { instancePath: '/other', keyword: 'custom', params: {} },
    ]);
    assert.deepEqual(errors.errors, {
      name: ['must be string or null'],
      'scopes[0]': ['must be one of "a.read", "a.write"'],
      kind: ['must be "person"'],
      other: ['fails the "custom" rule'],
    });
  });

  it('names a failure of the whole document after its part of the request', () => {
    const failure = { instancePath: '', keyword: 'type', params: { type: 'object' } };
    assert.deepEqual(validationErrors([failure], 'querystring').errors, { querystring: ['must be object'] });
    assert.deepEqual(validationErrors([failure]).errors, { body: ['must be object'] });
  });

  it('keeps fields named like Object.prototype members apart from the prototype', () => {
    const result = validationErrors(
      ['constructor', 'toString', 'hasOwnProperty', '__defineGetter__', 'valueOf'].map((name) => ({
        instancePath: '',
        keyword: 'additionalProperties',
        params: { additionalProperty: name },
      })),
    );
    assert.deepEqual(Object.keys(result.errors), [
      'constructor',
      'toString',
      'hasOwnProperty',
      '__defineGetter__',
      'valueOf',
    ]);
    assert.deepEqual(result.errors.constructor, ['is not a known field']);
  });

  it('lists at most 100 fields and says that more were left out', () => {
    const failures = Array.from({ length: 5000 }, (_, index) => ({
      instancePath: '',
      keyword: 'additionalProperties',
      params: { additionalProperty: `field${index}` },
    }));
    const result = validationErrors(failures);
    assert.equal(Object.keys(result.errors).length, 100);
    assert.equal(result.errorsTruncated, true);
    assert.equal(validationErrors(failures.slice(0, 100)).errorsTruncated, undefined);
  });

  it('shortens a field path built from an enormous key', () => {
    const result = validationErrors([
      { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'k'.repeat(100_000) } },
    ]);
    const [field] = Object.keys(result.errors);
    assert.ok(field !== undefined && field.length <= 200);
  });
});

describe('describeFieldErrors', () => {
  it('spells out the single failing field', () => {
    assert.equal(describeFieldErrors({ name: ['is required', 'x'] }), 'name: is required; x');
  });

  it('counts and names several failing fields', () => {
    assert.equal(describeFieldErrors({ a: ['x'], b: ['y'] }), '2 fields are invalid: a, b');
  });

  it('names the first ten fields and says when the list was cut', () => {
    const errors = Object.fromEntries(Array.from({ length: 12 }, (_, index) => [`f${index}`, ['x']]));
    assert.equal(
      describeFieldErrors(errors, true),
      'More than 12 fields are invalid: f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, …',
    );
  });
});

describe('problemRegistry', () => {
  it('builds every type URI as /problems/<code> and keeps statuses in the 4xx and 5xx ranges', () => {
    for (const [code, definition] of Object.entries(problemRegistry)) {
      assert.equal(problemType(code as keyof typeof problemRegistry), `/problems/${code}`);
      assert.match(code, /^[a-z]+(-[a-z]+)*$/);
      assert.ok(definition.status >= 400 && definition.status < 600, code);
    }
  });
});
