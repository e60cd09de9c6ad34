import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { assertContactShape, type Client, CONTACTS, client, newCompany, newContact } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('POST /contacts', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async (settings?: Record<string, unknown>): Promise<Client> =>
    client(t.app, await newOrganization(t.app, settings ? { settings } : {}));

  /** Contacts stored for the organization behind `orgId`, straight from the database. */
  const countContacts = async (orgId: string) => {
    const row = await t.database.db
      .selectFrom('contacts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('organization_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  it('creates the minimal seed example and answers 201 with Location, ETag and the full representation', async () => {
    const api = await newApi();
    const response = await api.post(CONTACTS, { firstName: 'John', lastName: 'Doe', email: 'john@example.com' });
    assert.equal(response.statusCode, 201);
    const contact = response.json();
    assertContactShape(contact, response);
    assert.equal(response.headers.location, contact.uri);
    assert.match(contact.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(
      {
        firstName: contact.firstName,
        lastName: contact.lastName,
        email: contact.email,
        emails: contact.emails,
        phone: contact.phone,
        phones: contact.phones,
        linkedInUrl: contact.linkedInUrl,
        primaryLanguage: contact.primaryLanguage,
        tags: contact.tags,
        strategy: contact.strategy,
        externalRefs: contact.externalRefs,
        companies: contact.companies,
        primaryCompanyId: contact.primaryCompanyId,
        blocked: contact.blocked,
        deletedUtc: contact.deletedUtc,
        changeType: contact.changeType,
        changeOrigin: contact.changeOrigin,
      },
      {
        firstName: 'John',
        lastName: 'Doe',
        email: 'john@example.com',
        emails: [{ address: 'john@example.com', type: null, isPrimary: true }],
        phone: null,
        phones: [],
        linkedInUrl: null,
        primaryLanguage: null,
        tags: [],
        strategy: null,
        externalRefs: [],
        companies: [],
        primaryCompanyId: null,
        blocked: false,
        deletedUtc: null,
        changeType: 'created',
        changeOrigin: 'api',
      },
    );
    assert.equal(contact.createdUtc, contact.updatedUtc);
    const read = await api.get(contact.uri);
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json(), contact);
  });

  it('creates the seed example with an external reference for CRM sync', async () => {
    const api = await newApi();
    const response = await api.post(CONTACTS, {
      externalRefs: [{ namespace: 'salesforce', id: '003ABC123' }],
      firstName: 'Jane',
      lastName: 'Smith',
      email: 'jane.smith@acme.com',
      phone: '+46701234567',
      primaryLanguage: 'en',
      tags: ['vip', 'enterprise'],
      strategy: 'Focus on commercial real estate in Stockholm',
    });
    assert.equal(response.statusCode, 201);
    const contact = response.json();
    assertContactShape(contact, response);
    assert.deepEqual(contact.externalRefs, [{ namespace: 'salesforce', id: '003ABC123' }]);
    assert.equal(contact.phone, '+46701234567');
    assert.deepEqual(contact.phones, [{ number: '+46701234567', type: null, isPrimary: true }]);
    assert.equal(contact.primaryLanguage, 'en');
    assert.deepEqual(contact.tags, ['vip', 'enterprise']);
    assert.equal(contact.strategy, 'Focus on commercial real estate in Stockholm');
    const byRef = await api.get(`${CONTACTS}/external/salesforce/003ABC123`);
    assert.equal(byRef.statusCode, 200);
    assert.equal(byRef.json().id, contact.id);
  });

  it('accepts every field of the seed request schema, with nulls where the seed shows them', async () => {
    const api = await newApi();
    const company = await newCompany(api);
    const response = await api.post(CONTACTS, {
      externalRefs: [{ namespace: 'pipedrive', id: '77' }],
      firstName: 'Full',
      lastName: null,
      email: null,
      phone: null,
      linkedInUrl: null,
      primaryLanguage: null,
      tags: ['lead'],
      strategy: null,
      connections: [{ company: { kind: 'existing', id: company.id }, jobTitle: null, primary: true }],
    });
    assert.equal(response.statusCode, 201, response.body);
    assertContactShape(response.json(), response);
    assert.equal(response.json().primaryCompanyId, company.id);
  });

  it('answers 409 with conflictField and conflictingContactId when an external reference is taken', async () => {
    const api = await newApi();
    const first = await newContact(api, { externalRefs: [{ namespace: 'salesforce', id: '003ABC123' }] });
    const response = await api.post(CONTACTS, {
      firstName: 'Other',
      externalRefs: [
        { namespace: 'hubspot', id: '1' },
        { namespace: 'Salesforce', id: '003ABC123' },
      ],
    });
    assert.equal(response.statusCode, 409);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.json().type, '/problems/conflict');
    assert.equal(response.json().conflictField, 'externalRefs[1]');
    assert.equal(response.json().conflictingContactId, first.id);
    // Nothing of the failed request stays behind, not even its other reference.
    const free = await api.post(CONTACTS, { firstName: 'Third', externalRefs: [{ namespace: 'hubspot', id: '1' }] });
    assert.equal(free.statusCode, 201);
  });

  it('keeps an external reference of a deleted contact reserved (409 naming that contact)', async () => {
    const api = await newApi();
    const deleted = await newContact(api, { externalRefs: [{ namespace: 'crm', id: 'gone' }] });
    assert.equal((await api.delete(deleted.uri)).statusCode, 204);
    const response = await api.post(CONTACTS, { firstName: 'New', externalRefs: [{ namespace: 'crm', id: 'gone' }] });
    assert.equal(response.statusCode, 409);
    assert.equal(response.json().conflictField, 'externalRefs[0]');
    assert.equal(response.json().conflictingContactId, deleted.id);
  });

  it('stores namespaces lower-case and compares them case-insensitively, ids case-sensitively', async () => {
    const api = await newApi();
    const contact = await newContact(api, { externalRefs: [{ namespace: 'HubSpot', id: 'AbC' }] });
    assert.deepEqual(contact.externalRefs, [{ namespace: 'hubspot', id: 'AbC' }]);
    const sameRef = await api.post(CONTACTS, { firstName: 'B', externalRefs: [{ namespace: 'HUBSPOT', id: 'AbC' }] });
    assert.equal(sameRef.statusCode, 409);
    const otherId = await api.post(CONTACTS, { firstName: 'C', externalRefs: [{ namespace: 'hubspot', id: 'abc' }] });
    assert.equal(otherId.statusCode, 201);
    const duplicate = await api.post(CONTACTS, {
      firstName: 'D',
      externalRefs: [
        { namespace: 'pipedrive', id: '1' },
        { namespace: 'PipeDrive', id: '1' },
      ],
    });
    assert.equal(duplicate.statusCode, 400);
    assert.deepEqual(Object.keys(duplicate.json().errors), ['externalRefs[1]']);
  });

  it('answers 409 naming the owner when the primary email belongs to a live contact, case-insensitively', async () => {
    const api = await newApi();
    const owner = await newContact(api, { email: 'dup@example.com' });
    for (const body of [{ email: 'DUP@Example.com' }, { emails: [{ address: 'dup@EXAMPLE.com', type: 'work' }] }]) {
      const response = await api.post(CONTACTS, { firstName: 'Copy', ...body });
      assert.equal(response.statusCode, 409, JSON.stringify(body));
      assert.equal(response.json().type, '/problems/conflict');
      assert.equal(response.json().conflictField, 'email');
      assert.equal(response.json().conflictingContactId, owner.id);
    }
  });

  it('lets a secondary address of one contact be the primary email of another', async () => {
    const api = await newApi();
    await newContact(api, { emails: [{ address: 'main@example.com' }, { address: 'shared@example.com' }] });
    const response = await api.post(CONTACTS, { email: 'shared@example.com' });
    assert.equal(response.statusCode, 201);
  });

  it('accepts a contact identified only by a last name, an email or a phone', async () => {
    const api = await newApi();
    for (const body of [{ lastName: 'Doe' }, { email: 'only@example.com' }, { phone: '+46701234567' }]) {
      const response = await api.post(CONTACTS, body);
      assert.equal(response.statusCode, 201, JSON.stringify(body));
    }
  });

  it('answers 400 and stores nothing when the contact has no identifier', async () => {
    const org = await newOrganization(t.app);
    const api = client(t.app, org);
    for (const body of [
      {},
      { firstName: null, lastName: null, email: null, phone: null },
      { firstName: '  ', tags: ['vip'] },
      { strategy: 'only a strategy', primaryLanguage: 'en' },
    ]) {
      const response = await api.post(CONTACTS, body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(response.json().type, '/problems/validation-failed');
      assert.ok(response.json().errors, JSON.stringify(response.json()));
    }
    assert.equal(await countContacts(org.id), 0);
  });

  it('answers 400 with per-field errors for values over the create limits, and stores nothing', async () => {
    const org = await newOrganization(t.app);
    const api = client(t.app, org);
    const local = (length: number) => `${'a'.repeat(length - '@example.com'.length)}@example.com`;
    const tooLong = {
      firstName: 'x'.repeat(256),
      lastName: 'x'.repeat(256),
      email: local(256),
      phone: '1'.repeat(51),
      linkedInUrl: `https://www.linkedin.com/in/${'a'.repeat(500 - 'https://www.linkedin.com/in/'.length + 1)}`,
    };
    const response = await api.post(CONTACTS, tooLong);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json().errors).sort(), [
      'email',
      'firstName',
      'lastName',
      'linkedInUrl',
      'phone',
    ]);
    assert.equal(await countContacts(org.id), 0);

    const atLimit = await api.post(CONTACTS, {
      firstName: 'x'.repeat(255),
      lastName: 'x'.repeat(255),
      email: local(255),
      phone: '1'.repeat(50),
      linkedInUrl: `https://www.linkedin.com/in/${'a'.repeat(500 - 'https://www.linkedin.com/in/'.length)}`,
    });
    assert.equal(atLimit.statusCode, 201, atLimit.body);
  });

  it('validates email, language, LinkedIn URL and entry types', async () => {
    const api = await newApi();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ email: 'not-an-email' }, 'email'],
      [{ email: 'two@@example.com' }, 'email'],
      [{ emails: [{ address: 'nope' }] }, 'emails[0].address'],
      [{ primaryLanguage: 'english' }, 'primaryLanguage'],
      [{ primaryLanguage: 'qq' }, 'primaryLanguage'],
      [{ linkedInUrl: 'https://linkedin.com/in/jane' }, 'linkedInUrl'],
      [{ linkedInUrl: 'https://www.linkedin.com/company/acme' }, 'linkedInUrl'],
      [{ linkedInUrl: 'http://www.linkedin.com/in/jane' }, 'linkedInUrl'],
      [{ emails: [{ address: 'a@example.com', type: 'home' }] }, 'emails[0].type'],
      [{ phones: [{ number: '+46701234567', type: 'fax' }] }, 'phones[0].type'],
    ];
    for (const [body, field] of cases) {
      const response = await api.post(CONTACTS, { firstName: 'Val', ...body });
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(response.json().errors), [field], JSON.stringify(body));
    }
    const valid = await api.post(CONTACTS, {
      firstName: 'Val',
      primaryLanguage: 'sv',
      linkedInUrl: 'https://www.linkedin.com/in/jane-doe-123',
      emails: [
        { address: 'w@example.com', type: 'work' },
        { address: 'p@example.com', type: 'personal' },
        { address: 'o@example.com', type: 'other' },
      ],
      phones: [
        { number: '+46701234567', type: 'mobile' },
        { number: '+46701234568', type: 'work' },
        { number: '+46701234569', type: 'home' },
        { number: '+46701234560', type: 'other' },
      ],
    });
    assert.equal(valid.statusCode, 201, valid.body);
    assert.equal(valid.json().primaryLanguage, 'sv');
    assert.equal(valid.json().linkedInUrl, 'https://www.linkedin.com/in/jane-doe-123');
  });

  it('answers 400 naming unknown fields and never coerces types', async () => {
    const api = await newApi();
    const unknown = await api.post(CONTACTS, { firstName: 'A', nickname: 'B', emails: [{ address: 'a@b.se', x: 1 }] });
    assert.equal(unknown.statusCode, 400);
    assert.deepEqual(unknown.json().errors, {
      nickname: ['is not a known field'],
      'emails[0].x': ['is not a known field'],
    });
    for (const [body, field] of [
      [{ firstName: 123 }, 'firstName'],
      [{ firstName: 'A', tags: 'vip' }, 'tags'],
      [{ firstName: 'A', externalRefs: [{ namespace: 'crm', id: 42 }] }, 'externalRefs[0].id'],
      [{ firstName: 'A', phone: 46701234567 }, 'phone'],
    ] as const) {
      const response = await api.post(CONTACTS, body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(response.json().errors), [field], JSON.stringify(body));
    }
  });

  it('accepts at most 50 external references and 100 tags, with namespace ≤ 50 and id ≤ 255 characters', async () => {
    const api = await newApi();
    const refs = (n: number) => Array.from({ length: n }, (_, i) => ({ namespace: 'crm', id: `${randomUUID()}-${i}` }));
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `tag-${i}`);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ externalRefs: refs(51) }, 'externalRefs'],
      [{ tags: tags(101) }, 'tags'],
      [{ externalRefs: [{ namespace: 'n'.repeat(51), id: '1' }] }, 'externalRefs[0].namespace'],
      [{ externalRefs: [{ namespace: 'crm', id: 'i'.repeat(256) }] }, 'externalRefs[0].id'],
    ];
    for (const [body, field] of cases) {
      const response = await api.post(CONTACTS, { firstName: 'Lim', ...body });
      assert.equal(response.statusCode, 400, field);
      assert.deepEqual(Object.keys(response.json().errors), [field]);
    }
    const atLimit = await api.post(CONTACTS, {
      firstName: 'Lim',
      externalRefs: [...refs(48), { namespace: 'n'.repeat(50), id: '1' }, { namespace: 'crm', id: 'i'.repeat(255) }],
      tags: tags(100),
    });
    assert.equal(atLimit.statusCode, 201, atLimit.body);
    assert.equal(atLimit.json().externalRefs.length, 50);
    assert.equal(atLimit.json().tags.length, 100);
  });

  it('normalizes phones to E.164 with the organization region and keeps unparseable numbers as given, trimmed', async () => {
    const api = await newApi({ defaultPhoneRegion: 'SE' });
    const national = await newContact(api, { phone: '070-123 45 67' });
    assert.equal(national.phone, '+46701234567');
    assert.deepEqual(national.phones, [{ number: '+46701234567', type: null, isPrimary: true }]);
    const invalid = await newContact(api, { phone: '  +1 555 555 5555 ' });
    assert.equal(invalid.phone, '+1 555 555 5555');
    const garbage = await newContact(api, { phones: [{ number: ' call me maybe ', type: 'other' }] });
    assert.deepEqual(garbage.phones, [{ number: 'call me maybe', type: 'other', isPrimary: true }]);

    const noRegion = await newApi();
    const kept = await newContact(noRegion, { phone: '070-123 45 67' });
    assert.equal(kept.phone, '070-123 45 67');
  });

  it('keeps email and emails in sync: the first entry becomes the primary email', async () => {
    const api = await newApi();
    const fromList = await newContact(api, {
      emails: [
        { address: 'first@example.com', type: 'work' },
        { address: 'second@example.com', type: 'personal' },
      ],
    });
    assert.equal(fromList.email, 'first@example.com');
    assert.deepEqual(fromList.emails, [
      { address: 'first@example.com', type: 'work', isPrimary: true },
      { address: 'second@example.com', type: 'personal', isPrimary: false },
    ]);

    const both = await newContact(api, {
      email: 'b@example.com',
      emails: [
        { address: 'a@example.com', type: 'work' },
        { address: 'b@example.com', type: 'personal' },
      ],
    });
    assert.equal(both.email, 'b@example.com');
    assert.deepEqual(
      both.emails.find((entry: { isPrimary: boolean }) => entry.isPrimary),
      { address: 'b@example.com', type: 'personal', isPrimary: true },
    );
    assert.equal(both.emails.filter((entry: { isPrimary: boolean }) => entry.isPrimary).length, 1);
    assert.equal(both.emails.length, 2);

    const outside = await newContact(api, { email: 'c@example.com', emails: [{ address: 'd@example.com' }] });
    assert.equal(outside.email, 'c@example.com');
    assert.deepEqual(
      outside.emails.map((entry: { address: string; isPrimary: boolean }) => [entry.address, entry.isPrimary]).sort(),
      [
        ['c@example.com', true],
        ['d@example.com', false],
      ],
    );
  });

  it('keeps phone and phones in sync, comparing normalized numbers', async () => {
    const api = await newApi({ defaultPhoneRegion: 'SE' });
    const fromList = await newContact(api, {
      phones: [
        { number: '070-123 45 67', type: 'mobile' },
        { number: '08-765 43 21', type: 'work' },
      ],
    });
    assert.equal(fromList.phone, '+46701234567');
    assert.deepEqual(fromList.phones, [
      { number: '+46701234567', type: 'mobile', isPrimary: true },
      { number: '+4687654321', type: 'work', isPrimary: false },
    ]);
    const both = await newContact(api, {
      phone: '+4687654321',
      phones: [
        { number: '070-123 45 67', type: 'mobile' },
        { number: '08-765 43 21', type: 'work' },
      ],
    });
    assert.equal(both.phone, '+4687654321');
    assert.equal(both.phones.length, 2);
    assert.deepEqual(
      both.phones.find((entry: { isPrimary: boolean }) => entry.isPrimary),
      { number: '+4687654321', type: 'work', isPrimary: true },
    );
  });

  it('connects existing companies of the organization, exactly one of them primary', async () => {
    const api = await newApi();
    const acme = await newCompany(api, { name: 'Acme AB' });
    const globex = await newCompany(api, { name: 'Globex' });
    const contact = await newContact(api, {
      connections: [
        { company: { kind: 'existing', id: acme.id }, jobTitle: 'CEO', primary: false },
        { company: { kind: 'existing', id: globex.id }, jobTitle: null, primary: true },
      ],
    });
    assert.equal(contact.primaryCompanyId, globex.id);
    assert.deepEqual(contact.companies, [
      { id: acme.id, uri: acme.uri, name: 'Acme AB', jobTitle: 'CEO', isPrimary: false },
      { id: globex.id, uri: globex.uri, name: 'Globex', jobTitle: null, isPrimary: true },
    ]);
  });

  it('answers 400 naming the field when a connection is not a live company of the organization', async () => {
    const org = await newOrganization(t.app);
    const api = client(t.app, org);
    const other = await newCompany(await newApi(), { name: 'Not yours' });
    const deleted = await newCompany(api, { name: 'Deleted' });
    assert.equal((await api.delete(deleted.uri)).statusCode, 204);
    const mine = await newCompany(api);
    for (const id of [other.id, deleted.id, randomUUID()]) {
      const response = await api.post(CONTACTS, {
        firstName: 'Con',
        connections: [
          { company: { kind: 'existing', id: mine.id }, primary: true },
          { company: { kind: 'existing', id }, primary: false },
        ],
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(Object.keys(response.json().errors), ['connections[1].company.id']);
    }
    const badKind = await api.post(CONTACTS, {
      firstName: 'Con',
      connections: [{ company: { kind: 'new', id: mine.id }, primary: true }],
    });
    assert.equal(badKind.statusCode, 400);
    assert.deepEqual(Object.keys(badKind.json().errors), ['connections[0].company.kind']);
    assert.equal(await countContacts(org.id), 0);
  });

  it('answers 400 unless exactly one connection is primary', async () => {
    const api = await newApi();
    const a = await newCompany(api, { name: 'A' });
    const b = await newCompany(api, { name: 'B' });
    for (const primaries of [
      [false, false],
      [true, true],
      [undefined, undefined],
    ]) {
      const response = await api.post(CONTACTS, {
        firstName: 'Con',
        connections: [
          { company: { kind: 'existing', id: a.id }, primary: primaries[0] },
          { company: { kind: 'existing', id: b.id }, primary: primaries[1] },
        ],
      });
      assert.equal(response.statusCode, 400, JSON.stringify(primaries));
      assert.deepEqual(Object.keys(response.json().errors), ['connections']);
    }
  });

  it('answers 403 to a token without contacts.write', async () => {
    const org = await newOrganization(t.app, { scopes: ['contacts.read'] });
    const response = await client(t.app, org).post(CONTACTS, { firstName: 'No' });
    assert.equal(response.statusCode, 403);
    assert.equal(response.json().type, '/problems/insufficient-scope');
    assert.equal(await countContacts(org.id), 0);
  });
});
