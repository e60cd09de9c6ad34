import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { CONTACTS, client, type Json, newContact, refPath } from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

const BATCH = `${CONTACTS}/batch`;

describe('POST /contacts/batch', () => {
  let test: TestApp;
  let org: TestOrganization;
  let api: ReturnType<typeof client>;

  before(async () => {
    test = await createTestApp();
    org = await newOrganization(test.app, { settings: { duplicateContactMatching: { fields: ['email', 'phone'] } } });
    api = client(test.app, org);
  });
  after(() => test.close());

  const byRef = (id: string, data: Json, extra: Json = {}) => ({
    ref: `row-${id}`,
    externalRef: { namespace: 'hubspot', id },
    data,
    ...extra,
  });

  it('answers every item with the status its single request would have answered (207 when some fail)', async () => {
    const taken = await newContact(api, { email: 'taken@example.com' });
    const existing = (await api.patch(refPath('hubspot', 'b-existing'), { firstName: 'Old' })).json();
    const response = await api.post(BATCH, {
      items: [
        byRef('b-new', { firstName: 'New', email: 'b-new@example.com' }),
        byRef('b-existing', { firstName: 'Updated' }),
        byRef('b-bad', { firstName: 'Bad', email: 'not an email' }),
        byRef('b-conflict', { firstName: 'Clash', email: 'taken@example.com' }, {}),
        byRef('b-existing', { firstName: 'Stale' }, { ifMatch: 'W/"stale"' }),
        { ref: 'row-match', data: { firstName: 'Matched', email: 'taken@example.com' } },
        { ref: 'row-shape', externalRef: { namespace: 'hubspot' }, data: {} },
      ],
      match: 'none',
    });
    assert.equal(response.statusCode, 207, response.body);
    const { results, summary } = response.json();
    assert.deepEqual(
      results.map((r: Json) => [r.index, r.ref, r.status, r.action]),
      [
        [0, 'row-b-new', 201, 'created'],
        [1, 'row-b-existing', 200, 'updated'],
        [2, 'row-b-bad', 400, null],
        [3, 'row-b-conflict', 409, null],
        [4, 'row-b-existing', 412, null],
        [5, 'row-match', 200, 'updated'],
        [6, 'row-shape', 400, null],
      ],
    );
    assert.deepEqual(summary, { total: 7, created: 1, updated: 2, revived: 0, unchanged: 0, failed: 4 });
    assert.equal(results[1].id, existing.id);
    assert.equal(results[0].matchedBy, 'none');
    assert.equal(results[1].matchedBy, 'external_ref');
    assert.equal(results[5].matchedBy, 'email');
    assert.equal(results[5].id, taken.id);
    assert.deepEqual(Object.keys(results[2].problem.errors), ['data.email']);
    assert.equal(results[3].problem.conflictField, 'email');
    assert.equal(results[3].problem.conflictingContactId, taken.id);
    assert.equal(results[4].problem.type, '/problems/precondition-failed');
    assert.ok(results[6].problem.errors['externalRef.id']);
    for (const failed of results.filter((r: Json) => r.problem !== null)) {
      for (const member of ['type', 'title', 'status', 'detail']) assert.ok(member in failed.problem);
      assert.equal(failed.id, null);
    }
    // The etag of each result is the contact's current one.
    const read = await api.get(`${CONTACTS}/${results[0].id}`);
    assert.equal(read.headers.etag, results[0].etag);
  });

  it('applies two items with one key in order, the second seeing the first', async () => {
    const response = await api.post(BATCH, {
      items: [
        byRef('b-twice', { firstName: 'First', email: 'twice@example.com' }),
        byRef('b-twice', { lastName: 'Second' }),
        byRef('b-twice', { lastName: 'Second' }),
      ],
    });
    assert.equal(response.statusCode, 200, response.body);
    const { results, summary } = response.json();
    assert.deepEqual(
      results.map((r: Json) => r.action),
      ['created', 'updated', 'unchanged'],
    );
    assert.equal(new Set(results.map((r: Json) => r.id)).size, 1);
    assert.equal(summary.unchanged, 1);
    const contact = (await api.get(refPath('hubspot', 'b-twice'))).json();
    assert.equal(contact.firstName, 'First');
    assert.equal(contact.lastName, 'Second');
    assert.equal(contact.etag, results[2].etag);
  });

  it('reports a repeat of data already stored as unchanged, with the same ETag', async () => {
    const first = (await api.patch(refPath('hubspot', 'b-same'), { firstName: 'Same' })).json();
    const response = await api.post(BATCH, { items: [byRef('b-same', { firstName: 'Same' })] });
    const [result] = response.json().results;
    assert.equal(result.action, 'unchanged');
    assert.equal(result.etag, first.etag);
  });

  it('stores nothing when atomic and one item fails: 422, the failure, and 424 for every other item', async () => {
    const response = await api.post(BATCH, {
      atomic: true,
      items: [
        byRef('b-atomic-1', { firstName: 'One' }),
        byRef('b-atomic-2', { email: 'nope' }),
        byRef('b-atomic-3', { firstName: 'Three' }),
      ],
    });
    assert.equal(response.statusCode, 422, response.body);
    const { results, summary } = response.json();
    assert.deepEqual(
      results.map((r: Json) => r.status),
      [424, 400, 424],
    );
    assert.equal(results[0].problem.type, '/problems/batch-rolled-back');
    assert.equal(results[0].action, null);
    assert.equal(summary.failed, 3);
    assert.equal((await api.get(refPath('hubspot', 'b-atomic-1'))).statusCode, 404);
    assert.equal((await api.get(refPath('hubspot', 'b-atomic-3'))).statusCode, 404);
  });

  it('commits an atomic batch whose items all succeed', async () => {
    const response = await api.post(BATCH, { atomic: true, items: [byRef('b-atomic-ok', { firstName: 'Ok' })] });
    assert.equal(response.statusCode, 200);
    assert.equal((await api.get(refPath('hubspot', 'b-atomic-ok'))).statusCode, 200);
  });

  it('with validateOnly, makes the same decisions and stores nothing', async () => {
    await api.patch(refPath('hubspot', 'b-dry-existing'), { firstName: 'Kept' });
    const response = await api.post(BATCH, {
      validateOnly: true,
      items: [
        byRef('b-dry-new', { firstName: 'Dry' }),
        byRef('b-dry-new', { lastName: 'Run' }),
        byRef('b-dry-existing', { firstName: 'Changed' }),
        byRef('b-dry-bad', { email: 'bad' }),
      ],
    });
    assert.equal(response.statusCode, 207);
    assert.deepEqual(
      response.json().results.map((r: Json) => [r.status, r.action]),
      [
        [201, 'created'],
        [200, 'updated'],
        [200, 'updated'],
        [400, null],
      ],
    );
    assert.equal((await api.get(refPath('hubspot', 'b-dry-new'))).statusCode, 404);
    assert.equal((await api.get(refPath('hubspot', 'b-dry-existing'))).json().firstName, 'Kept');
  });

  it('honours each item’s ifMatch, and refuses ifMatch on an item without externalRef', async () => {
    const current = (await api.patch(refPath('hubspot', 'b-if'), { firstName: 'If' })).json();
    const response = await api.post(BATCH, {
      items: [
        byRef('b-if', { firstName: 'Fresh' }, { ifMatch: current.etag }),
        byRef('b-if', { firstName: 'Late' }, { ifMatch: current.etag }),
        { data: { firstName: 'X', email: 'x-if@example.com' }, ifMatch: current.etag },
      ],
    });
    const { results } = response.json();
    assert.deepEqual(
      results.map((r: Json) => r.status),
      [200, 412, 400],
    );
    assert.deepEqual(Object.keys(results[2].problem.errors), ['ifMatch']);
    assert.equal((await api.get(refPath('hubspot', 'b-if'))).json().firstName, 'Fresh');
  });

  it('follows updateOnly and revive like the single upsert', async () => {
    const gone = (await api.patch(refPath('hubspot', 'b-gone'), { firstName: 'Gone' })).json();
    await api.delete(`${CONTACTS}/${gone.id}`);
    const noRevive = await api.post(BATCH, {
      revive: false,
      updateOnly: true,
      items: [byRef('b-gone', { firstName: 'X' })],
    });
    assert.equal(noRevive.json().results[0].status, 404);
    const revived = await api.post(BATCH, { items: [byRef('b-gone', { firstName: 'Back' })] });
    assert.equal(revived.json().results[0].action, 'revived');
    assert.equal(revived.json().results[0].id, gone.id);
    assert.equal(revived.json().summary.revived, 1);
  });

  it('matches by email by default for items with externalRef, and reports an ambiguous match', async () => {
    const byEmail = await newContact(api, { firstName: 'E', email: 'amb-email@example.com' });
    const byPhone = await newContact(api, { firstName: 'P', phone: '+46701112233' });
    const response = await api.post(BATCH, {
      items: [
        byRef('b-email-match', { firstName: 'Via ref' }),
        { data: { email: 'amb-email@example.com', phone: '+46701112233', firstName: 'Both' } },
      ],
    });
    const [first, second] = response.json().results;
    // The reference is unknown and the item has no email: created.
    assert.equal(first.action, 'created');
    assert.equal(second.matchedBy, 'email');
    assert.equal(second.id, byEmail.id);
    assert.equal(second.ambiguousContactId, byPhone.id);
    const withEmail = await api.post(BATCH, {
      items: [byRef('b-email-2', { firstName: 'Joined', email: 'amb-email@example.com' })],
    });
    assert.equal(withEmail.json().results[0].matchedBy, 'email');
    assert.equal(withEmail.json().results[0].id, byEmail.id);
  });

  it('refuses data.externalRefs on an item keyed by externalRef', async () => {
    const response = await api.post(BATCH, {
      items: [byRef('b-refs', { firstName: 'R', externalRefs: [{ namespace: 'x', id: '1' }] })],
    });
    assert.deepEqual(Object.keys(response.json().results[0].problem.errors), ['data.externalRefs']);
  });

  for (const [what, body] of [
    ['a body that is not an object', []],
    ['no items', { items: [] }],
    ['more than 1,000 items', { items: Array.from({ length: 1001 }, () => ({ data: { firstName: 'x' } })) }],
    ['an unknown top-level field', { items: [{ data: { firstName: 'x' } }], force: true }],
    ['items that is not a list', { items: {} }],
    ['a flag of the wrong type', { items: [{ data: { firstName: 'x' } }], atomic: 'yes' }],
  ] as const) {
    it(`answers 400 for the envelope: ${what}`, async () => {
      const response = await api.post(BATCH, body);
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json().type, '/problems/validation-failed');
    });
  }

  it('fails only the item with a NUL character or an id PostgreSQL would refuse', async () => {
    const response = await api.post(BATCH, {
      items: [
        byRef('b-text-ok', { firstName: 'Fine' }),
        byRef('b-text-nul', { firstName: 'Nul\u0000' }),
        byRef('b-text-urn', {
          firstName: 'Urn',
          connections: [
            { company: { kind: 'existing', id: 'urn:uuid:00000000-0000-0000-0000-000000000000' }, primary: true },
          ],
        }),
      ],
    });
    assert.equal(response.statusCode, 207, response.body);
    const { results } = response.json();
    assert.deepEqual(
      results.map((r: Json) => r.status),
      [201, 400, 400],
    );
    assert.deepEqual(results[1].problem.errors, { 'data.firstName': ['must not contain the NUL character'] });
    assert.ok(results[2].problem.errors['data.connections[0].company.id']);
  });

  it('fails only the item that is not an object', async () => {
    const response = await api.post(BATCH, {
      items: [{ data: { firstName: 'Fine' } }, 'text', { data: { firstName: 1 } }],
    });
    assert.equal(response.statusCode, 207);
    assert.deepEqual(
      response.json().results.map((r: Json) => r.status),
      [201, 400, 400],
    );
  });

  it('replays a batch sent again with the same Idempotency-Key', async () => {
    const body = { items: [byRef('b-idem', { firstName: 'Once' })] };
    const first = await api.post(BATCH, body, { 'idempotency-key': 'batch-key-1' });
    const second = await api.post(BATCH, body, { 'idempotency-key': 'batch-key-1' });
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.body, first.body);
  });

  it("answers another organization's references as unknown", async () => {
    await api.patch(refPath('hubspot', 'b-private'), { firstName: 'Private' });
    const other = client(test.app, await newOrganization(test.app));
    const response = await other.post(BATCH, { updateOnly: true, items: [byRef('b-private', { firstName: 'Steal' })] });
    assert.equal(response.json().results[0].status, 404);
    assert.equal((await api.get(refPath('hubspot', 'b-private'))).json().firstName, 'Private');
  });
});
