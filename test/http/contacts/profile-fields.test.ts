import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { assertContactShape, type Client, CONTACTS, client, newContact, refPath } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

/** The profile fields beyond names and channels, as a client sends them. */
const PROFILE = {
  address1: ' 123 Main St ',
  city: 'Springfield',
  state: 'IL',
  postalCode: '62701',
  country: 'us',
  website: 'https://example.com/about',
  timezone: 'Asia/Kolkata',
  dateOfBirth: '1990-04-15',
  source: 'api',
  assignedTo: 'user-42',
  dnd: true,
  dndSettings: { SMS: { code: 'STOP', status: 'permanent' }, Email: { status: 'active', message: 'Unsubscribed' } },
};

/** What the representation shows of PROFILE: trimmed, country upper-case, the zone as sent (not ICU's `Asia/Calcutta`). */
const STORED = {
  address1: '123 Main St',
  city: 'Springfield',
  state: 'IL',
  postalCode: '62701',
  country: 'US',
  website: 'https://example.com/about',
  timezone: 'Asia/Kolkata',
  dateOfBirth: '1990-04-15',
  source: 'api',
  assignedTo: 'user-42',
  dnd: true,
  dndSettings: { Email: { status: 'active', message: 'Unsubscribed' }, SMS: { status: 'permanent', code: 'STOP' } },
};

const UNSET = {
  address1: null,
  city: null,
  state: null,
  postalCode: null,
  country: null,
  website: null,
  timezone: null,
  dateOfBirth: null,
  source: null,
  assignedTo: null,
  dnd: false,
  dndSettings: null,
};

function pick(contact: Record<string, unknown>, keys: readonly string[]) {
  return Object.fromEntries(keys.map((key) => [key, contact[key]]));
}

const KEYS = Object.keys(STORED);

