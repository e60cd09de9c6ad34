import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { client, newCompany, newContact } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('companies as contacts show them', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async () => client(t.app, await newOrganization(t.app));

  it("shows the company's current name and gives the contact a new ETag when it is renamed", async () => {
    const api = await newApi();
    const company = await newCompany(api, { name: 'Old Name' });
    const contact = await newContact(api, {
      connections: [{ company: { kind: 'existing', id: company.id }, jobTitle: 'CEO', primary: true }],
    });
    assert.equal(contact.companies[0].name, 'Old Name');
    assert.equal((await api.patch(company.uri, { name: 'New Name' })).statusCode, 200);
    const read = await api.get(contact.uri);
    assert.deepEqual(read.json().companies, [
      { id: company.id, uri: company.uri, name: 'New Name', jobTitle: 'CEO', isPrimary: true },
    ]);
    assert.notEqual(read.json().etag, contact.etag);
    assert.equal(read.headers.etag, read.json().etag);
    // The contact's own data did not change.
    assert.equal(read.json().updatedUtc, contact.updatedUtc);
    const stale = await api.patch(contact.uri, { firstName: 'X' }, { 'if-match': contact.etag });
    assert.equal(stale.statusCode, 412);
    assert.equal((await api.get(contact.uri, { 'if-none-match': contact.etag })).statusCode, 200);
  });

  it("drops a deleted company from contacts' companies and primaryCompanyId", async () => {
    const api = await newApi();
    const kept = await newCompany(api, { name: 'Kept' });
    const gone = await newCompany(api, { name: 'Gone' });
    const contact = await newContact(api, {
      connections: [
        { company: { kind: 'existing', id: gone.id }, primary: true },
        { company: { kind: 'existing', id: kept.id }, primary: false },
      ],
    });
    assert.equal(contact.primaryCompanyId, gone.id);
    assert.equal((await api.delete(gone.uri)).statusCode, 204);
    const read = (await api.get(contact.uri)).json();
    assert.deepEqual(
      read.companies.map((company: { id: string }) => company.id),
      [kept.id],
    );
    assert.equal(read.primaryCompanyId, null);
    assert.notEqual(read.etag, contact.etag);
  });
});
