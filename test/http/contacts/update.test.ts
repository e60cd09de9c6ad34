import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import {
  assertContactShape,
  type Client,
  CONTACTS,
  client,
  newCompany,
  newContact,
  refPath,
} from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('PATCH /contacts/{id}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async (settings?: Record<string, unknown>): Promise<Client> =>
    client(t.app, await newOrganization(t.app, settings ? { settings } : {}));

  const full = {
    firstName: 'Jane',
    lastName: 'Smith',
    email: 'jane@example.com',
    phone: '+46701234567',
    linkedInUrl: 'https://www.linkedin.com/in/jane',
    primaryLanguage: 'sv',
    tags: ['vip'],
    strategy: 'Offices',
    externalRefs: [{ namespace: 'crm', id: '1' }],
  };

  it('updates the email with the seed If-Match: W/"…" form and answers the new ETag', async () => {
    const api = await newApi();
    const created = await newContact(api, full);
    assert.match(created.etag, /^W\/"[^"]+"$/);
    const response = await api.patch(created.uri, { email: 'newemail@example.com' }, { 'if-match': created.etag });
    assert.equal(response.statusCode, 200);
    const contact = response.json();
    assertContactShape(contact, response);
    assert.equal(contact.email, 'newemail@example.com');
    assert.deepEqual(contact.emails, [{ address: 'newemail@example.com', type: null, isPrimary: true }]);
    assert.notEqual(contact.etag, created.etag);
    assert.equal(contact.changeType, 'updated');
    assert.equal(contact.changeOrigin, 'api');
    assert.equal(contact.createdUtc, created.createdUtc);
    assert.ok(contact.updatedUtc >= created.updatedUtc);
    assert.deepEqual((await api.get(created.uri)).json(), contact);
  });

  it('accepts every field of the seed request schema, nulls clearing', async () => {
    const api = await newApi();
    const company = await newCompany(api);
    const created = await newContact(api, full);
    const response = await api.patch(
      created.uri,
      {
        externalRefs: [{ namespace: 'crm', id: '2' }],
        firstName: 'Jane',
        lastName: null,
        email: null,
        phone: null,
        linkedInUrl: null,
        primaryLanguage: null,
        tags: ['x'],
        strategy: null,
        connections: [{ company: { kind: 'existing', id: company.id }, jobTitle: null, primary: true }],
        blocked: null,
      },
      { 'if-match': created.etag },
    );
    assert.equal(response.statusCode, 200, response.body);
    const contact = response.json();
    assertContactShape(contact, response);
    assert.deepEqual(
      [contact.lastName, contact.email, contact.phone, contact.linkedInUrl, contact.primaryLanguage, contact.strategy],
      [null, null, null, null, null, null],
    );
    assert.deepEqual(contact.externalRefs, [{ namespace: 'crm', id: '2' }]);
    assert.equal(contact.blocked, false);
    assert.equal(contact.primaryCompanyId, company.id);
  });

  it('accepts profilePictureId: null, a field of the seed request schema, and refuses a picture id', async () => {
    const api = await newApi();
    const created = await newContact(api);
    const response = await api.patch(created.uri, { profilePictureId: null });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json().profilePictureUrl, null);
    const picture = await api.patch(created.uri, { profilePictureId: 42 });
    assert.equal(picture.statusCode, 400);
    assert.deepEqual(Object.keys(picture.json().errors), ['profilePictureId']);
  });

  it('sets present fields and keeps omitted ones (seed: firstName and tags)', async () => {
    const api = await newApi();
    const created = await newContact(api, full);
    const response = await api.patch(created.uri, { firstName: 'Jane', tags: ['vip', 'enterprise', 'decision-maker'] });
    assert.equal(response.statusCode, 200);
    const contact = response.json();
    assert.deepEqual(contact.tags, ['vip', 'enterprise', 'decision-maker']);
    const { tags: _a, etag: _b, updatedUtc: _c, changeType: _d, ...rest } = contact;
    const { tags: _e, etag: _f, updatedUtc: _g, changeType: _h, ...before } = created;
    assert.deepEqual(rest, before);
  });

  it('clears fields set to null (seed: phone and primaryLanguage) and keeps the others', async () => {
    const api = await newApi();
    const created = await newContact(api, full);
    const response = await api.patch(created.uri, { phone: null, primaryLanguage: null });
    assert.equal(response.statusCode, 200);
    const contact = response.json();
    assert.equal(contact.phone, null);
    assert.deepEqual(contact.phones, []);
    assert.equal(contact.primaryLanguage, null);
    assert.equal(contact.email, 'jane@example.com');
    assert.equal(contact.linkedInUrl, 'https://www.linkedin.com/in/jane');
    assert.equal(contact.strategy, 'Offices');

    const cleared = await api.patch(created.uri, {
      lastName: null,
      email: null,
      linkedInUrl: null,
      tags: null,
      strategy: null,
      externalRefs: null,
    });
    assert.equal(cleared.statusCode, 200);
    assert.deepEqual(
      [
        cleared.json().lastName,
        cleared.json().email,
        cleared.json().emails,
        cleared.json().linkedInUrl,
        cleared.json().tags,
        cleared.json().strategy,
        cleared.json().externalRefs,
      ],
      [null, null, [], null, [], null, []],
    );
    assert.equal(cleared.json().firstName, 'Jane');
  });

  it('replaces whole lists: tags, emails, phones and external references', async () => {
    const api = await newApi({ defaultPhoneRegion: 'SE' });
    const created = await newContact(api, {
      ...full,
      emails: [{ address: 'jane@example.com', type: 'work' }, { address: 'old@example.com' }],
      phones: [{ number: '+46701234567', type: 'mobile' }, { number: '+4687654321' }],
      tags: ['a', 'b'],
      externalRefs: [
        { namespace: 'crm', id: '1' },
        { namespace: 'erp', id: '2' },
      ],
    });
    const response = await api.patch(created.uri, {
      tags: ['c'],
      emails: [{ address: 'new@example.com', type: 'personal' }],
      phones: [{ number: '070-765 43 21', type: 'home' }],
      externalRefs: [{ namespace: 'Erp', id: '2' }],
    });
    assert.equal(response.statusCode, 200);
    const contact = response.json();
    assert.deepEqual(contact.tags, ['c']);
    assert.equal(contact.email, 'new@example.com');
    assert.deepEqual(contact.emails, [{ address: 'new@example.com', type: 'personal', isPrimary: true }]);
    assert.equal(contact.phone, '+46707654321');
    assert.deepEqual(contact.phones, [{ number: '+46707654321', type: 'home', isPrimary: true }]);
    assert.deepEqual(contact.externalRefs, [{ namespace: 'erp', id: '2' }]);
    // The removed reference is free for another contact; the kept one still finds this contact.
    assert.equal((await api.get(refPath('crm', '1'))).statusCode, 404);
    assert.equal((await api.get(refPath('erp', '2'))).json().id, created.id);
    const other = await api.post(CONTACTS, { firstName: 'Other', externalRefs: [{ namespace: 'crm', id: '1' }] });
    assert.equal(other.statusCode, 201);
  });

  it('makes email alone the only entry of emails', async () => {
    const api = await newApi();
    const created = await newContact(api, {
      emails: [{ address: 'a@example.com', type: 'work' }, { address: 'b@example.com' }],
    });
    const response = await api.patch(created.uri, { email: 'c@example.com' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json().emails, [{ address: 'c@example.com', type: null, isPrimary: true }]);
  });

  it('answers 200 with the same ETag and updatedUtc when nothing changes', async () => {
    const api = await newApi({ defaultPhoneRegion: 'SE' });
    const company = await newCompany(api);
    const created = await newContact(api, {
      ...full,
      connections: [{ company: { kind: 'existing', id: company.id }, jobTitle: 'CEO', primary: true }],
    });
    for (const body of [
      {},
      { firstName: 'Jane', tags: ['vip'] },
      { phone: '070-123 45 67', email: 'jane@example.com' },
      { externalRefs: [{ namespace: 'CRM', id: '1' }] },
      {
        connections: [{ company: { kind: 'existing', id: company.id.toUpperCase() }, jobTitle: 'CEO', primary: true }],
      },
    ]) {
      const response = await api.patch(created.uri, body);
      assert.equal(response.statusCode, 200, JSON.stringify(body));
      assert.equal(response.headers.etag, created.etag, JSON.stringify(body));
      assert.deepEqual(response.json(), created, JSON.stringify(body));
    }
  });

  it('answers 412 when If-Match is stale, and changes nothing', async () => {
    const api = await newApi();
    const created = await newContact(api, full);
    const changed = await api.patch(created.uri, { lastName: 'Changed' });
    assert.equal(changed.statusCode, 200);
    const response = await api.patch(created.uri, { firstName: 'Lost' }, { 'if-match': created.etag });
    assert.equal(response.statusCode, 412);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.json().type, '/problems/precondition-failed');
    const current = await api.get(created.uri);
    assert.deepEqual(current.json(), changed.json());
  });

  it('compares If-Match weakly and accepts a list of ETags or *', async () => {
    const api = await newApi();
    const created = await newContact(api, full);
    let etag: string = created.etag;
    for (const ifMatch of [
      (tag: string) => tag,
      (tag: string) => tag.slice(2),
      (tag: string) => `W/"stale", ${tag}`,
      () => '*',
    ]) {
      const response = await api.patch(created.uri, { strategy: randomUUID() }, { 'if-match': ifMatch(etag) });
      assert.equal(response.statusCode, 200, ifMatch(etag));
      etag = response.json().etag;
    }
  });

  it('answers 400 for an If-Match that is not a list of entity tags', async () => {
    const api = await newApi();
    const created = await newContact(api);
    const response = await api.patch(created.uri, { firstName: 'X' }, { 'if-match': created.etag.slice(3, -1) });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json().errors), ['If-Match']);
    assert.equal((await api.get(created.uri)).json().firstName, 'Ada');
  });

  it('answers 428 without If-Match when the organization requires it, and 200 with it', async () => {
    const api = await newApi({ requireIfMatch: true });
    const created = await newContact(api);
    const missing = await api.patch(created.uri, { firstName: 'X' });
    assert.equal(missing.statusCode, 428);
    assert.equal(missing.json().type, '/problems/precondition-required');
    assert.equal((await api.get(created.uri)).json().firstName, 'Ada');
    const given = await api.patch(created.uri, { firstName: 'X' }, { 'if-match': created.etag });
    assert.equal(given.statusCode, 200);
    assert.equal(given.json().firstName, 'X');
  });

  it('lets upserts through without If-Match when the organization requires it, and honours one', async () => {
    const api = await newApi({ requireIfMatch: true });
    const byRef = await api.patch(refPath('hubspot', randomUUID()), { firstName: 'Ada' });
    assert.equal(byRef.statusCode, 201);
    const again = await api.patch(refPath('hubspot', byRef.json().externalRefs[0].id), { firstName: 'Bea' });
    assert.equal(again.statusCode, 200);
    const email = `${randomUUID()}@example.com`;
    assert.equal((await api.post(`${CONTACTS}/upsert`, { email, firstName: 'Cy' })).statusCode, 201);
    assert.equal((await api.post(`${CONTACTS}/upsert`, { email, firstName: 'Di' })).statusCode, 200);
    const stale = await api.patch(
      refPath('hubspot', byRef.json().externalRefs[0].id),
      { firstName: 'Ed' },
      { 'if-match': byRef.headers.etag as string },
    );
    assert.equal(stale.statusCode, 412);
  });

  it('applies the create limits and validation rules to updated fields', async () => {
    const api = await newApi();
    const created = await newContact(api, full);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ firstName: 'x'.repeat(256) }, 'firstName'],
      [{ lastName: 'x'.repeat(256) }, 'lastName'],
      [{ email: `${'a'.repeat(244)}@example.com` }, 'email'],
      [{ email: 'nope' }, 'email'],
      [{ phone: '1'.repeat(51) }, 'phone'],
      [{ linkedInUrl: 'https://example.com/in/jane' }, 'linkedInUrl'],
      [{ primaryLanguage: 'english' }, 'primaryLanguage'],
      [{ blocked: 'yes' }, 'blocked'],
      [{ id: randomUUID() }, 'id'],
      [{ profilePictureUrl: null }, 'profilePictureUrl'],
    ];
    for (const [body, field] of cases) {
      const response = await api.patch(created.uri, body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(response.json().errors), [field], JSON.stringify(body));
    }
    assert.deepEqual((await api.get(created.uri)).json(), created);
  });

  it('answers 400 when the update would leave no identifier', async () => {
    const api = await newApi();
    const created = await newContact(api, { firstName: 'Only' });
    const response = await api.patch(created.uri, { firstName: null });
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().type, '/problems/validation-failed');
    assert.equal((await api.get(created.uri)).json().firstName, 'Only');
  });

  it('sets and clears blocked', async () => {
    const api = await newApi();
    const created = await newContact(api);
    const blocked = await api.patch(created.uri, { blocked: true });
    assert.equal(blocked.json().blocked, true);
    const cleared = await api.patch(created.uri, { blocked: null });
    assert.equal(cleared.json().blocked, false);
  });

  it('answers 409 when the new primary email belongs to another live contact', async () => {
    const api = await newApi();
    const owner = await newContact(api, { email: 'taken@example.com' });
    const created = await newContact(api, { email: 'mine@example.com' });
    const response = await api.patch(created.uri, { emails: [{ address: 'Taken@Example.com' }] });
    assert.equal(response.statusCode, 409);
    assert.equal(response.json().conflictField, 'email');
    assert.equal(response.json().conflictingContactId, owner.id);
    assert.equal((await api.get(created.uri)).json().email, 'mine@example.com');
  });

  it('answers 409 when a new external reference belongs to another contact', async () => {
    const api = await newApi();
    const owner = await newContact(api, { externalRefs: [{ namespace: 'crm', id: 'x' }] });
    const created = await newContact(api, { externalRefs: [{ namespace: 'crm', id: 'mine' }] });
    const response = await api.patch(created.uri, {
      externalRefs: [
        { namespace: 'crm', id: 'mine' },
        { namespace: 'crm', id: 'x' },
      ],
    });
    assert.equal(response.statusCode, 409);
    assert.equal(response.json().conflictField, 'externalRefs[1]');
    assert.equal(response.json().conflictingContactId, owner.id);
    assert.deepEqual((await api.get(created.uri)).json().externalRefs, [{ namespace: 'crm', id: 'mine' }]);
  });

  it('replaces connections and clears them with null', async () => {
    const api = await newApi();
    const a = await newCompany(api, { name: 'A' });
    const b = await newCompany(api, { name: 'B' });
    const created = await newContact(api, {
      connections: [{ company: { kind: 'existing', id: a.id }, primary: true }],
    });
    const replaced = await api.patch(created.uri, {
      connections: [{ company: { kind: 'existing', id: b.id }, jobTitle: 'CFO', primary: true }],
    });
    assert.equal(replaced.statusCode, 200);
    assert.equal(replaced.json().primaryCompanyId, b.id);
    assert.deepEqual(replaced.json().companies, [
      { id: b.id, uri: b.uri, name: 'B', jobTitle: 'CFO', isPrimary: true },
    ]);
    const invalid = await api.patch(created.uri, {
      connections: [{ company: { kind: 'existing', id: randomUUID() }, primary: true }],
    });
    assert.equal(invalid.statusCode, 400);
    assert.deepEqual(Object.keys(invalid.json().errors), ['connections[0].company.id']);
    const cleared = await api.patch(created.uri, { connections: null });
    assert.equal(cleared.statusCode, 200);
    assert.deepEqual(cleared.json().companies, []);
    assert.equal(cleared.json().primaryCompanyId, null);
  });

  it('answers 404 for an unknown or deleted contact', async () => {
    const api = await newApi();
    assert.equal((await api.patch(`${CONTACTS}/${randomUUID()}`, { firstName: 'X' })).statusCode, 404);
    const created = await newContact(api);
    assert.equal((await api.delete(created.uri)).statusCode, 204);
    const response = await api.patch(created.uri, { firstName: 'X' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().type, '/problems/not-found');
  });

  it('records api as the origin of a direct update after an upsert', async () => {
    const api = await newApi();
    const upserted = await api.patch(refPath('hubspot', 'o1'), { firstName: 'Up' });
    assert.equal(upserted.json().changeOrigin, 'hubspot');
    const response = await api.patch(upserted.json().uri, { firstName: 'Direct' });
    assert.equal(response.json().changeOrigin, 'api');
    assert.equal(response.json().changeType, 'updated');
  });
});
