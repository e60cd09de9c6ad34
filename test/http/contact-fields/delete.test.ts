import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lockDefinitions } from '../../../src/contact-fields/custom-field.repository.js';
import { createTestApp, type Response, type TestApp } from '../../helpers/app.js';
import { newContact } from '../../helpers/contacts.js';
import {
  CONTACT_FIELDS,
  createField,
  fieldPath,
  fieldsOrganization,
  setCustomFields,
  TIER_OPTIONS,
} from './helpers.js';

const BUDGET = fieldPath('budget');
const budgetBody = { key: 'budget', label: 'Budget', type: 'number' };

function assertInUse(response: Response): void {
  assert.equal(response.statusCode, 409, response.body);
  assert.equal(response.json().type, '/problems/contact-field-in-use');
  assert.match(response.json().detail, /archive it instead/);
}

describe('DELETE /contact-fields/{key}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('deletes a field no contact holds: 204, then 404, and the key can be defined again', async () => {
    const { api } = await fieldsOrganization(t.app);
    await createField(api, budgetBody);
    const response = await api.delete(BUDGET);
    assert.equal(response.statusCode, 204);
    assert.equal(response.body, '');
    assert.equal((await api.get(BUDGET)).statusCode, 404);
    assert.equal((await api.delete(BUDGET)).statusCode, 404);
    assert.deepEqual((await api.get(CONTACT_FIELDS)).json(), { data: [] });
    const again = await createField(api, { ...budgetBody, type: 'text' });
    assert.equal(again.type, 'text');
  });

  it('answers 409 contact-field-in-use while a contact holds a value, and 204 once it is cleared', async () => {
    const { org, api } = await fieldsOrganization(t.app);
    const field = await createField(api, budgetBody);
    const contact = await newContact(api);
    await setCustomFields(t.database.db, org.id, contact.id, { budget: 1 });
    assertInUse(await api.delete(BUDGET));
    assert.deepEqual((await api.get(BUDGET)).json(), field);
    // A null still is a value under the key.
    await setCustomFields(t.database.db, org.id, contact.id, { budget: null });
    assertInUse(await api.delete(BUDGET));
    await setCustomFields(t.database.db, org.id, contact.id, {});
    assert.equal((await api.delete(BUDGET)).statusCode, 204);
  });

  it('counts the values of deleted contacts too', async () => {
    const { org, api } = await fieldsOrganization(t.app);
    await createField(api, { key: 'tier', label: 'Tier', type: 'multi_select', options: TIER_OPTIONS });
    const contact = await newContact(api);
    await setCustomFields(t.database.db, org.id, contact.id, { tier: ['gold'] });
    assert.equal((await api.delete(contact.uri)).statusCode, 204);
    assertInUse(await api.delete(fieldPath('tier')));
    await setCustomFields(t.database.db, org.id, contact.id, {});
    assert.equal((await api.delete(fieldPath('tier'))).statusCode, 204);
  });

  it("ignores values under other keys and other organizations' contacts", async () => {
    const { org, api } = await fieldsOrganization(t.app);
    const { org: otherOrg, api: other } = await fieldsOrganization(t.app);
    await createField(api, budgetBody);
    await createField(other, budgetBody);
    await setCustomFields(t.database.db, org.id, (await newContact(api)).id, { budget_sek: 5, budge: 1 });
    await setCustomFields(t.database.db, otherOrg.id, (await newContact(other)).id, { budget: 5 });
    assert.equal((await api.delete(BUDGET)).statusCode, 204);
    assertInUse(await other.delete(BUDGET));
  });

  it('applies If-Match: 412 with the current ETag when it is stale, 204 when it matches', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, budgetBody);
    const changed = (await api.patch(BUDGET, { label: 'Budget (SEK)' })).json();
    const stale = await api.delete(BUDGET, { 'if-match': created.etag });
    assert.equal(stale.statusCode, 412, stale.body);
    assert.equal(stale.json().type, '/problems/precondition-failed');
    assert.equal(stale.json().currentEtag, changed.etag);
    assert.equal((await api.get(BUDGET)).statusCode, 200);
    assert.equal((await api.delete(BUDGET, { 'if-match': changed.etag })).statusCode, 204);
  });

  it('answers 428 without If-Match when the organization requires it', async () => {
    const { api } = await fieldsOrganization(t.app, { settings: { requireIfMatch: true } });
    const created = await createField(api, budgetBody);
    const response = await api.delete(BUDGET);
    assert.equal(response.statusCode, 428, response.body);
    assert.equal((await api.delete(BUDGET, { 'if-match': created.etag })).statusCode, 204);
  });

  it('waits for a contact write that holds the definition, then sees the value it stored', async () => {
    const { org, api } = await fieldsOrganization(t.app);
    await createField(api, budgetBody);
    await createField(api, { key: 'tier', label: 'Tier', type: 'single_select', options: TIER_OPTIONS });
    const contact = await newContact(api);
    let answered: Response | undefined;
    let pendingDelete: Promise<Response> | undefined;
    let pendingPatch: Promise<Response> | undefined;
    let answeredPatch: Response | undefined;
    await t.database.db.transaction().execute(async (trx) => {
      // As the contact write path does: lock the definitions it validates against, then store values.
      const locked = await lockDefinitions(trx, org.id, ['tier', 'budget', 'unknown', 'budget']);
      assert.deepEqual(
        locked.map((definition) => definition.key),
        ['budget', 'tier'],
      );
      pendingDelete = api.delete(BUDGET).then((response) => {
        answered = response;
        return response;
      });
      pendingPatch = api.patch(fieldPath('tier'), { options: TIER_OPTIONS.slice(1) }).then((response) => {
        answeredPatch = response;
        return response;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(answered, undefined, 'DELETE waited for the contact write');
      assert.equal(answeredPatch, undefined, 'PATCH waited for the contact write');
      await setCustomFields(trx, org.id, contact.id, { budget: 250000, tier: 'gold' });
    });
    assertInUse(await (pendingDelete as Promise<Response>));
    const patched = await (pendingPatch as Promise<Response>);
    assert.equal(patched.statusCode, 409, patched.body);
    assert.match(patched.json().errors.options[0], /"gold"/);
  });
});
