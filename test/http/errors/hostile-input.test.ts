import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { CONTACTS, client, type Json, newContact, refPath } from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

function assertProblem(
  response: { statusCode: number; headers: Record<string, unknown>; json(): Json },
  status: number,
) {
  assert.equal(response.statusCode, status, JSON.stringify(response.json()).slice(0, 500));
  assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  const body = response.json();
  for (const member of ['type', 'title', 'status', 'detail']) assert.ok(member in body, `problem has ${member}`);
  return body;
}

describe('hostile input', () => {
  let test: TestApp;
  let org: TestOrganization;
  let api: ReturnType<typeof client>;

  before(async () => {
    test = await createTestApp();
    org = await newOrganization(test.app);
    api = client(test.app, org);
  });
  after(() => test.close());

  const raw = (method: 'POST' | 'PATCH', url: string, payload: string | Buffer, contentType = 'application/json') =>
    request(test.app, { method, url, payload, headers: { ...org.headers, 'content-type': contentType } });

  describe('keys named like Object.prototype members', () => {
    for (const key of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf']) {
      it(`answers 400 naming a body field called ${key}`, async () => {
        const body = assertProblem(await api.post(CONTACTS, { firstName: 'x', [key]: 1 }), 400);
        assert.deepEqual(body.errors[key], ['is not a known field']);
      });

      it(`answers 400 naming a query parameter called ${key}`, async () => {
        const body = assertProblem(await api.get(`${CONTACTS}?${key}=1`), 400);
        assert.deepEqual(body.errors[key], ['is not a known field']);
      });
    }

    it('ignores a header called constructor', async () => {
      const response = await request(test.app, {
        method: 'GET',
        url: CONTACTS,
        headers: { ...org.headers, constructor: '1', toString: 'x' },
      });
      assert.equal(response.statusCode, 200);
    });
  });

  describe('text that cannot be stored as sent', () => {
    it('answers 400 for a NUL character in a text field, naming it, and stores nothing', async () => {
      const body = assertProblem(await api.post(CONTACTS, { firstName: 'x\u0000y', email: 'nul@example.com' }), 400);
      assert.deepEqual(body.errors.firstName, ['must not contain the NUL character']);
      const list = (await api.get(CONTACTS)).json();
      assert.equal(list.data.length, 0);
    });

    it('answers 400 for a NUL character deep inside a list', async () => {
      const body = assertProblem(
        await api.post(CONTACTS, {
          firstName: 'x',
          emails: [{ address: 'a@example.com' }, { address: 'b\u0000@x.se' }],
        }),
        400,
      );
      assert.ok(body.errors['emails[1].address'].includes('must not contain the NUL character'));
    });

    it('answers 400 for a NUL character in a path segment', async () => {
      const body = assertProblem(await api.get(`${CONTACTS}/external/hubspot/a%00b`), 400);
      assert.deepEqual(body.errors.id, ['must not contain the NUL character']);
      assertProblem(await api.patch(refPath('hubspot', 'a\u0000b'), { firstName: 'x' }), 400);
    });

    it('answers 400 for a NUL character in a query parameter', async () => {
      const body = assertProblem(await api.get(`${CONTACTS}?cursor=a%00b`), 400);
      assert.deepEqual(body.errors.cursor, ['must not contain the NUL character']);
    });

    it('answers 400 for a lone surrogate in a text column and in a jsonb value', async () => {
      const text = assertProblem(await raw('POST', CONTACTS, '{"firstName":"a\\ud800b"}'), 400);
      assert.deepEqual(text.errors.firstName, ['must be valid Unicode text (it has an unpaired surrogate)']);
      const reference = assertProblem(
        await raw('POST', CONTACTS, '{"firstName":"x","externalRefs":[{"namespace":"ns","id":"\\udfff"}]}'),
        400,
      );
      assert.ok(reference.errors['externalRefs[0].id']);
      const list = (await api.get(CONTACTS)).json();
      assert.equal(list.data.length, 0);
    });

    it('keeps a well-formed surrogate pair exactly as sent', async () => {
      const contact = (await raw('POST', CONTACTS, '{"firstName":"\\ud83d\\ude00 Ada"}')).json();
      assert.equal(contact.firstName, '😀 Ada');
    });

    it('answers 400 for bytes that are not UTF-8', async () => {
      const body = assertProblem(
        await raw(
          'POST',
          CONTACTS,
          Buffer.concat([Buffer.from('{"firstName":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
        ),
        400,
      );
      assert.match(body.detail, /UTF-8/);
    });

    for (const charset of ['latin1', 'utf-16', 'ISO-8859-1']) {
      it(`answers 415 for charset=${charset}`, async () => {
        assertProblem(await raw('POST', CONTACTS, '{"firstName":"x"}', `application/json; charset=${charset}`), 415);
      });
    }

    it('accepts charset=utf-8 in any case', async () => {
      const response = await raw('POST', CONTACTS, '{"firstName":"x"}', 'application/json; charset="UTF-8"');
      assert.equal(response.statusCode, 201);
    });
  });

  describe('ambiguous JSON', () => {
    it('answers 400 naming a key that appears twice', async () => {
      const body = assertProblem(await raw('POST', CONTACTS, '{"firstName":"a","lastName":"b","firstName":"c"}'), 400);
      assert.deepEqual(body.errors.firstName, ['appears more than once in its object']);
    });

    it('treats an escaped key as the key it spells', async () => {
      const body = assertProblem(await raw('POST', CONTACTS, '{"firstName":"a","\\u0066irstName":"c"}'), 400);
      assert.deepEqual(body.errors.firstName, ['appears more than once in its object']);
    });

    it('names a repeated key inside a list of objects by its path', async () => {
      const body = assertProblem(
        await raw(
          'POST',
          CONTACTS,
          '{"firstName":"a","emails":[{"address":"a@x.se"},{"address":"b@x.se","address":"c@x.se"}]}',
        ),
        400,
      );
      assert.deepEqual(body.errors['emails[1].address'], ['appears more than once in its object']);
    });

    it('allows one key in sibling objects', async () => {
      const response = await raw(
        'POST',
        CONTACTS,
        '{"firstName":"a","emails":[{"address":"a1@x.se","type":"work"},{"address":"b1@x.se","type":"work"}]}',
      );
      assert.equal(response.statusCode, 201);
    });

    // A string that never closes, made of escaped quotes: a scanner that restarts at each one takes
    // minutes on this body (the timeout fails the test); a linear one answers at once.
    it('answers 400 for a string that never closes, without rescanning the body', { timeout: 20_000 }, async () => {
      assertProblem(await raw('POST', CONTACTS, `"${'\\"'.repeat(300_000)}`), 400);
      assertProblem(await raw('POST', '/no/such/route', `{"a":"${'\\"'.repeat(300_000)}`), 400);
    });

    it('answers 400 for a key with an invalid escape', async () => {
      assertProblem(await raw('POST', CONTACTS, '{"\\x":1}'), 400);
    });

    it('answers 400 for nesting far deeper than any field', async () => {
      assertProblem(await raw('POST', CONTACTS, `{"firstName":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), 400);
    });
  });

  describe('bounded cost', () => {
    it('refuses a million-element array by its size alone', async () => {
      const tags = Array.from({ length: 1_000_000 }, (_, index) => index);
      const started = performance.now();
      const body = assertProblem(await api.post(CONTACTS, { firstName: 'x', tags }), 400);
      const elapsed = performance.now() - started;
      assert.deepEqual(Object.keys(body.errors), ['tags']);
      assert.match(body.errors.tags[0], /more than \d+ items/);
      assert.ok(JSON.stringify(body).length < 1_000);
      // Not a timing assertion on the machine's speed: one error instead of a million is what keeps it short.
      assert.ok(elapsed < 30_000);
    });

    it('names the field rule for a list a little too long, and the document bound for one far too long', async () => {
      const near = assertProblem(
        await api.post(CONTACTS, { firstName: 'x', tags: Array.from({ length: 101 }, (_, i) => `t${i}`) }),
        400,
      );
      assert.deepEqual(near.errors.tags, ['must NOT have more than 100 items']);
      const far = assertProblem(await api.post(CONTACTS, { firstName: 'x', tags: Array(5_000).fill('t') }), 400);
      assert.deepEqual(far.errors.tags, ['has more than 1000 items']);
    });

    it('refuses a string no field could hold before parsing the body', async () => {
      const body = assertProblem(await api.post(CONTACTS, { firstName: 'x', lastName: 'y'.repeat(1_100_000) }), 400);
      assert.deepEqual(body.errors.lastName, ['is longer than 1000000 characters']);
    });

    it('refuses a document of hundreds of thousands of values within every single bound', async () => {
      const rows = Array.from({ length: 400 }, () => Array(900).fill(0));
      const body = assertProblem(await api.post(CONTACTS, { firstName: 'x', tags: rows }), 400);
      assert.deepEqual(body.errors.body, ['holds more than 250000 values']);
    });

    it('refuses an over-long string without checking its format', async () => {
      const body = assertProblem(await api.post(CONTACTS, { firstName: 'x', email: `${'a'.repeat(900_000)}@` }), 400);
      assert.equal(body.errors.email.length, 1);
      assert.match(body.errors.email[0], /more than 255 characters/);
    });

    it('lists at most 100 invalid fields, says so, and stays under 64 KiB', async () => {
      // Up to 100 unknown fields are named one by one; with five invalid known fields that makes 105 errors.
      const fields = Object.fromEntries(
        Array.from({ length: 100 }, (_, index) => [`unknown${index}${'x'.repeat(150)}`, 1]),
      );
      const invalid = { firstName: 1, lastName: 2, email: 3, phone: 4, tags: 5 };
      const body = assertProblem(await api.post(CONTACTS, { ...invalid, ...fields }), 400);
      assert.equal(Object.keys(body.errors).length, 100);
      assert.equal(body.errorsTruncated, true);
      assert.ok(Buffer.byteLength(JSON.stringify(body)) < 64 * 1024);
    });

    it('refuses an object with hundreds of thousands of keys as a whole', async () => {
      const fields = Object.fromEntries(Array.from({ length: 300_000 }, (_, index) => [`k${index}`, 1]));
      const body = assertProblem(await api.post(CONTACTS, { firstName: 'x', ...fields }), 400);
      assert.deepEqual(Object.keys(body.errors), ['body']);
      assert.match(body.errors.body[0], /more than \d+ fields/);
    });

    it('still validates a list within its size completely', async () => {
      const body = assertProblem(await api.post(CONTACTS, { firstName: 'x', tags: [1, 'ok', 'ok'] }), 400);
      assert.ok(body.errors['tags[0]']);
      assert.ok(body.errors.tags, 'duplicate items are reported too');
    });
  });

  it('answers a valid request as before after all of this', async () => {
    const contact = await newContact(api, { firstName: 'Still', email: 'still@example.com' });
    assert.equal(contact.firstName, 'Still');
  });
});
