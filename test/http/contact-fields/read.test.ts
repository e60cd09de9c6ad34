import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, type Response, type TestApp } from '../../helpers/app.js';
import { CONTACT_FIELDS, createField, fieldPath, fieldsOrganization, TIER_OPTIONS } from './helpers.js';

/** A problem as the client compares it: everything but where and when it happened. */
function problemOf(response: Response) {
  const { instance: _instance, traceId: _traceId, detail, ...rest } = response.json();
  return { status: response.statusCode, ...rest, detail: detail.replace(/\bfield \w+/, 'field KEY') };
}

describe('GET /contact-fields and /contact-fields/{key}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('lists every field of the organization, archived ones too, in creation order', async () => {
    const { api } = await fieldsOrganization(t.app);
    assert.deepEqual((await api.get(CONTACT_FIELDS)).json(), { data: [] });
    const zeta = await createField(api, { key: 'zeta', label: 'Zeta', type: 'text' });
    const alpha = await createField(api, {
      key: 'alpha',
      label: 'Alpha',
      type: 'single_select',
      options: TIER_OPTIONS,
    });
    const archived = await api.patch(fieldPath('zeta'), { archived: true });
    assert.equal(archived.statusCode, 200, archived.body);
    const list = await api.get(CONTACT_FIELDS);
    assert.equal(list.statusCode, 200);
    assert.equal(list.headers.etag, undefined);
    assert.deepEqual(list.json(), { data: [archived.json(), alpha] });
    assert.notDeepEqual(archived.json(), zeta);
  });

  it('orders fields created at the same instant by key', async () => {
    const { org, api } = await fieldsOrganization(t.app);
    await sql`
      INSERT INTO contact_field_definitions (organization_id, key, label, type, created_at, updated_at)
      VALUES (${org.id}, 'm_second', 'M', 'text', '2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z'),
             (${org.id}, 'b_second', 'B', 'text', '2026-12-01T10:00:00Z', '2026-12-01T10:00:00Z'),
             (${org.id}, 'z_first', 'Z', 'text', '2026-12-01T09:00:00Z', '2026-12-01T09:00:00Z')
    `.execute(t.database.db);
    const keys = (await api.get(CONTACT_FIELDS)).json().data.map((field: { key: string }) => field.key);
    assert.deepEqual(keys, ['z_first', 'b_second', 'm_second']);
  });

  it('reads one field with its ETag header', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, {
      key: 'tier',
      label: 'Tier',
      type: 'single_select',
      options: TIER_OPTIONS,
    });
    const read = await api.get(fieldPath('tier'));
    assert.equal(read.statusCode, 200);
    assert.equal(read.headers.etag, created.etag);
    assert.deepEqual(read.json(), created);
  });

  it('answers 404 for a key the organization does not have, 400 for one that cannot be a key', async () => {
    const { api } = await fieldsOrganization(t.app);
    const missing = await api.get(fieldPath('nothing_here'));
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().type, '/problems/not-found');
    assert.match(missing.json().detail, /nothing_here/);
    const invalid = await api.get(fieldPath('Not-A-Key'));
    assert.equal(invalid.statusCode, 400);
    assert.ok(Object.hasOwn(invalid.json().errors, 'key'), invalid.body);
  });

  it("answers another organization's field exactly like a missing one, and leaves it untouched", async () => {
    const { api: owner } = await fieldsOrganization(t.app);
    const { api: intruder } = await fieldsOrganization(t.app);
    const theirs = await createField(owner, { key: 'secret_score', label: 'Score', type: 'number' });
    await createField(intruder, { key: 'own_field', label: 'Own', type: 'text' });
    const operations = [
      (key: string) => intruder.get(fieldPath(key)),
      (key: string) => intruder.patch(fieldPath(key), { label: 'Stolen' }),
      (key: string) => intruder.patch(fieldPath(key), { label: 'Stolen' }, { 'if-match': theirs.etag }),
      (key: string) => intruder.delete(fieldPath(key)),
      (key: string) => intruder.delete(fieldPath(key), { 'if-match': theirs.etag }),
    ];
    for (const operation of operations) {
      const foreign = await operation('secret_score');
      const missing = await operation('never_defined');
      assert.equal(foreign.statusCode, 404, foreign.body);
      assert.deepEqual(problemOf(foreign), problemOf(missing));
    }
    assert.deepEqual(
      (await intruder.get(CONTACT_FIELDS)).json().data.map((field: { key: string }) => field.key),
      ['own_field'],
    );
    assert.deepEqual((await owner.get(fieldPath('secret_score'))).json(), theirs);
  });
});
