import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { newContact } from '../../helpers/contacts.js';
import {
  assertNamesField,
  createField,
  fieldPath,
  fieldsOrganization,
  setCustomFields,
  TIER_FIELD,
  TIER_OPTIONS,
} from './helpers.js';

const TIER = fieldPath('tier');
describe('PATCH /contact-fields/{key}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('changes the label, keeps the rest, and gives the field a new ETag and updatedUtc', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, TIER_FIELD);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const response = await api.patch(TIER, { label: '  Membership tier ' });
    assert.equal(response.statusCode, 200, response.body);
    const changed = response.json();
    assert.equal(response.headers.etag, changed.etag);
    assert.equal(changed.label, 'Membership tier');
    assert.deepEqual(changed.options, TIER_OPTIONS);
    assert.equal(changed.type, 'single_select');
    assert.equal(changed.archived, false);
    assert.equal(changed.createdUtc, created.createdUtc);
    assert.notEqual(changed.etag, created.etag);
    assert.ok(changed.updatedUtc > created.updatedUtc, `${changed.updatedUtc} after ${created.updatedUtc}`);
    assert.deepEqual((await api.get(TIER)).json(), changed);
    for (const label of ['', '  ', 'l'.repeat(256)]) assertNamesField(await api.patch(TIER, { label }), 'label');
  });

  it("adds, reorders and relabels a select field's options", async () => {
    const { api } = await fieldsOrganization(t.app);
    await createField(api, TIER_FIELD);
    const added = [{ value: 'platinum', label: 'Platinum' }, ...TIER_OPTIONS];
    assert.deepEqual((await api.patch(TIER, { options: added })).json().options, added);
    const reordered = [...added].reverse();
    assert.deepEqual((await api.patch(TIER, { options: reordered })).json().options, reordered);
    const relabeled = reordered.map((option) => ({ ...option, label: option.label.toUpperCase() }));
    assert.deepEqual((await api.patch(TIER, { options: relabeled })).json().options, relabeled);
    const removed = relabeled.filter((option) => option.value !== 'bronze');
    assert.deepEqual((await api.patch(TIER, { options: removed })).json().options, removed);
  });

  it('checks options as creation does, for the stored type', async () => {
    const { api } = await fieldsOrganization(t.app);
    const tier = await createField(api, TIER_FIELD);
    assertNamesField(await api.patch(TIER, { options: [] }), 'options');
    assertNamesField(
      await api.patch(TIER, { options: [...TIER_OPTIONS, { value: 'gold', label: 'Gold 2' }] }),
      'options[3].value',
    );
    assertNamesField(await api.patch(TIER, { options: [{ value: ' ', label: 'Blank' }] }), 'options[0].value');
    assert.deepEqual((await api.get(TIER)).json(), tier);

    const budget = await createField(api, { key: 'budget', label: 'Budget', type: 'number' });
    assertNamesField(await api.patch(fieldPath('budget'), { options: TIER_OPTIONS }), 'options');
    const empty = await api.patch(fieldPath('budget'), { options: [] });
    assert.equal(empty.statusCode, 200, empty.body);
    assert.equal(empty.json().etag, budget.etag);
  });

  it('archives and restores a field', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, TIER_FIELD);
    const archived = (await api.patch(TIER, { archived: true })).json();
    assert.equal(archived.archived, true);
    assert.notEqual(archived.etag, created.etag);
    const restored = (await api.patch(TIER, { archived: false })).json();
    assert.equal(restored.archived, false);
    assert.notEqual(restored.etag, archived.etag);
    assert.notEqual(restored.etag, created.etag, 'a version is never reused');
  });

  it('changes nothing, ETag and updatedUtc included, when the body changes nothing', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, TIER_FIELD);
    const { createdUtc: _c, updatedUtc: _u, etag: _e, ...roundTrip } = (await api.get(TIER)).json();
    for (const body of [{}, { label: 'Tier' }, { options: TIER_OPTIONS, archived: false }, roundTrip]) {
      const response = await api.patch(TIER, body);
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), created, JSON.stringify(body));
      assert.equal(response.headers.etag, created.etag);
    }
    // Trimmed before it is compared: the same label with spaces is the same label.
    assert.equal((await api.patch(TIER, { label: ' Tier ' })).json().etag, created.etag);
  });

  it('answers 400 naming type or key when the body would change them, and accepts them unchanged', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, TIER_FIELD);
    const typeChange = await api.patch(TIER, { type: 'multi_select' });
    assertNamesField(typeChange, 'type');
    assert.match(typeChange.json().errors.type[0], /cannot change; create a new field/);
    assertNamesField(await api.patch(TIER, { type: 'text', options: [] }), 'type');
    const keyChange = await api.patch(TIER, { key: 'level', label: 'Level' });
    assertNamesField(keyChange, 'key');
    assert.match(keyChange.json().errors.key[0], /cannot change; create a new field/);
    assertNamesField(await api.patch(TIER, { key: 'Not-A-Key' }), 'key');
    assertNamesField(await api.patch(TIER, { type: 'enum' }), 'type');
    assert.deepEqual((await api.get(TIER)).json(), created);
    assert.equal((await api.get(fieldPath('level'))).statusCode, 404);

    const same = await api.patch(TIER, { key: 'tier', type: 'single_select', label: 'Level' });
    assert.equal(same.statusCode, 200, same.body);
    assert.equal(same.json().label, 'Level');
  });

  it('refuses unknown fields and read-only members with 400 naming them', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, TIER_FIELD);
    const response = await api.patch(TIER, {
      label: 'New',
      etag: created.etag,
      updatedUtc: created.updatedUtc,
      hint: 'x',
    });
    for (const field of ['etag', 'updatedUtc', 'hint']) assertNamesField(response, field);
    assert.deepEqual((await api.get(TIER)).json(), created);
  });

  it('answers 404 for a key the organization does not have', async () => {
    const { api } = await fieldsOrganization(t.app);
    const response = await api.patch(fieldPath('missing'), { label: 'X' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().type, '/problems/not-found');
  });

  it('applies If-Match: 412 with the current ETag when it is stale, the change when it matches', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, TIER_FIELD);
    const changed = (await api.patch(TIER, { label: 'First' }, { 'if-match': created.etag })).json();
    assert.equal(changed.label, 'First');
    const stale = await api.patch(TIER, { label: 'Second' }, { 'if-match': created.etag });
    assert.equal(stale.statusCode, 412, stale.body);
    assert.equal(stale.json().type, '/problems/precondition-failed');
    assert.equal(stale.json().currentEtag, changed.etag);
    // Stale even when the body would change nothing: the client's copy is out of date.
    assert.equal((await api.patch(TIER, {}, { 'if-match': created.etag })).statusCode, 412);
    assert.deepEqual((await api.get(TIER)).json(), changed);
    assert.equal(
      (await api.patch(TIER, { label: 'Third' }, { 'if-match': `"other", ${changed.etag}` })).statusCode,
      200,
    );
    assert.equal((await api.patch(TIER, { label: 'Fourth' }, { 'if-match': '*' })).statusCode, 200);
    assertNamesField(await api.patch(TIER, { label: 'Fifth' }, { 'if-match': 'not-an-etag' }), 'If-Match');
  });

  it('answers 428 without If-Match when the organization requires it', async () => {
    const { api } = await fieldsOrganization(t.app, { settings: { requireIfMatch: true } });
    const created = await createField(api, TIER_FIELD);
    const response = await api.patch(TIER, { label: 'No precondition' });
    assert.equal(response.statusCode, 428, response.body);
    assert.equal(response.json().type, '/problems/precondition-required');
    assert.equal((await api.patch(TIER, { label: 'With one' }, { 'if-match': created.etag })).statusCode, 200);
  });

  it('answers 409 naming options when contacts hold an option the change removes, and not once they are cleared', async () => {
    const { org, api } = await fieldsOrganization(t.app);
    const tier = await createField(api, TIER_FIELD);
    const areas = await createField(api, { ...TIER_FIELD, key: 'areas', type: 'multi_select' });
    const holder = await newContact(api);
    const deleted = await newContact(api, { firstName: 'Gone' });
    assert.equal((await api.delete(deleted.uri)).statusCode, 204);
    await setCustomFields(t.database.db, org.id, holder.id, { tier: 'silver', areas: ['bronze', 'gold'] });
    await setCustomFields(t.database.db, org.id, deleted.id, { tier: 'bronze' });
    const withoutSilver = TIER_OPTIONS.filter((option) => option.value !== 'silver');
    const withoutBronze = TIER_OPTIONS.filter((option) => option.value !== 'bronze');

    for (const [path, options, held] of [
      [TIER, withoutSilver, /"silver"/],
      [TIER, withoutBronze, /"bronze"/],
      [TIER, [{ value: 'platinum', label: 'Platinum' }], /"silver", "bronze"/],
      [fieldPath('areas'), withoutBronze, /"bronze"/],
    ] as const) {
      const response = await api.patch(path, { options, label: 'Renamed' });
      assert.equal(response.statusCode, 409, response.body);
      assert.equal(response.json().type, '/problems/contact-field-in-use');
      assert.ok(Object.hasOwn(response.json().errors, 'options'), response.body);
      assert.match(response.json().errors.options[0], held);
    }
    assert.deepEqual((await api.get(TIER)).json(), tier);
    assert.deepEqual((await api.get(fieldPath('areas'))).json(), areas);

    // Options nobody holds go; held ones may be relabeled.
    const relabeled = [
      { value: 'silver', label: 'Silver (legacy)' },
      { value: 'bronze', label: 'Bronze' },
    ];
    const kept = await api.patch(TIER, { options: relabeled });
    assert.equal(kept.statusCode, 200, kept.body);
    assert.deepEqual(kept.json().options, relabeled);

    await setCustomFields(t.database.db, org.id, holder.id, { areas: ['gold'] });
    await setCustomFields(t.database.db, org.id, deleted.id, {});
    const freed = await api.patch(TIER, { options: [{ value: 'platinum', label: 'Platinum' }] });
    assert.equal(freed.statusCode, 200, freed.body);
    const areasFreed = await api.patch(fieldPath('areas'), { options: [{ value: 'gold', label: 'Gold' }] });
    assert.equal(areasFreed.statusCode, 200, areasFreed.body);
    const goldHeld = await api.patch(fieldPath('areas'), { options: [{ value: 'silver', label: 'Silver' }] });
    assert.equal(goldHeld.statusCode, 409, goldHeld.body);
  });

  it("ignores values held under other keys and by other organizations' contacts", async () => {
    const { org, api } = await fieldsOrganization(t.app);
    const { org: otherOrg, api: other } = await fieldsOrganization(t.app);
    await createField(api, TIER_FIELD);
    await createField(other, TIER_FIELD);
    const mine = await newContact(api);
    const theirs = await newContact(other);
    await setCustomFields(t.database.db, org.id, mine.id, { level: 'gold', tier_old: 'gold' });
    await setCustomFields(t.database.db, otherOrg.id, theirs.id, { tier: 'gold' });
    const response = await api.patch(TIER, { options: [{ value: 'silver', label: 'Silver' }] });
    assert.equal(response.statusCode, 200, response.body);
  });
});
