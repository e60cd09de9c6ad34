import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import {
  type Client,
  COMPANIES,
  CONTACTS,
  client,
  type Json,
  newCompany,
  newContact,
  refPath,
} from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('companyName on contact writes', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  async function fresh(): Promise<Client> {
    return client(t.app, await newOrganization(t.app));
  }

  async function companiesNamed(api: Client, name: string): Promise<Json[]> {
    const page = await api.get(`${COMPANIES}?limit=500`);
    assert.equal(page.statusCode, 200, page.body);
    return page.json().data.filter((company: Json) => company.name.toLowerCase() === name.toLowerCase());
  }

  it('creates the company when the organization has none of that name, and shows it as the primary company', async () => {
    const api = await fresh();
    const contact = await newContact(api, { companyName: '  Nordic Property Partners ' });
    const [company] = await companiesNamed(api, 'Nordic Property Partners');
    assert.ok(company, 'the company was created');
    assert.equal(company.name, 'Nordic Property Partners');
    assert.equal(contact.companyName, 'Nordic Property Partners');
    assert.equal(contact.primaryCompanyId, company.id);
    assert.deepEqual(
      contact.companies.map((linked: Json) => [linked.id, linked.isPrimary]),
      [[company.id, true]],
    );
  });

  it('connects to the live company of that name in any case instead of creating one', async () => {
    const api = await fresh();
    const company = await newCompany(api, { name: 'Acme AB' });
    const deleted = await newCompany(api, { name: 'Gone AB' });
    assert.equal((await api.delete(`${COMPANIES}/${deleted.id}`)).statusCode, 204);
    const contact = await newContact(api, { companyName: 'ACME ab' });
    assert.equal(contact.primaryCompanyId, company.id);
    assert.equal(contact.companyName, 'Acme AB', 'the company keeps its own spelling');
    assert.equal((await companiesNamed(api, 'acme ab')).length, 1);
    const revived = await newContact(api, { companyName: 'Gone AB' });
    assert.notEqual(revived.primaryCompanyId, deleted.id, 'a deleted company is not reused');
  });

  it('refuses companyName together with connections (400 naming companyName)', async () => {
    const api = await fresh();
    const company = await newCompany(api);
    const response = await api.post(CONTACTS, {
      firstName: 'Both',
      companyName: 'Acme AB',
      connections: [{ company: { kind: 'existing', id: company.id }, primary: true }],
    });
    assert.equal(response.statusCode, 400, response.body);
    assert.ok(Object.keys(response.json().errors).includes('companyName'), response.body);
    assert.equal((await companiesNamed(api, 'Acme AB')).length, 1, 'nothing was created');
  });

  it('makes the named company primary and keeps the other connections as secondary ones, with their job titles', async () => {
    const api = await fresh();
    const first = await newCompany(api, { name: 'First AB' });
    const second = await newCompany(api, { name: 'Second AB' });
    const contact = await newContact(api, {
      connections: [
        { company: { kind: 'existing', id: first.id }, primary: true, jobTitle: 'CEO' },
        { company: { kind: 'existing', id: second.id }, jobTitle: 'Advisor' },
      ],
    });
    const patched = await api.patch(`${CONTACTS}/${contact.id}`, { companyName: 'second ab' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(
      patched.json().companies.map((linked: Json) => [linked.name, linked.jobTitle, linked.isPrimary]),
      [
        ['Second AB', 'Advisor', true],
        ['First AB', 'CEO', false],
      ],
    );
    assert.equal(patched.json().companyName, 'Second AB');

    const same = await api.patch(`${CONTACTS}/${contact.id}`, { companyName: 'Second AB' });
    assert.equal(same.json().etag, patched.json().etag, 'naming the primary company again changes nothing');
    assert.equal(same.json().updatedUtc, patched.json().updatedUtc);

    const cleared = await api.patch(`${CONTACTS}/${contact.id}`, { companyName: null });
    assert.deepEqual(
      cleared.json().companies.map((linked: Json) => [linked.name, linked.isPrimary]),
      [['First AB', true]],
      'null drops the primary connection and the next one becomes primary',
    );
    const none = await api.patch(`${CONTACTS}/${contact.id}`, { companyName: '' });
    assert.equal(none.json().companyName, null);
    assert.deepEqual(none.json().companies, []);
  });

  it('shows the company by its current name after a rename', async () => {
    const api = await fresh();
    const contact = await newContact(api, { companyName: 'Old Name AB' });
    await api.patch(`${COMPANIES}/${contact.primaryCompanyId}`, { name: 'New Name AB' });
    const read = await api.get(`${CONTACTS}/${contact.id}`);
    assert.equal(read.json().companyName, 'New Name AB');
    assert.notEqual(read.json().etag, contact.etag);
  });

  it('creates one company when many writes name the same new company at once', async () => {
    const api = await fresh();
    const name = `Race ${randomUUID().slice(0, 8)} AB`;
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        index % 2 === 0
          ? api.post(CONTACTS, { firstName: `Racer ${index}`, companyName: name })
          : api.patch(refPath('hubspot', `race-${index}`), { firstName: `Racer ${index}`, companyName: name }),
      ),
    );
    for (const response of responses) assert.equal(response.statusCode, 201, response.body);
    const companies = await companiesNamed(api, name);
    assert.equal(companies.length, 1, 'one company of that name');
    assert.ok(responses.every((response) => response.json().primaryCompanyId === companies[0].id));
  });

  it('works on the email/phone upsert and in a batch', async () => {
    const api = await fresh();
    const upserted = await api.post(`${CONTACTS}/upsert`, {
      email: `${randomUUID()}@example.com`,
      companyName: 'Upsert AB',
    });
    assert.equal(upserted.statusCode, 201, upserted.body);
    assert.equal(upserted.json().contact.companyName, 'Upsert AB');
    const batch = await api.post(`${CONTACTS}/batch`, {
      items: [
        { externalRef: { namespace: 'crm', id: '1' }, data: { firstName: 'One', companyName: 'Batch AB' } },
        { externalRef: { namespace: 'crm', id: '2' }, data: { firstName: 'Two', companyName: 'batch ab' } },
      ],
    });
    assert.equal(batch.statusCode, 200, batch.body);
    const ids = await Promise.all(
      batch
        .json()
        .results.map(async (result: Json) => (await api.get(`${CONTACTS}/${result.id}`)).json().primaryCompanyId),
    );
    assert.equal(ids[0], ids[1]);
    assert.equal((await companiesNamed(api, 'Batch AB')).length, 1);
  });

  it('creates nothing in a validate-only run', async () => {
    const api = await fresh();
    const response = await api.patch(`${refPath('crm', 'dry')}?validate_only=true`, {
      firstName: 'Dry',
      companyName: 'Dry Run AB',
    });
    assert.ok([200, 201].includes(response.statusCode), response.body);
    assert.equal((await companiesNamed(api, 'Dry Run AB')).length, 0);
  });
});
