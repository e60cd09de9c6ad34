import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CUSTOM_FIELD_TYPES, SELECT_TYPES } from '../../../src/contact-fields/custom-field-types.js';
import type { CustomFieldType } from '../../../src/db/schema.js';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import {
  assertNamesField,
  CONTACT_FIELDS,
  createField,
  FIELD_REPRESENTATION,
  fieldPath,
  fieldsOrganization,
  TIER_OPTIONS,
} from './helpers.js';

describe('POST /contact-fields', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  it('creates a field of each type: 201 with Location, ETag and the representation GET shows', async () => {
    const { api } = await fieldsOrganization(t.app);
    for (const type of CUSTOM_FIELD_TYPES) {
      const key = `my_${type}`;
      const options = SELECT_TYPES.has(type as CustomFieldType) ? TIER_OPTIONS : undefined;
      const response = await api.post(CONTACT_FIELDS, { key, label: `My ${type}`, type, ...(options && { options }) });
      assert.equal(response.statusCode, 201, `${type}: ${response.body}`);
      const created = response.json();
      assert.deepEqual(Object.keys(created).sort(), FIELD_REPRESENTATION);
      assert.equal(response.headers.location, fieldPath(key));
      assert.equal(response.headers.etag, created.etag);
      assert.match(created.etag, /^W\/"[A-Za-z0-9_-]{22}"$/);
      assert.equal(created.key, key);
      assert.equal(created.label, `My ${type}`);
      assert.equal(created.type, type);
      assert.deepEqual(created.options, options ?? []);
      assert.equal(created.archived, false);
      assert.equal(created.createdUtc, created.updatedUtc);
      const read = await api.get(fieldPath(key));
      assert.equal(read.statusCode, 200);
      assert.deepEqual(read.json(), created);
    }
    const list = (await api.get(CONTACT_FIELDS)).json();
    assert.deepEqual(
      list.data.map((field: { type: string }) => field.type),
      [...CUSTOM_FIELD_TYPES],
    );
  });

  it('stores labels and options trimmed, and may create an archived field', async () => {
    const { api } = await fieldsOrganization(t.app);
    const created = await createField(api, {
      key: 'tier',
      label: '  Tier ',
      type: 'multi_select',
      options: [{ value: ' gold ', label: ' Gold' }],
      archived: true,
    });
    assert.equal(created.label, 'Tier');
    assert.deepEqual(created.options, [{ value: 'gold', label: 'Gold' }]);
    assert.equal(created.archived, true);
  });

  it('accepts keys of 1 to 50 lower-case letters, digits and _, starting with a letter; 400 naming key otherwise', async () => {
    const { api } = await fieldsOrganization(t.app);
    for (const key of ['a', 'x1', 'budget_sek', `k${'_'.repeat(49)}`]) {
      await createField(api, { key, label: 'Fine', type: 'text' });
    }
    for (const key of [
      '',
      'Budget',
      'budgetSek',
      '1st',
      '_hidden',
      'a-b',
      'a b',
      'a.b',
      'budget ',
      'båt',
      'a'.repeat(51),
      7,
    ]) {
      assertNamesField(await api.post(CONTACT_FIELDS, { key, label: 'Bad', type: 'text' }), 'key', JSON.stringify(key));
    }
    assert.equal((await api.get(CONTACT_FIELDS)).json().data.length, 4);
  });

  it('needs a label of 1 to 255 characters that is not blank', async () => {
    const { api } = await fieldsOrganization(t.app);
    await createField(api, { key: 'long', label: 'l'.repeat(255), type: 'text' });
    for (const label of ['', '   ', '\t\n', 'l'.repeat(256), null, 5]) {
      assertNamesField(
        await api.post(CONTACT_FIELDS, { key: 'other', label, type: 'text' }),
        'label',
        JSON.stringify(label),
      );
    }
    assert.equal((await api.get(CONTACT_FIELDS)).json().data.length, 1);
  });

  it('names missing, unknown and ill-typed fields with 400', async () => {
    const { api } = await fieldsOrganization(t.app);
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ label: 'No key', type: 'text' }, ['key']],
      [{ key: 'no_label', type: 'text' }, ['label']],
      [{ key: 'no_type', label: 'No type' }, ['type']],
      [{ key: 'kind', label: 'Kind', type: 'select' }, ['type']],
      [{ key: 'kind', label: 'Kind', type: 'Text' }, ['type']],
      [{ key: 'kind', label: 'Kind', type: 'text', archived: 'no' }, ['archived']],
      [{ key: 'kind', label: 'Kind', type: 'text', color: 'red' }, ['color']],
      [
        { key: 'kind', label: 'Kind', type: 'text', etag: 'W/"x"', createdUtc: '2026-12-01T00:00:00Z' },
        ['etag', 'createdUtc'],
      ],
      [
        { key: 'kind', label: 'Kind', type: 'single_select', options: [{ value: 'a', label: 'A', color: 'red' }] },
        ['options[0].color'],
      ],
      [{ key: 'kind', label: 'Kind', type: 'single_select', options: ['a'] }, ['options[0]']],
    ];
    for (const [body, fields] of cases) {
      const response = await api.post(CONTACT_FIELDS, body);
      for (const field of fields) assertNamesField(response, field, JSON.stringify(body));
    }
    assert.deepEqual((await api.get(CONTACT_FIELDS)).json(), { data: [] });
  });

  it('needs options for select types and refuses them for the others, naming options', async () => {
    const { api } = await fieldsOrganization(t.app);
    for (const type of ['single_select', 'multi_select']) {
      assertNamesField(await api.post(CONTACT_FIELDS, { key: 'pick', label: 'Pick', type }), 'options', type);
      assertNamesField(
        await api.post(CONTACT_FIELDS, { key: 'pick', label: 'Pick', type, options: [] }),
        'options',
        type,
      );
    }
    for (const type of CUSTOM_FIELD_TYPES.filter((type) => !SELECT_TYPES.has(type))) {
      const response = await api.post(CONTACT_FIELDS, { key: 'plain', label: 'Plain', type, options: TIER_OPTIONS });
      assertNamesField(response, 'options', type);
    }
    assert.deepEqual((await api.get(CONTACT_FIELDS)).json(), { data: [] });
    // The empty list is how GET shows a field without options: sent back, it means none.
    const plain = await createField(api, { key: 'plain', label: 'Plain', type: 'url', options: [] });
    assert.deepEqual(plain.options, []);
  });

  it('checks each option: values unique and not blank, 1 to 500 of them, within their lengths', async () => {
    const { api } = await fieldsOrganization(t.app);
    const select = (options: unknown) =>
      api.post(CONTACT_FIELDS, { key: 'pick', label: 'Pick', type: 'single_select', options });
    const duplicate = await select([...TIER_OPTIONS, { value: 'silver', label: 'Silver again' }]);
    assertNamesField(duplicate, 'options[3].value');
    assert.match(duplicate.json().errors['options[3].value'][0], /options\[1\]/);
    assertNamesField(
      await select([
        { value: 'gold', label: 'Gold' },
        { value: ' gold ', label: 'Gold too' },
      ]),
      'options[1].value',
    );
    assertNamesField(await select([{ value: '  ', label: 'Blank' }]), 'options[0].value');
    assertNamesField(await select([{ value: 'x', label: ' ' }]), 'options[0].label');
    assertNamesField(await select([{ value: '', label: 'Empty' }]), 'options[0].value');
    assertNamesField(await select([{ value: 'v'.repeat(101), label: 'Long' }]), 'options[0].value');
    assertNamesField(await select([{ value: 'x', label: 'l'.repeat(256) }]), 'options[0].label');
    assertNamesField(await select([{ label: 'No value' }]), 'options[0].value');
    const many = Array.from({ length: 501 }, (_, i) => ({ value: `v${i}`, label: `V${i}` }));
    assertNamesField(await select(many), 'options');
    assert.deepEqual((await api.get(CONTACT_FIELDS)).json(), { data: [] });

    const most = await createField(api, {
      key: 'most',
      label: 'Most',
      type: 'multi_select',
      options: many
        .slice(0, 500)
        .map((option, i) => (i === 0 ? { value: 'v'.repeat(100), label: 'l'.repeat(255) } : option)),
    });
    assert.equal(most.options.length, 500);
    // Values compare exactly: case makes them different.
    await createField(api, {
      key: 'cased',
      label: 'Cased',
      type: 'single_select',
      options: [
        { value: 'a', label: 'a' },
        { value: 'A', label: 'A' },
      ],
    });
  });

  it('answers 409 conflict naming key for a key the organization already has, and keeps the first', async () => {
    const { api } = await fieldsOrganization(t.app);
    const first = await createField(api, { key: 'budget', label: 'Budget', type: 'number' });
    const again = await api.post(CONTACT_FIELDS, { key: 'budget', label: 'Other', type: 'text' });
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(again.json().type, '/problems/conflict');
    assert.equal(again.json().conflictField, 'key');
    assert.deepEqual((await api.get(fieldPath('budget'))).json(), first);

    const racing = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        api.post(CONTACT_FIELDS, { key: 'racing', label: `Racer ${i}`, type: 'text' }),
      ),
    );
    assert.deepEqual(racing.map((response) => response.statusCode).sort(), [201, 409, 409, 409, 409, 409]);
    assert.equal((await api.get(CONTACT_FIELDS)).json().data.length, 2);
  });

  it('lets another organization use the same key', async () => {
    const { api: one } = await fieldsOrganization(t.app);
    const { api: other } = await fieldsOrganization(t.app);
    await createField(one, { key: 'budget', label: 'Budget', type: 'number' });
    const theirs = await createField(other, { key: 'budget', label: 'Their budget', type: 'text' });
    assert.equal(theirs.type, 'text');
    assert.equal((await one.get(fieldPath('budget'))).json().type, 'number');
  });
});
