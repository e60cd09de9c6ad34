import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { CONTACTS, refPath } from '../../helpers/contacts.js';
import { adminHeaders, newOrganization, type TestOrganization } from '../../helpers/factories.js';

const UPSERT = `${CONTACTS}/upsert`;

describe('phones compare by their E.164 form whenever it is a possible number', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const usOrganization = () =>
    newOrganization(t.app, { settings: { defaultPhoneRegion: 'US', duplicateContactMatching: { fields: ['phone'] } } });
  const send = (org: TestOrganization, method: 'POST' | 'PATCH', url: string, payload: object) =>
    request(t.app, { method, url, headers: org.headers, payload });

  it('matches (555) 987-6543 to +15559876543 with region US, and keeps each phone as stored', async () => {
    const org = await usOrganization();
    const created = await send(org, 'POST', UPSERT, { firstName: 'John', phone: '+15559876543' });
    assert.equal(created.statusCode, 201, created.body);
    for (const phone of ['(555) 987-6543', '555-987-6543', ' 5559876543 ']) {
      const matched = await send(org, 'POST', UPSERT, { phone, lastName: 'Doe' });
      assert.equal(matched.statusCode, 200, `${phone}: ${matched.body}`);
      assert.equal(matched.json().contact.id, created.json().contact.id, phone);
      assert.equal(matched.headers['x-upsert-matched-by'], 'phone');
    }
    // A number that is not valid is stored as sent (the seed's rule), yet still found by its key.
    const other = await send(org, 'POST', CONTACTS, { firstName: 'Ann', phone: '(555) 123-4567' });
    assert.equal(other.json().phone, '(555) 123-4567');
    const found = await send(org, 'POST', UPSERT, { phone: '+1 555 123 4567', lastName: 'Lee' });
    assert.equal(found.statusCode, 200, found.body);
    assert.equal(found.json().contact.id, other.json().id);
    // The body's phone is then the contact's phone, stored by the same rule.
    assert.equal(found.json().contact.phone, '+1 555 123 4567');
  });

  it('finds the same contact by key on the general path too (a match that changes the phone)', async () => {
    const org = await usOrganization();
    const created = await send(org, 'POST', UPSERT, { firstName: 'Kim', phone: '(555) 222-3333' });
    // The body's phone differs in writing from the stored one: the statement cannot take it, the
    // general path locks the key and must still find the contact.
    const matched = await send(org, 'POST', UPSERT, { phone: '+15552223333', email: 'kim@example.com' });
    assert.equal(matched.statusCode, 200, matched.body);
    assert.equal(matched.json().contact.id, created.json().contact.id);
  });

  it('refuses two entries of phones that are one number written two ways', async () => {
    const org = await usOrganization();
    const response = await send(org, 'PATCH', refPath('crm', 'dup'), {
      firstName: 'Lou',
      phones: [{ number: '+15559876543' }, { number: '(555) 987-6543' }],
    });
    assert.equal(response.statusCode, 400, response.body);
    assert.deepEqual(Object.keys(response.json().errors), ['phones[1].number']);
  });

  it('refuses a blank entry of phones, naming it', async () => {
    const org = await usOrganization();
    const response = await send(org, 'POST', CONTACTS, { firstName: 'Sam', phones: [{ number: '   ' }] });
    assert.equal(response.statusCode, 400, response.body);
    assert.deepEqual(Object.keys(response.json().errors), ['phones[0].number']);
  });

  it("keys every contact's phone anew when the organization's phone region changes", async () => {
    const org = await usOrganization();
    const created = await send(org, 'POST', UPSERT, { firstName: 'Ray', phone: '(555) 987-6543' });
    assert.equal(created.statusCode, 201);
    // Without a region, national digits are no number at all: the stored phone keys as written.
    const settings = await request(t.app, {
      method: 'PATCH',
      url: `/api/v1/admin/organizations/${org.id}`,
      headers: adminHeaders,
      payload: { settings: { defaultPhoneRegion: null } },
    });
    assert.equal(settings.statusCode, 200, settings.body);
    const sameWriting = await send(org, 'POST', UPSERT, { phone: '(555) 987-6543', lastName: 'Ray' });
    assert.equal(sameWriting.statusCode, 200, sameWriting.body);
    assert.equal(sameWriting.json().contact.id, created.json().contact.id);
    const e164 = await send(org, 'POST', UPSERT, { phone: '+15559876543', lastName: 'Ray' });
    assert.equal(e164.statusCode, 201, 'without a region the national writing is not a US number any more');
  });

  it('creates one contact when upserts of one number written differently race', async () => {
    const org = await usOrganization();
    const writings = ['+15557654321', '(555) 765-4321', '555.765.4321', '5557654321'];
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        send(org, 'POST', UPSERT, { phone: writings[i % writings.length], tags: [`t${i % 3}`] }),
      ),
    );
    assert.deepEqual(results.map((result) => result.statusCode).sort(), [201, ...Array(11).fill(200)].sort());
    assert.equal(new Set(results.map((result) => result.json().contact.id)).size, 1);
  });
});
