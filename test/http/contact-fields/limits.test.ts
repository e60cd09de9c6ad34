import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { CONTACT_FIELDS, createField, fieldPath, fieldsOrganization, insertDefinitions } from './helpers.js';

const LIMIT = 200;

describe('at most 200 custom fields per organization', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('creates 200 through the API, refuses the 201st with 409 contact-field-limit-reached, archived ones counting', async () => {
    const { api } = await fieldsOrganization(t.app);
    const results = [];
    // In waves, so that requests queued on the organization's lock stay within the pool's checkout timeout.
    for (let start = 0; start < LIMIT + 2; start += 34) {
      const wave = Array.from({ length: Math.min(34, LIMIT + 2 - start) }, (_, offset) => start + offset);
      results.push(
        ...(await Promise.all(
          wave.map((i) => api.post(CONTACT_FIELDS, { key: `f_${i}`, label: `F ${i}`, type: 'text' })),
        )),
      );
    }
    assert.deepEqual(results.map((response) => response.statusCode).sort(), [...Array(LIMIT).fill(201), 409, 409]);
    const refused = results.find((response) => response.statusCode === 409);
    assert.equal(refused?.json().type, '/problems/contact-field-limit-reached');
    assert.equal(refused?.json().limit, LIMIT);
    const list = (await api.get(CONTACT_FIELDS)).json().data;
    assert.equal(list.length, LIMIT);

    const first = list[0].key;
    assert.equal((await api.patch(fieldPath(first), { archived: true })).statusCode, 200);
    const stillFull = await api.post(CONTACT_FIELDS, { key: 'one_more', label: 'One more', type: 'text' });
    assert.equal(stillFull.statusCode, 409, stillFull.body);
    assert.equal(stillFull.json().type, '/problems/contact-field-limit-reached');

    assert.equal((await api.delete(fieldPath(first))).statusCode, 204);
    await createField(api, { key: 'one_more', label: 'One more', type: 'text' });
    assert.equal((await api.get(CONTACT_FIELDS)).json().data.length, LIMIT);
  });

  it('lets exactly one of two concurrent creates through at 199, round after round', async () => {
    const { org, api } = await fieldsOrganization(t.app);
    await insertDefinitions(t.database.db, org.id, LIMIT - 1);
    for (let round = 0; round < 5; round += 1) {
      const racers = await Promise.all(
        ['left', 'right'].map((side) =>
          api.post(CONTACT_FIELDS, { key: `${side}_${round}`, label: side, type: 'text' }),
        ),
      );
      assert.deepEqual(
        racers.map((response) => response.statusCode).sort(),
        [201, 409],
        racers.map((response) => response.body).join('\n'),
      );
      assert.equal((await api.get(CONTACT_FIELDS)).json().data.length, LIMIT);
      const winner = racers.find((response) => response.statusCode === 201)?.json();
      assert.equal((await api.delete(fieldPath(winner.key))).statusCode, 204);
    }
  });

  it("does not count another organization's fields", async () => {
    const { org: full } = await fieldsOrganization(t.app);
    await insertDefinitions(t.database.db, full.id, LIMIT);
    const { api } = await fieldsOrganization(t.app);
    await createField(api, { key: 'field_0', label: 'Mine', type: 'text' });
  });
});
