import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type Response, type TestApp } from '../../helpers/app.js';
import { type Client, CONTACTS, client, newContact, refPath } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';
import { CONTACT_FIELDS, createFields } from '../contact-fields/helpers.js';

const SCOPES = ['contacts.read', 'contacts.write', 'companies.read', 'companies.write', 'settings.write'];

/** One definition of every type, as an organization might declare them. */
const DEFINITIONS = [
  { key: 'notes', label: 'Notes', type: 'text' },
  { key: 'budget', label: 'Budget', type: 'number' },
  { key: 'investor', label: 'Investor', type: 'boolean' },
  { key: 'met_on', label: 'Met on', type: 'date' },
  { key: 'last_call', label: 'Last call', type: 'datetime' },
  { key: 'deck', label: 'Deck', type: 'url' },
  { key: 'assistant_email', label: 'Assistant email', type: 'email' },
  { key: 'desk_phone', label: 'Desk phone', type: 'phone' },
  {
    key: 'segment',
    label: 'Segment',
    type: 'single_select',
    options: [
      { value: 'enterprise', label: 'Enterprise' },
      { value: 'smb', label: 'SMB' },
    ],
  },
  {
    key: 'interests',
    label: 'Interests',
    type: 'multi_select',
    options: [
      { value: 'office', label: 'Office' },
      { value: 'retail', label: 'Retail' },
      { value: 'logistics', label: 'Logistics' },
    ],
  },
];