describe('contact profile fields', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async (): Promise<Client> => client(t.app, await newOrganization(t.app));

  it('are null (dnd false) on a contact that never set them', async () => {
    const api = await newApi();
    const contact = await newContact(api, { firstName: 'Ada' });
    assert.deepEqual(pick(contact, KEYS), UNSET);
  });

  it('are stored in canonical form by POST /contacts and read back by GET', async () => {
    const api = await newApi();
    const created = await newContact(api, { firstName: 'Ada', ...PROFILE });
    assert.deepEqual(pick(created, KEYS), STORED);
    const read = await api.get(created.uri);
    assertContactShape(read.json(), read);
    assert.deepEqual(pick(read.json(), KEYS), STORED);
  });

  it('are set, kept and cleared by PATCH (present sets, omitted keeps, null clears)', async () => {
    const api = await newApi();
    const created = await newContact(api, { firstName: 'Ada', ...PROFILE });
    const kept = await api.patch(created.uri, { city: 'Chicago' });
    assert.equal(kept.statusCode, 200);
    assert.deepEqual(pick(kept.json(), KEYS), { ...STORED, city: 'Chicago' });
    const cleared = await api.patch(created.uri, Object.fromEntries(KEYS.map((key) => [key, null])));
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.deepEqual(pick(cleared.json(), KEYS), UNSET);
    assert.deepEqual(pick((await api.get(created.uri)).json(), KEYS), UNSET);
  });

  it('go through the external-reference upsert: created, updated, and unchanged with the same ETag and updatedUtc', async () => {
    const api = await newApi();
    const path = refPath('hubspot', randomUUID());
    const created = await api.patch(path, { firstName: 'Ada', ...PROFILE });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(pick(created.json(), KEYS), STORED);
    // The same values sent differently (case, spacing, key order) are the same state: nothing changes.
    const again = await api.patch(path, {
      ...PROFILE,
      country: 'US',
      address1: '123 Main St',
      dndSettings: { Email: { message: 'Unsubscribed', status: 'active' }, SMS: { status: 'permanent', code: 'STOP' } },
    });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.headers['x-propstreet-upsert-action'], 'updated');
    assert.equal(again.json().etag, created.json().etag);
    assert.equal(again.json().updatedUtc, created.json().updatedUtc);
    const changed = await api.patch(path, { dnd: false, dndSettings: { Call: { status: 'inactive' } } });
    assert.equal(changed.statusCode, 200);
    assert.notEqual(changed.json().etag, created.json().etag);
    assert.equal(changed.json().dnd, false);
    assert.deepEqual(changed.json().dndSettings, { Call: { status: 'inactive' } });
  });

  it('go through the email/phone upsert and the batch', async () => {
    const api = await newApi();
    const email = `${randomUUID()}@example.com`;
    const upserted = await api.post(`${CONTACTS}/upsert`, { email, ...PROFILE });
    assert.equal(upserted.statusCode, 201, upserted.body);
    assert.deepEqual(pick(upserted.json().contact, KEYS), STORED);
    const batch = await api.post(`${CONTACTS}/batch`, {
      items: [
        { externalRef: { namespace: 'crm', id: 'b-1' }, data: { firstName: 'Bo', ...PROFILE } },
        { externalRef: { namespace: 'crm', id: 'b-2' }, data: { firstName: 'Cy', postalCode: '1'.repeat(21) } },
        { data: { email, city: 'Chicago' } },
      ],
    });
    assert.equal(batch.statusCode, 207, batch.body);
    const [first, second, third] = batch.json().results;
    assert.equal(first.status, 201);
    assert.equal(second.status, 400);
    assert.deepEqual(Object.keys(second.problem.errors), ['data.postalCode']);
    assert.equal(third.status, 200);
    assert.deepEqual(pick((await api.get(`${CONTACTS}/${first.id}`)).json(), KEYS), STORED);
    assert.equal((await api.get(`${CONTACTS}/${third.id}`)).json().city, 'Chicago');
  });

  const invalid: Array<[string, unknown]> = [
    ['address1', 'x'.repeat(256)],
    ['city', 'x'.repeat(101)],
    ['state', 'x'.repeat(101)],
    ['postalCode', 'x'.repeat(21)],
    ['country', 'XK'],
    ['country', 'SWE'],
    ['country', 'uk'],
    ['website', 'javascript:alert(1)'],
    ['website', 'ftp://example.com/'],
    ['website', 'https://'],
    ['website', `https://example.com/${'x'.repeat(500)}`],
    ['timezone', 'Mars/Olympus_Mons'],
    ['timezone', '+01:00'],
    ['dateOfBirth', '1990-02-30'],
    ['dateOfBirth', '15/04/1990'],
    ['dateOfBirth', '2999-01-01'],
    ['dateOfBirth', '0000-01-01'],
    ['dateOfBirth', '2023-02-29'],
    ['source', 'x'.repeat(256)],
    ['assignedTo', 'x'.repeat(256)],
    ['dnd', 'yes'],
    ['dndSettings', { Pager: { status: 'active' } }],
    ['dndSettings', { SMS: { status: 'paused' } }],
    ['dndSettings', { SMS: {} }],
    ['dndSettings', { SMS: { status: 'active', reason: 'x' } }],
  ];
  for (const [field, value] of invalid) {
    it(`refuses ${field}: ${JSON.stringify(value).slice(0, 60)} with 400 naming the field, storing nothing`, async () => {
      const api = await newApi();
      const created = await newContact(api, { firstName: 'Ada' });
      for (const [method, url] of [
        ['post', CONTACTS],
        ['patch', created.uri],
        ['patch', refPath('crm', randomUUID())],
        ['post', `${CONTACTS}/upsert`],
      ] as const) {
        const body = { firstName: 'Ada', email: `${randomUUID()}@example.com`, [field]: value };
        const response = method === 'post' ? await api.post(url, body) : await api.patch(url, body);
        assert.equal(response.statusCode, 400, `${method} ${url}: ${response.body}`);
        assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
        const errors = Object.keys(response.json().errors);
        assert.ok(
          errors.every((name) => name === field || name.startsWith(`${field}.`)),
          `${method} ${url}: ${errors}`,
        );
      }
      assert.deepEqual(pick((await api.get(created.uri)).json(), KEYS), UNSET);
    });
  }

  it('accepts the limits exactly', async () => {
    const api = await newApi();
    const contact = await newContact(api, {
      firstName: 'Ada',
      address1: 'a'.repeat(255),
      city: 'c'.repeat(100),
      state: 's'.repeat(100),
      postalCode: 'p'.repeat(20),
      website: `https://example.com/${'x'.repeat(500 - 20)}`,
      source: 's'.repeat(255),
      assignedTo: 'u'.repeat(255),
      dateOfBirth: new Date().toISOString().slice(0, 10),
      country: 'AX',
      timezone: 'UTC',
    });
    assert.equal(contact.address1.length, 255);
    assert.equal(contact.website.length, 500);
    assert.equal(contact.country, 'AX');
    assert.equal(contact.timezone, 'UTC');
  });

  it('takes name apart at its last run of whitespace, and shows firstName and lastName joined', async () => {
    const api = await newApi();
    const cases: Array<[string, string | null, string | null, string | null]> = [
      ['Mary Ann  Smith', 'Mary Ann', 'Smith', 'Mary Ann Smith'],
      ['  Cher ', 'Cher', null, 'Cher'],
      ['Jean-Luc\tPicard', 'Jean-Luc', 'Picard', 'Jean-Luc Picard'],
    ];
    for (const [name, firstName, lastName, joined] of cases) {
      const response = await api.post(CONTACTS, { name, email: `${randomUUID()}@example.com` });
      assert.equal(response.statusCode, 201, response.body);
      const contact = response.json();
      assert.deepEqual([contact.firstName, contact.lastName, contact.name], [firstName, lastName, joined], name);
    }
    const upserted = await api.patch(refPath('crm', randomUUID()), { name: 'John Doe' });
    assert.equal(upserted.statusCode, 201);
    assert.deepEqual([upserted.json().firstName, upserted.json().lastName], ['John', 'Doe']);
    const onlyLast = await api.patch(upserted.json().uri, { lastName: 'Smith', firstName: null });
    assert.equal(onlyLast.json().name, 'Smith');
    const cleared = await api.patch(upserted.json().uri, { name: null, email: 'keep@example.com' });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.deepEqual([cleared.json().firstName, cleared.json().lastName, cleared.json().name], [null, null, null]);
  });

  it('refuses name together with firstName or lastName, naming name', async () => {
    const api = await newApi();
    for (const body of [
      { name: 'John Doe', firstName: 'John' },
      { name: 'John Doe', lastName: null },
    ]) {
      const response = await api.post(CONTACTS, body);
      assert.equal(response.statusCode, 400, response.body);
      assert.deepEqual(Object.keys(response.json().errors), ['name']);
    }
    const tooLong = await api.patch(refPath('crm', randomUUID()), { name: 'x'.repeat(101) });
    assert.equal(tooLong.statusCode, 400);
    assert.deepEqual(Object.keys(tooLong.json().errors), ['name']);
  });

  it('blank text clears the field (stored as null), as for names', async () => {
    const api = await newApi();
    const created = await newContact(api, { firstName: 'Ada', city: 'Springfield' });
    const response = await api.patch(created.uri, { city: '   ' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().city, null);
  });
});
