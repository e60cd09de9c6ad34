import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { type Client, CONTACTS, client, listUntil, newContact } from '../../helpers/contacts.js';
import { newOrganization, newToken } from '../../helpers/factories.js';

describe('DELETE /contacts/{id}', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async (settings?: Record<string, unknown>): Promise<Client> =>
    client(t.app, await newOrganization(t.app, settings ? { settings } : {}));

  it('soft-deletes: 204, then 404 on read, while the row stays with deletedUtc set', async () => {
    const api = await newApi();
    const created = await newContact(api, { email: 'gone@example.com' });
    const response = await api.delete(created.uri);
    assert.equal(response.statusCode, 204);
    assert.equal(response.body, '');
    assert.equal((await api.get(created.uri)).statusCode, 404);
    const row = await t.database.db
      .selectFrom('contacts')
      .select(['deleted_at', 'change_type', 'change_origin', 'email'])
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    assert.ok(row.deleted_at instanceof Date);
    assert.equal(row.change_type, 'deleted');
    assert.equal(row.change_origin, 'api');
    assert.equal(row.email, 'gone@example.com');
  });

  it('hides the contact from the list unless include_deleted=true', async () => {
    const api = await newApi();
    const kept = await newContact(api, { firstName: 'Kept' });
    const deleted = await newContact(api, { firstName: 'Deleted' });
    assert.equal((await api.delete(deleted.uri)).statusCode, 204);
    const withDeleted = await listUntil(api, `${CONTACTS}?include_deleted=true`, (body) => body.data.length === 2);
    const tombstone = withDeleted.data.find((contact: { id: string }) => contact.id === deleted.id);
    assert.ok(tombstone, JSON.stringify(withDeleted));
    assert.equal(tombstone.changeType, 'deleted');
    assert.equal(tombstone.changeOrigin, 'api');
    assert.match(tombstone.deletedUtc, /Z$/);
    assert.equal(tombstone.updatedUtc, tombstone.deletedUtc);
    const live = await api.get(CONTACTS);
    assert.deepEqual(
      live.json().data.map((contact: { id: string }) => contact.id),
      [kept.id],
    );
  });

  it('frees the primary email for other contacts', async () => {
    const api = await newApi();
    const first = await newContact(api, { email: 'reuse@example.com' });
    assert.equal((await api.post(CONTACTS, { email: 'reuse@example.com' })).statusCode, 409);
    assert.equal((await api.delete(first.uri)).statusCode, 204);
    const second = await api.post(CONTACTS, { email: 'REUSE@example.com' });
    assert.equal(second.statusCode, 201);
    const third = await newContact(api, { email: 'other@example.com' });
    const patched = await api.patch(third.uri, { email: 'reuse@example.com' });
    assert.equal(patched.statusCode, 409);
    assert.equal(patched.json().conflictingContactId, second.json().id);
  });

  it('answers 404 for an unknown contact and for a second delete', async () => {
    const api = await newApi();
    const missing = await api.delete(`${CONTACTS}/${randomUUID()}`);
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().type, '/problems/not-found');
    const created = await newContact(api);
    assert.equal((await api.delete(created.uri)).statusCode, 204);
    assert.equal((await api.delete(created.uri)).statusCode, 404);
  });

  it('answers 412 when If-Match is stale, and keeps the contact', async () => {
    const api = await newApi();
    const created = await newContact(api);
    assert.equal((await api.patch(created.uri, { firstName: 'Newer' })).statusCode, 200);
    const response = await api.delete(created.uri, { 'if-match': created.etag });
    assert.equal(response.statusCode, 412);
    assert.equal(response.json().type, '/problems/precondition-failed');
    assert.equal((await api.get(created.uri)).statusCode, 200);
  });

  it('deletes when If-Match holds the current ETag', async () => {
    const api = await newApi();
    const created = await newContact(api);
    const response = await api.delete(created.uri, { 'if-match': created.etag });
    assert.equal(response.statusCode, 204);
    assert.equal((await api.get(created.uri)).statusCode, 404);
  });

  it('answers 428 without If-Match when the organization requires it', async () => {
    const api = await newApi({ requireIfMatch: true });
    const created = await newContact(api);
    const response = await api.delete(created.uri);
    assert.equal(response.statusCode, 428);
    assert.equal((await api.get(created.uri)).statusCode, 200);
    assert.equal((await api.delete(created.uri, { 'if-match': created.etag })).statusCode, 204);
  });

  it('answers 403 to a token without contacts.write', async () => {
    const org = await newOrganization(t.app);
    const created = await newContact(client(t.app, org));
    const readOnly = await newToken(t.app, org.id, ['contacts.read']);
    const response = await t.app.inject({
      method: 'DELETE',
      url: created.uri,
      headers: { authorization: `Bearer ${readOnly}` },
    });
    assert.equal(response.statusCode, 403);
    assert.equal((await client(t.app, org).get(created.uri)).statusCode, 200);
  });
});
