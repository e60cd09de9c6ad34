import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type Response, type TestApp } from '../../helpers/app.js';
import {
  assertContactShape,
  type Client,
  CONTACTS,
  client,
  newCompany,
  newContact,
  refPath,
} from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

describe('PATCH /contacts/external/{namespace}/{id} (upsert)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newOrg = (settings?: Record<string, unknown>): Promise<TestOrganization> =>
    newOrganization(t.app, settings ? { settings } : {});
  const newApi = async (settings?: Record<string, unknown>): Promise<Client> => client(t.app, await newOrg(settings));

  const countContacts = async (orgId: string) => {
    const row = await t.database.db
      .selectFrom('contacts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('organization_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  function assertUpsert(response: Response, status: number, action: string, matchedBy: string): void {
    assert.equal(response.statusCode, status, response.body);
    assert.equal(response.headers['x-propstreet-upsert-action'], action);
    assert.equal(response.headers['x-upsert-matched-by'], matchedBy);
    assertContactShape(response.json(), response);
  }

  it('creates on an unknown reference (seed basic upsert): 201, Location, ETag, action created', async () => {
    const api = await newApi();
    const response = await api.patch(`${CONTACTS}/external/hubspot/12345`, {
      firstName: 'Jane',
      lastName: 'Doe',
      email: 'jane@example.com',
    });
    assertUpsert(response, 201, 'created', 'none');
    const contact = response.json();
    assert.equal(response.headers.location, contact.uri);
    assert.deepEqual(contact.externalRefs, [{ namespace: 'hubspot', id: '12345' }]);
    assert.equal(contact.firstName, 'Jane');
    assert.equal(contact.lastName, 'Doe');
    assert.equal(contact.email, 'jane@example.com');
    assert.equal(contact.changeType, 'created');
    assert.equal(contact.changeOrigin, 'hubspot');
    assert.deepEqual((await api.get(contact.uri)).json(), contact);
  });

  it('updates the contact of a known reference with PATCH semantics (200, action updated)', async () => {
    const api = await newApi();
    const url = `${CONTACTS}/external/hubspot/12345`;
    const created = await api.patch(url, { firstName: 'Jane', lastName: 'Doe', email: 'jane@example.com' });
    const response = await api.patch(url, { lastName: 'Smith', tags: ['vip'] });
    assertUpsert(response, 200, 'updated', 'external_ref');
    const contact = response.json();
    assert.equal(response.headers.location, undefined);
    assert.equal(contact.id, created.json().id);
    assert.equal(contact.firstName, 'Jane');
    assert.equal(contact.lastName, 'Smith');
    assert.equal(contact.email, 'jane@example.com');
    assert.deepEqual(contact.tags, ['vip']);
    assert.equal(contact.changeType, 'updated');
    assert.equal(contact.changeOrigin, 'hubspot');
    assert.notEqual(contact.etag, created.json().etag);
    const cleared = await api.patch(url, { lastName: null });
    assert.equal(cleared.json().lastName, null);
    assert.equal(cleared.json().firstName, 'Jane');
  });

  it('answers the same ETag and updatedUtc when a repeated upsert changes nothing', async () => {
    const api = await newApi({ defaultPhoneRegion: 'SE' });
    const url = refPath('hubspot', 'same');
    const body = { firstName: 'Jane', phone: '070-123 45 67', tags: ['a'] };
    const created = await api.patch(url, body);
    assert.equal(created.statusCode, 201);
    for (const again of [body, { ...body, phone: '+46701234567' }, {}]) {
      const response = await api.patch(url, again);
      assertUpsert(response, 200, 'updated', 'external_ref');
      assert.equal(response.headers.etag, created.headers.etag);
      assert.equal(response.json().updatedUtc, created.json().updatedUtc);
      assert.equal(response.json().changeType, 'created');
    }
  });

  it('applies the seed body with multiple emails and phones, the first entries becoming primary', async () => {
    const api = await newApi();
    const response = await api.patch(refPath('hubspot', 'multi'), {
      firstName: 'John',
      emails: [
        { address: 'john@work.com', type: 'work' },
        { address: 'john@personal.com', type: 'personal' },
      ],
      phones: [
        { number: '+46701234567', type: 'mobile' },
        { number: '+4687654321', type: 'work' },
      ],
    });
    assertUpsert(response, 201, 'created', 'none');
    const contact = response.json();
    assert.equal(contact.email, 'john@work.com');
    assert.deepEqual(contact.emails, [
      { address: 'john@work.com', type: 'work', isPrimary: true },
      { address: 'john@personal.com', type: 'personal', isPrimary: false },
    ]);
    assert.equal(contact.phone, '+46701234567');
    assert.deepEqual(contact.phones, [
      { number: '+46701234567', type: 'mobile', isPrimary: true },
      { number: '+4687654321', type: 'work', isPrimary: false },
    ]);
  });

  it('normalizes phones with the organization region', async () => {
    const api = await newApi({ defaultPhoneRegion: 'SE' });
    const response = await api.patch(refPath('crm', 'phone'), {
      phone: '070-123 45 67',
      phones: [{ number: '08-765 43 21', type: 'work' }],
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().phone, '+46701234567');
    assert.deepEqual(response.json().phones, [
      { number: '+46701234567', type: null, isPrimary: true },
      { number: '+4687654321', type: 'work', isPrimary: false },
    ]);
  });

  it('accepts the seed query string verbatim and every field of the seed request schema', async () => {
    const api = await newApi();
    const company = await newCompany(api);
    const response = await api.patch(
      `${refPath('hubspot', 'curl')}?match=&revive=true&create_only=false&validate_only=false`,
      {
        firstName: null,
        lastName: null,
        email: null,
        phone: null,
        emails: [{ address: 'curl@example.com', type: null }],
        phones: [{ number: '+46701234567', type: null }],
        primaryLanguage: null,
        tags: ['curl'],
        strategy: null,
        connections: [{ company: { kind: 'existing', id: company.id }, jobTitle: null, primary: true }],
      },
    );
    assertUpsert(response, 201, 'created', 'none');
    const contact = response.json();
    assert.equal(contact.email, 'curl@example.com');
    assert.equal(contact.phone, '+46701234567');
    assert.equal(contact.primaryCompanyId, company.id);
  });

  it('treats the namespace case-insensitively and the id case-sensitively, with any character in the id', async () => {
    const api = await newApi();
    const created = await api.patch(refPath('HubSpot', 'a/b c'), { firstName: 'Enc' });
    assertUpsert(created, 201, 'created', 'none');
    assert.deepEqual(created.json().externalRefs, [{ namespace: 'hubspot', id: 'a/b c' }]);
    assert.equal(created.json().changeOrigin, 'hubspot');
    const same = await api.patch(refPath('hubspot', 'a/b c'), { lastName: 'Again' });
    assertUpsert(same, 200, 'updated', 'external_ref');
    assert.equal(same.json().id, created.json().id);
    const other = await api.patch(refPath('hubspot', 'A/B C'), { firstName: 'Other' });
    assertUpsert(other, 201, 'created', 'none');
    assert.notEqual(other.json().id, created.json().id);
  });

  it('answers 400 for a namespace over 50 characters and accepts one of 50', async () => {
    const api = await newApi();
    const longNamespace = await api.patch(refPath('n'.repeat(51), '1'), { firstName: 'X' });
    assert.equal(longNamespace.statusCode, 400);
    assert.deepEqual(Object.keys(longNamespace.json().errors), ['namespace']);
    const atLimit = await api.patch(refPath('n'.repeat(50), '1'), { firstName: 'X' });
    assert.equal(atLimit.statusCode, 201);
  });

  it('accepts an id of 255 characters in the path and answers 400 for 256', async () => {
    const api = await newApi();
    const atLimit = await api.patch(refPath('crm', 'i'.repeat(255)), { firstName: 'X' });
    assert.equal(atLimit.statusCode, 201);
    assert.equal((await api.get(refPath('crm', 'i'.repeat(255)))).statusCode, 200);
    const longId = await api.patch(refPath('crm', 'i'.repeat(256)), { firstName: 'X' });
    assert.equal(longId.statusCode, 400);
    assert.deepEqual(Object.keys(longId.json().errors), ['id']);
  });

  it('answers 400 with per-field errors over the upsert limits, and stores nothing', async () => {
    const org = await newOrg();
    const api = client(t.app, org);
    const email = (length: number) => `${'a'.repeat(length - '@example.com'.length)}@example.com`;
    const over = {
      firstName: 'x'.repeat(101),
      lastName: 'x'.repeat(101),
      email: email(255),
      phone: '1'.repeat(21),
      emails: [{ address: email(255) }],
      phones: [{ number: '1'.repeat(31) }],
      primaryLanguage: 'e'.repeat(11),
      strategy: 's'.repeat(4001),
    };
    const response = await api.patch(refPath('crm', 'limits'), over);
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().type, '/problems/validation-failed');
    assert.deepEqual(Object.keys(response.json().errors).sort(), [
      'email',
      'emails[0].address',
      'firstName',
      'lastName',
      'phone',
      'phones[0].number',
      'primaryLanguage',
      'strategy',
    ]);
    assert.equal(await countContacts(org.id), 0);

    const atLimit = await api.patch(refPath('crm', 'limits'), {
      firstName: 'x'.repeat(100),
      lastName: 'x'.repeat(100),
      email: email(254),
      phone: '1'.repeat(20),
      emails: [{ address: email(254) }, { address: `b${email(253)}` }],
      phones: [{ number: '2'.repeat(30) }],
      primaryLanguage: 'sv',
      strategy: 's'.repeat(4000),
    });
    assert.equal(atLimit.statusCode, 201, atLimit.body);
  });

  it('answers 400 for unknown fields, invalid formats and a body without an identifier', async () => {
    const org = await newOrg();
    const api = client(t.app, org);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ firstName: 'X', externalRefs: [{ namespace: 'crm', id: '2' }] }, 'externalRefs'],
      [{ firstName: 'X', nickname: 'Y' }, 'nickname'],
      [{ firstName: 'X', email: 'nope' }, 'email'],
      [{ firstName: 'X', primaryLanguage: 'qq' }, 'primaryLanguage'],
      [{ firstName: 'X', emails: [{ address: 'a@b.se', type: 'home' }] }, 'emails[0].type'],
      [{ firstName: 'X', phones: [{ number: '+46701234567', type: 'fax' }] }, 'phones[0].type'],
      [{ firstName: 42 }, 'firstName'],
      [{ tags: ['vip'] }, 'body'],
    ];
    for (const [body, field] of cases) {
      const response = await api.patch(refPath('crm', 'invalid'), body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(response.json().errors), [field], JSON.stringify(body));
    }
    assert.equal(await countContacts(org.id), 0);
  });

  it('connects existing companies', async () => {
    const api = await newApi();
    const company = await newCompany(api, { name: 'Acme' });
    const response = await api.patch(refPath('crm', 'con'), {
      firstName: 'Con',
      connections: [{ company: { kind: 'existing', id: company.id }, jobTitle: 'CTO', primary: true }],
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().primaryCompanyId, company.id);
    assert.deepEqual(response.json().companies, [
      { id: company.id, uri: company.uri, name: 'Acme', jobTitle: 'CTO', isPrimary: true },
    ]);
    const missing = await api.patch(refPath('crm', 'con'), {
      connections: [{ company: { kind: 'existing', id: randomUUID() }, primary: true }],
    });
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(Object.keys(missing.json().errors), ['connections[0].company.id']);
  });

  it('honours If-Match on a known reference: 412 when stale, nothing changes', async () => {
    const api = await newApi();
    const url = refPath('crm', 'ifmatch');
    const created = await api.patch(url, { firstName: 'A' });
    const changed = await api.patch(url, { firstName: 'B' }, { 'if-match': created.headers.etag as string });
    assertUpsert(changed, 200, 'updated', 'external_ref');
    const stale = await api.patch(url, { firstName: 'C' }, { 'if-match': created.headers.etag as string });
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.json().type, '/problems/precondition-failed');
    assert.equal((await api.get(url)).json().firstName, 'B');
  });

  it('answers 412 for If-Match on an unknown reference and creates nothing', async () => {
    const org = await newOrg();
    const api = client(t.app, org);
    for (const ifMatch of ['*', 'W/"abc"']) {
      const response = await api.patch(refPath('crm', 'nobody'), { firstName: 'A' }, { 'if-match': ifMatch });
      assert.equal(response.statusCode, 412, ifMatch);
    }
    assert.equal(await countContacts(org.id), 0);
  });

  it('updates a live contact whatever revive says', async () => {
    const api = await newApi();
    const created = await api.patch(refPath('crm', 'live'), { firstName: 'A' });
    const response = await api.patch(`${refPath('crm', 'live')}?revive=false`, { firstName: 'B' });
    assertUpsert(response, 200, 'updated', 'external_ref');
    assert.equal(response.json().id, created.json().id);
  });

  it('answers 409 without match=email when the email belongs to another contact', async () => {
    const org = await newOrg();
    const api = client(t.app, org);
    const owner = await newContact(api, { email: 'owner@example.com' });
    const response = await api.patch(refPath('crm', 'dup'), { firstName: 'Dup', email: 'Owner@example.com' });
    assert.equal(response.statusCode, 409);
    assert.equal(response.json().conflictField, 'email');
    assert.equal(response.json().conflictingContactId, owner.id);
    assert.equal(await countContacts(org.id), 1);
    const existing = await api.patch(refPath('crm', 'other'), { firstName: 'Other', email: 'other@example.com' });
    const update = await api.patch(refPath('crm', 'other'), { email: 'owner@example.com' });
    assert.equal(update.statusCode, 409);
    assert.equal(update.json().conflictingContactId, owner.id);
    assert.equal((await api.get(existing.json().uri)).json().email, 'other@example.com');
  });

  describe('on a soft-deleted contact', () => {
    async function deletedContact(api: Client, ref: string) {
      const created = await api.patch(refPath('crm', ref), { firstName: 'Old', email: `${ref}@example.com` });
      assert.equal(created.statusCode, 201);
      assert.equal((await api.delete(created.json().uri)).statusCode, 204);
      return created.json();
    }

    it('revives it by default: same id, deletedUtc cleared, body applied (200, action revived)', async () => {
      const api = await newApi();
      const old = await deletedContact(api, 'revive');
      const response = await api.patch(refPath('crm', 'revive'), { lastName: 'Back' });
      assertUpsert(response, 200, 'revived', 'external_ref');
      const contact = response.json();
      assert.equal(contact.id, old.id);
      assert.equal(contact.deletedUtc, null);
      assert.equal(contact.firstName, 'Old');
      assert.equal(contact.lastName, 'Back');
      assert.equal(contact.changeType, 'revived');
      assert.equal(contact.changeOrigin, 'crm');
      assert.deepEqual((await api.get(old.uri)).json(), contact);
    });

    it('revives with revive=true even when the body changes nothing', async () => {
      const api = await newApi();
      const old = await deletedContact(api, 'revive-same');
      const response = await api.patch(`${refPath('crm', 'revive-same')}?revive=true`, {});
      assertUpsert(response, 200, 'revived', 'external_ref');
      assert.equal(response.json().id, old.id);
      assert.equal((await api.get(old.uri)).statusCode, 200);
    });

    it('creates a new contact with revive=false and moves the reference to it', async () => {
      const org = await newOrg();
      const api = client(t.app, org);
      const old = await deletedContact(api, 'fresh');
      const response = await api.patch(`${refPath('crm', 'fresh')}?revive=false`, { firstName: 'New' });
      assertUpsert(response, 201, 'created', 'none');
      const contact = response.json();
      assert.notEqual(contact.id, old.id);
      assert.equal(response.headers.location, contact.uri);
      assert.deepEqual(contact.externalRefs, [{ namespace: 'crm', id: 'fresh' }]);
      assert.equal((await api.get(refPath('crm', 'fresh'))).json().id, contact.id);
      assert.equal((await api.get(old.uri)).statusCode, 404);
      const tombstone = await t.database.db
        .selectFrom('contacts')
        .select(['external_refs', 'deleted_at'])
        .where('id', '=', old.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(tombstone.external_refs, []);
      assert.ok(tombstone.deleted_at !== null);
      assert.equal(await countContacts(org.id), 2);
      // The reference now names the new contact, so the next upsert updates it.
      const again = await api.patch(refPath('crm', 'fresh'), { lastName: 'Again' });
      assertUpsert(again, 200, 'updated', 'external_ref');
      assert.equal(again.json().id, contact.id);
    });

    it('answers 409 naming the owner when the revived email now belongs to another live contact', async () => {
      const api = await newApi();
      const old = await deletedContact(api, 'taken');
      const owner = await newContact(api, { email: 'taken@example.com' });
      const response = await api.patch(refPath('crm', 'taken'), { lastName: 'Back' });
      assert.equal(response.statusCode, 409, response.body);
      assert.equal(response.json().conflictField, 'email');
      assert.equal(response.json().conflictingContactId, owner.id);
      assert.equal((await api.get(old.uri)).statusCode, 404);
    });
  });

  describe('create_only / update_only', () => {
    for (const flag of ['create_only', 'update_only']) {
      it(`answers 404 with ${flag}=true for an unknown reference and creates nothing`, async () => {
        const org = await newOrg();
        const api = client(t.app, org);
        const response = await api.patch(`${refPath('hubspot', '12345')}?${flag}=true`, { firstName: 'Jane' });
        assert.equal(response.statusCode, 404);
        assert.equal(response.json().type, '/problems/not-found');
        assert.equal(await countContacts(org.id), 0);
      });

      it(`updates with ${flag}=true when the reference is known`, async () => {
        const api = await newApi();
        const created = await api.patch(refPath('hubspot', '12345'), { firstName: 'Jane' });
        const response = await api.patch(`${refPath('hubspot', '12345')}?${flag}=true`, { lastName: 'Doe' });
        assertUpsert(response, 200, 'updated', 'external_ref');
        assert.equal(response.json().id, created.json().id);
      });
    }

    it('revives a deleted contact with create_only=true', async () => {
      const api = await newApi();
      const created = await api.patch(refPath('crm', 'co'), { firstName: 'Jane' });
      assert.equal((await api.delete(created.json().uri)).statusCode, 204);
      const response = await api.patch(`${refPath('crm', 'co')}?create_only=true`, {});
      assertUpsert(response, 200, 'revived', 'external_ref');
    });
  });

  describe('validate_only', () => {
    it('answers 200 with the contact it would create and the action, storing nothing', async () => {
      const org = await newOrg();
      const api = client(t.app, org);
      const response = await api.patch(`${refPath('crm', 'dry')}?validate_only=true`, {
        firstName: 'Dry',
        email: 'dry@example.com',
      });
      assertUpsert(response, 200, 'created', 'none');
      assert.equal(response.headers.location, undefined);
      assert.equal(response.json().firstName, 'Dry');
      assert.deepEqual(response.json().externalRefs, [{ namespace: 'crm', id: 'dry' }]);
      assert.equal(await countContacts(org.id), 0);
      assert.equal((await api.get(refPath('crm', 'dry'))).statusCode, 404);
      // The reference and the email stay free.
      const real = await api.patch(refPath('crm', 'dry'), { firstName: 'Real', email: 'dry@example.com' });
      assert.equal(real.statusCode, 201);
    });

    it('answers 200 with the update it would make, storing nothing', async () => {
      const api = await newApi();
      const created = await api.patch(refPath('crm', 'dry'), { firstName: 'Before' });
      const response = await api.patch(`${refPath('crm', 'dry')}?validate_only=true`, { firstName: 'After' });
      assertUpsert(response, 200, 'updated', 'external_ref');
      assert.equal(response.json().firstName, 'After');
      assert.deepEqual((await api.get(created.json().uri)).json(), created.json());
    });

    it('answers 200 with the revival it would make, storing nothing', async () => {
      const api = await newApi();
      const created = await api.patch(refPath('crm', 'dry'), { firstName: 'Gone' });
      assert.equal((await api.delete(created.json().uri)).statusCode, 204);
      const response = await api.patch(`${refPath('crm', 'dry')}?validate_only=true`, {});
      assertUpsert(response, 200, 'revived', 'external_ref');
      assert.equal(response.json().deletedUtc, null);
      assert.equal((await api.get(created.json().uri)).statusCode, 404);
    });

    it('answers 400 for an invalid body and 409 for a conflict, as a real upsert would', async () => {
      const org = await newOrg();
      const api = client(t.app, org);
      const invalid = await api.patch(`${refPath('crm', 'dry')}?validate_only=true`, { firstName: 'x'.repeat(101) });
      assert.equal(invalid.statusCode, 400);
      assert.deepEqual(Object.keys(invalid.json().errors), ['firstName']);
      const owner = await newContact(api, { email: 'o@example.com' });
      const conflict = await api.patch(`${refPath('crm', 'dry')}?validate_only=true`, { email: 'o@example.com' });
      assert.equal(conflict.statusCode, 409);
      assert.equal(conflict.json().conflictingContactId, owner.id);
      assert.equal(await countContacts(org.id), 1);
    });
  });

  describe('match=email', () => {
    it('updates the live contact with the same primary email and adds the reference (action updated)', async () => {
      const org = await newOrg();
      const api = client(t.app, org);
      const existing = await newContact(api, {
        firstName: 'Jane',
        email: 'jane@example.com',
        externalRefs: [{ namespace: 'salesforce', id: 'sf1' }],
      });
      const response = await api.patch(`${refPath('hubspot', '12345')}?match=email`, {
        lastName: 'Doe',
        email: 'JANE@example.com',
      });
      assertUpsert(response, 200, 'updated', 'email');
      const contact = response.json();
      assert.equal(contact.id, existing.id);
      assert.equal(contact.firstName, 'Jane');
      assert.equal(contact.lastName, 'Doe');
      assert.deepEqual(contact.externalRefs, [
        { namespace: 'salesforce', id: 'sf1' },
        { namespace: 'hubspot', id: '12345' },
      ]);
      assert.equal(contact.changeOrigin, 'hubspot');
      assert.equal(await countContacts(org.id), 1);
      // From now on the reference itself finds the contact.
      const again = await api.patch(`${refPath('hubspot', '12345')}?match=email`, { firstName: 'Janet' });
      assertUpsert(again, 200, 'updated', 'external_ref');
      assert.equal(again.json().id, existing.id);
    });

    it('matches the primary email given through emails', async () => {
      const api = await newApi();
      const existing = await newContact(api, { email: 'jane@example.com' });
      const response = await api.patch(`${refPath('hubspot', 'e')}?match=email`, {
        emails: [{ address: 'jane@example.com', type: 'work' }],
      });
      assertUpsert(response, 200, 'updated', 'email');
      assert.equal(response.json().id, existing.id);
    });

    it('answers 409 when the matched contact already has another reference in the namespace', async () => {
      const org = await newOrg();
      const api = client(t.app, org);
      const existing = await newContact(api, {
        email: 'jane@example.com',
        externalRefs: [{ namespace: 'hubspot', id: 'older' }],
      });
      const response = await api.patch(`${refPath('HubSpot', '12345')}?match=email`, { email: 'jane@example.com' });
      assert.equal(response.statusCode, 409);
      assert.equal(response.json().type, '/problems/conflict');
      assert.equal(response.json().conflictingContactId, existing.id);
      assert.equal(await countContacts(org.id), 1);
      assert.deepEqual((await api.get(existing.uri)).json(), existing);
    });

    it('creates when no live contact has the email (a deleted one does not count)', async () => {
      const org = await newOrg();
      const api = client(t.app, org);
      const deleted = await newContact(api, { email: 'gone@example.com' });
      assert.equal((await api.delete(deleted.uri)).statusCode, 204);
      const response = await api.patch(`${refPath('hubspot', 'new')}?match=email`, {
        firstName: 'New',
        email: 'gone@example.com',
      });
      assertUpsert(response, 201, 'created', 'none');
      assert.notEqual(response.json().id, deleted.id);
      const noEmail = await api.patch(`${refPath('hubspot', 'noemail')}?match=email`, { firstName: 'NoEmail' });
      assertUpsert(noEmail, 201, 'created', 'none');
    });

    it('prefers the reference over the email', async () => {
      const api = await newApi();
      const byRef = await api.patch(refPath('hubspot', 'r'), { firstName: 'ByRef' });
      await newContact(api, { email: 'someone@example.com' });
      const response = await api.patch(`${refPath('hubspot', 'r')}?match=email`, { firstName: 'Still' });
      assertUpsert(response, 200, 'updated', 'external_ref');
      assert.equal(response.json().id, byRef.json().id);
    });
  });

  it('answers 403 to a token without contacts.write', async () => {
    const org = await newOrganization(t.app, { scopes: ['contacts.read'] });
    const response = await client(t.app, org).patch(refPath('crm', 'x'), { firstName: 'No' });
    assert.equal(response.statusCode, 403);
    assert.equal(await countContacts(org.id), 0);
  });
});
