import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type Response, type TestApp } from '../../helpers/app.js';
import { CONTACTS, client, listUntil, newContact, refPath } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('contacts: tenant isolation', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  /** The parts of a 404 that must not tell "another organization's" from "missing". */
  const shape = (response: Response, key: string) => ({
    status: response.statusCode,
    contentType: response.headers['content-type'],
    type: response.json().type,
    title: response.json().title,
    detail: String(response.json().detail).replace(key, '{key}'),
    keys: Object.keys(response.json()).sort(),
  });

  async function twoOrganizations() {
    const owner = client(t.app, await newOrganization(t.app));
    const intruder = client(t.app, await newOrganization(t.app));
    const theirs = await newContact(owner, {
      email: 'theirs@example.com',
      externalRefs: [{ namespace: 'crm', id: 'theirs' }],
    });
    return { owner, intruder, theirs };
  }

  it("answers another organization's contact exactly like a missing one on every id route", async () => {
    const { owner, intruder, theirs } = await twoOrganizations();
    const missingId = randomUUID();
    const operations = [
      (id: string) => intruder.get(`${CONTACTS}/${id}`),
      (id: string) => intruder.get(`${CONTACTS}/${id}`, { 'if-none-match': theirs.etag }),
      (id: string) => intruder.patch(`${CONTACTS}/${id}`, { firstName: 'Stolen' }),
      (id: string) => intruder.patch(`${CONTACTS}/${id}`, { firstName: 'Stolen' }, { 'if-match': theirs.etag }),
      (id: string) => intruder.delete(`${CONTACTS}/${id}`),
      (id: string) => intruder.delete(`${CONTACTS}/${id}`, { 'if-match': theirs.etag }),
    ];
    for (const operation of operations) {
      const foreign = await operation(theirs.id);
      const missing = await operation(missingId);
      assert.equal(foreign.statusCode, 404);
      assert.deepEqual(shape(foreign, theirs.id), shape(missing, missingId));
    }
    assert.deepEqual((await owner.get(theirs.uri)).json(), theirs);
  });

  it("answers another organization's external reference exactly like a missing one", async () => {
    const { owner, intruder, theirs } = await twoOrganizations();
    const read = [await intruder.get(refPath('crm', 'theirs')), await intruder.get(refPath('crm', 'nobody'))];
    assert.equal(read[0]?.statusCode, 404);
    assert.deepEqual(shape(read[0] as Response, 'theirs'), shape(read[1] as Response, 'nobody'));
    const updateOnly = [
      await intruder.patch(`${refPath('crm', 'theirs')}?update_only=true`, { firstName: 'Stolen' }),
      await intruder.patch(`${refPath('crm', 'nobody')}?update_only=true`, { firstName: 'Stolen' }),
    ];
    assert.equal(updateOnly[0]?.statusCode, 404);
    assert.deepEqual(shape(updateOnly[0] as Response, 'theirs'), shape(updateOnly[1] as Response, 'nobody'));
    assert.deepEqual((await owner.get(theirs.uri)).json(), theirs);
  });

  it('creates a separate contact when upserting a reference or email of another organization', async () => {
    const { owner, intruder, theirs } = await twoOrganizations();
    const upsert = await intruder.patch(`${refPath('crm', 'theirs')}?match=email`, {
      firstName: 'Mine',
      email: 'theirs@example.com',
    });
    assert.equal(upsert.statusCode, 201);
    assert.equal(upsert.headers['x-propstreet-upsert-action'], 'created');
    assert.equal(upsert.headers['x-upsert-matched-by'], 'none');
    assert.notEqual(upsert.json().id, theirs.id);
    const third = client(t.app, await newOrganization(t.app));
    const created = await third.post(CONTACTS, {
      email: 'THEIRS@example.com',
      externalRefs: [{ namespace: 'crm', id: 'theirs' }],
    });
    assert.equal(created.statusCode, 201);
    assert.deepEqual((await owner.get(theirs.uri)).json(), theirs);
    assert.equal((await owner.get(refPath('crm', 'theirs'))).json().id, theirs.id);
  });

  it("lists only the organization's own contacts", async () => {
    const { owner, intruder, theirs } = await twoOrganizations();
    const mine = await newContact(intruder, { firstName: 'Mine' });
    const listed = await listUntil(intruder, `${CONTACTS}?include_deleted=true`, (body) => body.data.length >= 1);
    assert.deepEqual(
      listed.data.map((contact: { id: string }) => contact.id),
      [mine.id],
    );
    const ownerList = await listUntil(owner, CONTACTS, (body) => body.data.length >= 1);
    assert.deepEqual(
      ownerList.data.map((contact: { id: string }) => contact.id),
      [theirs.id],
    );
  });
});