describe('custom field values on contacts', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  async function fresh(): Promise<{ api: Client; orgId: string }> {
    const org = await newOrganization(t.app, { scopes: SCOPES, settings: { defaultPhoneRegion: 'US' } });
    const api = client(t.app, org);
    await createFields(api, DEFINITIONS);
    return { api, orgId: org.id };
  }

  function assertFieldError(response: Response, field: string): void {
    assert.equal(response.statusCode, 400, response.body);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
    assert.ok(Object.keys(response.json().errors ?? {}).includes(field), `errors name ${field}: ${response.body}`);
  }

  it('stores each type in its canonical form and shows the values by key', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, {
      customFields: {
        notes: '  Prefers email  ',
        budget: 125000,
        investor: true,
        met_on: '2026-03-14',
        last_call: '2026-11-30T15:04:05+01:00',
        deck: 'https://example.com/deck.pdf',
        assistant_email: ' pa@example.com ',
        desk_phone: '(201) 555-0123',
        segment: 'enterprise',
        interests: ['retail', 'office'],
      },
    });
    assert.deepEqual(contact.customFields, {
      assistant_email: 'pa@example.com',
      budget: 125000,
      deck: 'https://example.com/deck.pdf',
      desk_phone: '+12015550123',
      interests: ['retail', 'office'],
      investor: true,
      last_call: '2026-11-30T14:04:05.000Z',
      met_on: '2026-03-14',
      notes: 'Prefers email',
      segment: 'enterprise',
    });
    const read = await api.get(`${CONTACTS}/${contact.id}`);
    assert.deepEqual(read.json().customFields, contact.customFields);
    assert.equal(read.json().etag, contact.etag);
  });

  it('reads numbers and booleans sent as text (CRM exports send every value as a string)', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, { customFields: { budget: '1e3', investor: 'false' } });
    assert.deepEqual(contact.customFields, { budget: 1000, investor: false });
  });

  it('refuses a value of the wrong type with 400 naming customFields.<key>, storing nothing', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, { customFields: { notes: 'kept' } });
    const wrong: Array<[string, unknown]> = [
      ['budget', 'lots'],
      ['budget', true],
      ['investor', 'yes'],
      ['met_on', '2026-02-30'],
      ['last_call', '2026-11-30T15:04:05'],
      ['deck', 'ftp://example.com/deck'],
      ['assistant_email', 'not-an-email'],
      ['segment', 'Enterprise'],
      ['segment', ['enterprise']],
      ['interests', ['office', 'farms']],
      ['interests', ['office', 'office']],
      ['interests', 'office'],
      ['notes', 7],
      ['notes', 'x'.repeat(10_001)],
    ];
    for (const [key, value] of wrong) {
      const response = await api.patch(`${CONTACTS}/${contact.id}`, {
        firstName: 'Changed',
        customFields: { [key]: value },
      });
      assertFieldError(response, `customFields.${key}`);
    }
    const read = await api.get(`${CONTACTS}/${contact.id}`);
    assert.equal(read.json().etag, contact.etag, 'no wrong value was half-written');
    assert.equal(read.json().firstName, 'Ada');
  });

  it('refuses keys that are not a custom field of the organization, and keys that cannot be one', async () => {
    const { api } = await fresh();
    assertFieldError(
      await api.post(CONTACTS, { firstName: 'A', customFields: { unknown_key: 'x' } }),
      'customFields.unknown_key',
    );
    const other = await fresh();
    const response = await other.api.post(CONTACT_FIELDS, { key: 'only_there', label: 'Only there', type: 'text' });
    assert.equal(response.statusCode, 201);
    // Another organization's definition is no definition here.
    assertFieldError(
      await api.post(CONTACTS, { firstName: 'A', customFields: { only_there: 'x' } }),
      'customFields.only_there',
    );
    const badKey = await api.post(CONTACTS, { firstName: 'A', customFields: { 'Bad-Key': 'x' } });
    assert.equal(badKey.statusCode, 400, badKey.body);
    const constructorKey = await api.post(CONTACTS, { firstName: 'A', customFields: { constructor: 'x' } });
    assertFieldError(constructorKey, 'customFields.constructor');
  });

  it('sets the keys present, clears keys sent as null, keeps the others; null as a whole clears all', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, { customFields: { notes: 'a', budget: 1, segment: 'smb' } });
    const patched = await api.patch(`${CONTACTS}/${contact.id}`, { customFields: { budget: null, investor: false } });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(patched.json().customFields, { investor: false, notes: 'a', segment: 'smb' });
    const untouched = await api.patch(`${CONTACTS}/${contact.id}`, { firstName: 'Other' });
    assert.deepEqual(untouched.json().customFields, { investor: false, notes: 'a', segment: 'smb' });
    const blanked = await api.patch(`${CONTACTS}/${contact.id}`, { customFields: { notes: '  ', interests: [] } });
    assert.deepEqual(
      blanked.json().customFields,
      { investor: false, segment: 'smb' },
      'a blank text or empty list clears',
    );
    const cleared = await api.patch(`${CONTACTS}/${contact.id}`, { customFields: null });
    assert.deepEqual(cleared.json().customFields, {});
  });

  it('changes nothing when the values are the same: same ETag, same updatedUtc, no event', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, { customFields: { budget: 5, interests: ['office', 'retail'] } });
    const before = (await api.get('/api/v1/network/events?limit=500')).json().data.length;
    const same = await api.patch(`${CONTACTS}/${contact.id}`, {
      customFields: { budget: '5', interests: ['office', 'retail'], notes: null },
    });
    assert.equal(same.statusCode, 200, same.body);
    assert.equal(same.json().etag, contact.etag);
    assert.equal(same.json().updatedUtc, contact.updatedUtc);
    assert.equal((await api.get('/api/v1/network/events?limit=500')).json().data.length, before);
    const changed = await api.patch(`${CONTACTS}/${contact.id}`, { customFields: { interests: ['retail', 'office'] } });
    assert.notEqual(changed.json().etag, contact.etag, 'the order of a multi-select is part of its value');
    const events = (await api.get('/api/v1/network/events?limit=500&types=contact.updated')).json().data;
    assert.deepEqual(events.at(-1).changedFields, ['customFields']);
  });

  it("accepts seed 003's list form, with id for key and value for field_value", async () => {
    const { api } = await fresh();
    const contact = await newContact(api, {
      customFields: [
        { key: 'segment', field_value: 'enterprise' },
        { id: 'budget', value: 250 },
        { key: 'notes', value: null },
      ],
    });
    assert.deepEqual(contact.customFields, { budget: 250, segment: 'enterprise' });
    const both = await api.patch(`${CONTACTS}/${contact.id}`, {
      customFields: [{ key: 'budget', id: 'budget', value: 1 }],
    });
    assertFieldError(both, 'customFields[0]');
    const neither = await api.patch(`${CONTACTS}/${contact.id}`, { customFields: [{ key: 'budget' }] });
    assertFieldError(neither, 'customFields[0]');
    const twice = await api.patch(`${CONTACTS}/${contact.id}`, {
      customFields: [
        { key: 'budget', value: 1 },
        { id: 'budget', value: 2 },
      ],
    });
    assertFieldError(twice, 'customFields[1].key');
    const unknownMember = await api.patch(`${CONTACTS}/${contact.id}`, {
      customFields: [{ key: 'budget', value: 1, extra: 1 }],
    });
    assert.equal(unknownMember.statusCode, 400, unknownMember.body);
  });

  it('keeps values of an archived field readable, refuses new values for it, and lets them be cleared', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, { customFields: { segment: 'smb', budget: 3 } });
    const archived = await api.patch(`${CONTACT_FIELDS}/segment`, { archived: true });
    assert.equal(archived.statusCode, 200, archived.body);
    assert.deepEqual((await api.get(`${CONTACTS}/${contact.id}`)).json().customFields, { budget: 3, segment: 'smb' });
    assertFieldError(
      await api.patch(`${CONTACTS}/${contact.id}`, { customFields: { segment: 'enterprise' } }),
      'customFields.segment',
    );
    const cleared = await api.patch(`${CONTACTS}/${contact.id}`, { customFields: { segment: null } });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.deepEqual(cleared.json().customFields, { budget: 3 });
  });

  it('refuses to delete a definition that still has values (409) and deletes it once they are cleared', async () => {
    const { api } = await fresh();
    const contact = await newContact(api, { customFields: { budget: 3 } });
    const refused = await api.delete(`${CONTACT_FIELDS}/budget`);
    assert.equal(refused.statusCode, 409, refused.body);
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
    await api.patch(`${CONTACTS}/${contact.id}`, { customFields: { budget: null } });
    assert.equal((await api.delete(`${CONTACT_FIELDS}/budget`)).statusCode, 204);
    assertFieldError(
      await api.patch(`${CONTACTS}/${contact.id}`, { customFields: { budget: 4 } }),
      'customFields.budget',
    );
  });

  it('never leaves a value behind a deleted definition when a write and the deletion race', async () => {
    const { api } = await fresh();
    const contacts = await Promise.all(Array.from({ length: 6 }, () => newContact(api)));
    const writes = contacts.map((contact) =>
      api.patch(`${CONTACTS}/${contact.id}`, { customFields: { notes: 'racing' } }),
    );
    const deletion = api.delete(`${CONTACT_FIELDS}/notes`);
    const [deleted, ...written] = await Promise.all([deletion, ...writes]);
    assert.ok([204, 409].includes(deleted.statusCode), deleted.body);
    const stored = await Promise.all(
      contacts.map(async (contact) => (await api.get(`${CONTACTS}/${contact.id}`)).json()),
    );
    const holders = stored.filter((contact) => contact.customFields.notes === 'racing').length;
    if (deleted.statusCode === 204) {
      assert.equal(holders, 0, 'a deleted definition has no values');
      for (const response of written) assert.ok([200, 400].includes(response.statusCode), response.body);
    } else {
      assert.ok(holders > 0, 'the deletion was refused because values exist');
    }
    assert.equal(holders, written.filter((response) => response.statusCode === 200).length);
  });

  it('checks values on both upserts, and names the item field in a batch', async () => {
    const { api } = await fresh();
    const byRef = await api.patch(refPath('hubspot', randomUUID()), {
      firstName: 'Ref',
      customFields: { budget: '10' },
    });
    assert.equal(byRef.statusCode, 201, byRef.body);
    assert.deepEqual(byRef.json().customFields, { budget: 10 });
    const byMatch = await api.post(`${CONTACTS}/upsert`, {
      email: `${randomUUID()}@example.com`,
      customFields: [{ key: 'segment', field_value: 'smb' }],
    });
    assert.equal(byMatch.statusCode, 201, byMatch.body);
    assert.deepEqual(byMatch.json().contact.customFields, { segment: 'smb' });
    const batch = await api.post(`${CONTACTS}/batch`, {
      items: [
        {
          externalRef: { namespace: 'hubspot', id: randomUUID() },
          data: { firstName: 'Ok', customFields: { budget: 1 } },
        },
        {
          externalRef: { namespace: 'hubspot', id: randomUUID() },
          data: { firstName: 'Bad', customFields: { budget: 'x' } },
        },
      ],
    });
    assert.equal(batch.statusCode, 207, batch.body);
    const [ok, bad] = batch.json().results;
    assert.equal(ok.status, 201, JSON.stringify(ok));
    assert.equal(bad.status, 400, JSON.stringify(bad));
    assert.ok(Object.keys(bad.problem.errors).includes('data.customFields.budget'), JSON.stringify(bad));
    const created = await api.get(`${CONTACTS}/${ok.id}`);
    assert.deepEqual(created.json().customFields, { budget: 1 });
  });
});
