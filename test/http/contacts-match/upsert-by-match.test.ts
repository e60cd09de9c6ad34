import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

const UPSERT = '/api/v1/network/contacts/upsert';

describe('POST /contacts/upsert (match by email or phone)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  async function organization(fields: string[], region: string | null = 'SE'): Promise<TestOrganization> {
    return newOrganization(t.app, { settings: { defaultPhoneRegion: region, duplicateContactMatching: { fields } } });
  }

  function upsert(org: TestOrganization, payload: object, query = '') {
    return request(t.app, { method: 'POST', url: `${UPSERT}${query}`, headers: org.headers, payload });
  }

  function create(org: TestOrganization, payload: object) {
    return request(t.app, { method: 'POST', url: '/api/v1/network/contacts', headers: org.headers, payload });
  }

  it('creates a contact when nothing matches: 201, Location, new=true and the headers', async () => {
    const org = await organization(['email', 'phone']);
    const response = await upsert(org, { firstName: 'Nova', email: 'nova@example.com', tags: ['upserted'] });
    assert.equal(response.statusCode, 201);
    const body = response.json();
    assert.equal(body.new, true);
    assert.equal(body.contact.email, 'nova@example.com');
    assert.equal(response.headers.location, `/api/v1/network/contacts/${body.contact.id}`);
    assert.equal(response.headers.etag, body.contact.etag);
    assert.equal(response.headers['x-propstreet-upsert-action'], 'created');
    assert.equal(response.headers['x-upsert-matched-by'], 'none');
    assert.equal(response.headers['x-upsert-ambiguous-contact'], undefined);
  });

  it('updates the contact with the same email, case-insensitively, keeping omitted fields', async () => {
    const org = await organization(['email', 'phone']);
    const existing = (await create(org, { firstName: 'Old', lastName: 'Name', email: 'Kim@Example.com' })).json();
    const response = await upsert(org, { firstName: 'New', email: 'kim@example.COM' });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.new, false);
    assert.equal(body.contact.id, existing.id);
    assert.equal(body.contact.firstName, 'New');
    assert.equal(body.contact.lastName, 'Name');
    assert.equal(response.headers['x-propstreet-upsert-action'], 'updated');
    assert.equal(response.headers['x-upsert-matched-by'], 'email');
    assert.equal(response.headers.location, undefined);
  });

  it('matches a national phone format against the stored E.164 number using the default region', async () => {
    const org = await organization(['phone']);
    const existing = (await create(org, { firstName: 'Phone', phone: '+46705550002' })).json();
    const response = await upsert(org, { lastName: 'Owner', phone: '070-555 00 02' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().contact.id, existing.id);
    assert.equal(response.json().contact.phone, '+46705550002');
    assert.equal(response.headers['x-upsert-matched-by'], 'phone');
  });

  it('with email first, updates the email match and names the phone match in X-Upsert-Ambiguous-Contact', async () => {
    const org = await organization(['email', 'phone']);
    const byEmail = (await create(org, { firstName: 'Email', email: 'amb@example.com' })).json();
    const byPhone = (await create(org, { firstName: 'Phone', phone: '+46701112233' })).json();
    const response = await upsert(org, { lastName: 'Merged', email: 'amb@example.com', phone: '0701112233' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().contact.id, byEmail.id);
    assert.equal(response.headers['x-upsert-matched-by'], 'email');
    assert.equal(response.headers['x-upsert-ambiguous-contact'], byPhone.id);
    const untouched = await request(t.app, {
      method: 'GET',
      url: `/api/v1/network/contacts/${byPhone.id}`,
      headers: org.headers,
    });
    assert.equal(untouched.json().etag, byPhone.etag);
    assert.equal(untouched.json().lastName, null);
  });

  it('with phone first, updates the phone match; taking the other contact email is a 409 naming it', async () => {
    const org = await organization(['phone', 'email']);
    const byEmail = (await create(org, { firstName: 'Email', email: 'taken@example.com' })).json();
    const byPhone = (await create(org, { firstName: 'Phone', phone: '+46702223344' })).json();

    const ambiguous = await upsert(org, { lastName: 'Kept', email: 'taken@example.com', phone: '+46702223344' });
    assert.equal(ambiguous.statusCode, 409);
    assert.equal(ambiguous.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(ambiguous.json().conflictField, 'email');
    assert.equal(ambiguous.json().conflictingContactId, byEmail.id);

    const phoneOnly = await upsert(org, { lastName: 'Kept', phone: '070-222 33 44' });
    assert.equal(phoneOnly.statusCode, 200);
    assert.equal(phoneOnly.json().contact.id, byPhone.id);
    assert.equal(phoneOnly.headers['x-upsert-matched-by'], 'phone');
  });

  it('never matches when the setting is [] and then refuses a second contact with the same email', async () => {
    const org = await organization([]);
    const first = await upsert(org, { firstName: 'One', phone: '+46703334455' });
    const second = await upsert(org, { firstName: 'Two', phone: '+46703334455' });
    assert.equal(first.statusCode, 201);
    assert.equal(second.statusCode, 201);
    assert.notEqual(first.json().contact.id, second.json().contact.id);
    await upsert(org, { firstName: 'Three', email: 'solo@example.com' });
    const clash = await upsert(org, { firstName: 'Four', email: 'solo@example.com' });
    assert.equal(clash.statusCode, 409);
    assert.equal(clash.json().conflictField, 'email');
  });

  it('attaches externalRefs to the matched contact and refuses a reference owned by another contact', async () => {
    const org = await organization(['email']);
    const owner = (
      await create(org, { firstName: 'Owner', externalRefs: [{ namespace: 'typeform', id: 'resp-1' }] })
    ).json();
    const target = (
      await create(org, {
        firstName: 'Target',
        email: 'att@example.com',
        externalRefs: [{ namespace: 'crm', id: 'x' }],
      })
    ).json();
    const attached = await upsert(org, {
      email: 'att@example.com',
      externalRefs: [{ namespace: 'Sheet', id: 'row-7' }],
    });
    assert.equal(attached.statusCode, 200);
    assert.deepEqual(attached.json().contact.externalRefs, [
      { namespace: 'crm', id: 'x' },
      { namespace: 'sheet', id: 'row-7' },
    ]);
    const stolen = await upsert(org, {
      email: 'att@example.com',
      externalRefs: [{ namespace: 'typeform', id: 'resp-1' }],
    });
    assert.equal(stolen.statusCode, 409);
    assert.equal(stolen.json().conflictingContactId, owner.id);
    assert.equal(stolen.json().conflictField, 'externalRefs[0]', 'the field path points into the request');
    const after = await request(t.app, {
      method: 'GET',
      url: `/api/v1/network/contacts/${target.id}`,
      headers: org.headers,
    });
    assert.equal(after.json().externalRefs.length, 2, 'nothing of the refused upsert was stored');
  });

  it('answers a repeat that changes nothing with the same ETag and updatedUtc', async () => {
    const org = await organization(['email']);
    const body = { firstName: 'Same', email: 'same@example.com', tags: ['a'] };
    const first = await upsert(org, body);
    const second = await upsert(org, body);
    assert.equal(second.statusCode, 200);
    assert.equal(second.json().contact.etag, first.json().contact.etag);
    assert.equal(second.json().contact.updatedUtc, first.json().contact.updatedUtc);
  });

  it('with validate_only, decides and answers without storing anything', async () => {
    const org = await organization(['email']);
    const dryCreate = await upsert(org, { firstName: 'Dry', email: 'dry@example.com' }, '?validate_only=true');
    assert.equal(dryCreate.statusCode, 200);
    assert.equal(dryCreate.json().new, true);
    assert.equal(dryCreate.headers['x-propstreet-upsert-action'], 'created');
    const real = await upsert(org, { firstName: 'Dry', email: 'dry@example.com' });
    assert.equal(real.statusCode, 201, 'the dry run created nothing');
    const dryUpdate = await upsert(org, { firstName: 'Wet', email: 'dry@example.com' }, '?validate_only=true');
    assert.equal(dryUpdate.statusCode, 200);
    assert.equal(dryUpdate.json().contact.firstName, 'Wet');
    const stored = await request(t.app, {
      method: 'GET',
      url: `/api/v1/network/contacts/${real.json().contact.id}`,
      headers: org.headers,
    });
    assert.equal(stored.json().firstName, 'Dry');
    const invalid = await upsert(org, { email: 'not-an-email' }, '?validate_only=true');
    assert.equal(invalid.statusCode, 400);
    assert.deepEqual(Object.keys(invalid.json().errors), ['email']);
  });

  it('applies the upsert limits of seed 004 and rejects unknown fields', async () => {
    const org = await organization(['email']);
    const response = await upsert(org, { firstName: 'x'.repeat(101), phone: '1'.repeat(21), ownerEmail: 'abc' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json().errors).sort(), ['firstName', 'ownerEmail', 'phone']);
  });

  it('needs the contacts.write scope', async () => {
    const org = await newOrganization(t.app, { scopes: ['contacts.read'] });
    const response = await upsert(org, { email: 'scope@example.com' });
    assert.equal(response.statusCode, 403);
  });

  for (const field of ['email', 'phone'] as const) {
    it(`creates one contact when 20 calls with the same new ${field} race, and updates it with the rest`, async () => {
      const org = await organization([field]);
      const key = field === 'email' ? { email: `race-${randomUUID()}@example.com` } : { phone: '+46709998877' };
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => upsert(org, { ...key, tags: [`call-${i % 2}`] })),
      );
      const statuses = results.map((r) => r.statusCode).sort();
      assert.deepEqual(statuses, [...Array(19).fill(200), 201].sort());
      assert.equal(new Set(results.map((r) => r.json().contact.id)).size, 1);
    });
  }

  it('follows a settings change made through the organization settings API', async () => {
    const org = await newOrganization(t.app, {
      scopes: ['contacts.read', 'contacts.write', 'settings.write'],
      settings: { defaultPhoneRegion: 'SE', duplicateContactMatching: { fields: ['email'] } },
    });
    await create(org, { firstName: 'Phoney', phone: '+46704445566' });
    const before = await upsert(org, { lastName: 'A', phone: '+46704445566' });
    assert.equal(before.statusCode, 201, 'phone is not a match field yet');
    const changed = await request(t.app, {
      method: 'PATCH',
      url: '/api/v1/organization/settings',
      headers: org.headers,
      payload: { duplicateContactMatching: { fields: ['phone', 'email'] } },
    });
    assert.equal(changed.statusCode, 200);
    assert.deepEqual(changed.json().duplicateContactMatching.fields, ['phone', 'email']);
    const after = await upsert(org, { lastName: 'B', phone: '0704445566' });
    assert.equal(after.statusCode, 200);
    assert.equal(after.headers['x-upsert-matched-by'], 'phone');
  });
});
