import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { CONTACTS, refPath } from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

const UPSERT = `${CONTACTS}/upsert`;

describe('POST /contacts/upsert: the seed example and locationId', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const send = (org: TestOrganization, method: 'POST' | 'PATCH', url: string, payload: object) =>
    request(t.app, { method, url, headers: org.headers, payload });

  it("answers the seed page's example request 201, then 200 with nothing changed, every field stored", async () => {
    const org = await newOrganization(t.app, {
      settings: { defaultPhoneRegion: 'US', duplicateContactMatching: { fields: ['email', 'phone'] } },
    });
    const example = {
      firstName: 'John',
      lastName: 'Doe',
      email: 'john.doe@example.com',
      phone: '+15559876543',
      locationId: org.id,
      tags: ['upserted'],
      source: 'api',
    };
    const created = await send(org, 'POST', UPSERT, example);
    assert.equal(created.statusCode, 201, created.body);
    const { new: isNew, contact } = created.json();
    assert.equal(isNew, true);
    assert.deepEqual(
      {
        firstName: contact.firstName,
        lastName: contact.lastName,
        name: contact.name,
        email: contact.email,
        phone: contact.phone,
        tags: contact.tags,
        source: contact.source,
      },
      {
        firstName: 'John',
        lastName: 'Doe',
        name: 'John Doe',
        email: 'john.doe@example.com',
        phone: '+15559876543',
        tags: ['upserted'],
        source: 'api',
      },
    );
    assert.equal(contact.locationId, undefined, 'locationId is not stored or shown');

    const again = await send(org, 'POST', UPSERT, example);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().new, false);
    assert.equal(again.json().contact.id, contact.id);
    assert.equal(again.json().contact.etag, contact.etag);
    assert.equal(again.json().contact.updatedUtc, contact.updatedUtc);
  });

  it("accepts locationId in any case of the organization's id", async () => {
    const org = await newOrganization(t.app);
    const response = await send(org, 'POST', UPSERT, {
      email: `${randomUUID()}@example.com`,
      locationId: org.id.toUpperCase(),
    });
    assert.equal(response.statusCode, 201, response.body);
  });

  it('answers 422 location-mismatch naming locationId for another id, storing nothing', async () => {
    const org = await newOrganization(t.app);
    const other = await newOrganization(t.app);
    const email = `${randomUUID()}@example.com`;
    for (const locationId of [other.id, 've9EPM428h8vShlRW1KT']) {
      const response = await send(org, 'POST', UPSERT, { email, locationId });
      assert.equal(response.statusCode, 422, response.body);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().type, '/problems/location-mismatch');
      assert.deepEqual(Object.keys(response.json().errors), ['locationId']);
    }
    const created = await send(org, 'POST', UPSERT, { email });
    assert.equal(created.statusCode, 201, 'the refused requests stored a contact');
  });

  it('checks locationId per batch item, naming data.locationId', async () => {
    const org = await newOrganization(t.app);
    const response = await send(org, 'POST', `${CONTACTS}/batch`, {
      items: [
        { data: { email: `${randomUUID()}@example.com`, locationId: org.id } },
        { data: { email: `${randomUUID()}@example.com`, locationId: randomUUID() } },
        { externalRef: { namespace: 'crm', id: '1' }, data: { firstName: 'A', locationId: randomUUID() } },
        { externalRef: { namespace: 'crm', id: '2' }, data: { firstName: 'B', locationId: org.id } },
        { externalRef: { namespace: 'crm', id: '3' }, data: { firstName: 'C' } },
      ],
    });
    assert.equal(response.statusCode, 207, response.body);
    const results = response.json().results;
    assert.deepEqual(
      results.map((result: { status: number }) => result.status),
      [201, 422, 422, 201, 201],
    );
    assert.deepEqual(Object.keys(results[1].problem.errors), ['data.locationId']);
    assert.equal(results[2].problem.type, '/problems/location-mismatch');
  });

  it('is not a field of the other pages (400 unknown field)', async () => {
    const org = await newOrganization(t.app);
    const byRef = await send(org, 'PATCH', refPath('crm', 'x'), { firstName: 'A', locationId: org.id });
    assert.equal(byRef.statusCode, 400);
    assert.deepEqual(Object.keys(byRef.json().errors), ['locationId']);
    const create = await send(org, 'POST', CONTACTS, { firstName: 'A', locationId: org.id });
    assert.equal(create.statusCode, 400);
  });
});
