import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type Contact, ProblemError } from '../../client/src/index.js';
import { clientForNewOrganization, type ListeningApp, listeningApp } from './server.js';

/** The ProblemError a call fails with; fails the test when it resolves or throws anything else. */
async function problemOf(call: Promise<unknown>): Promise<ProblemError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ProblemError, `expected a ProblemError, got ${String(error)}`);
    return error;
  }
  assert.fail('the call resolved');
}

describe('the typed client against the real server', () => {
  let server: ListeningApp;
  before(async () => {
    server = await listeningApp();
  });
  after(() => server.close());

  it('upserts by external reference and reads the contact back, with the ETag and upsert headers', async () => {
    const { client } = await clientForNewOrganization(server);
    const email = `jane-${randomUUID()}@example.com`;
    const created = await client.PATCH('/api/v1/network/contacts/external/{namespace}/{id}', {
      params: { path: { namespace: 'hubspot', id: '12345' } },
      body: { firstName: 'Jane', lastName: 'Doe', email },
    });
    assert.equal(created.response.status, 201);
    assert.equal(created.response.headers.get('x-propstreet-upsert-action'), 'created');
    const contact: Contact = created.data;
    assert.equal(contact.email, email);
    assert.deepEqual(contact.externalRefs, [{ namespace: 'hubspot', id: '12345' }]);

    const again = await client.PATCH('/api/v1/network/contacts/external/{namespace}/{id}', {
      params: { path: { namespace: 'hubspot', id: '12345' } },
      body: { firstName: 'Jane' },
    });
    assert.equal(again.response.status, 200);
    assert.equal(again.data.id, contact.id);
    assert.equal(again.data.etag, contact.etag, 'nothing changed, so the ETag is the same');

    const read = await client.GET('/api/v1/network/contacts/{id}', { params: { path: { id: contact.id } } });
    assert.equal(read.response.headers.get('etag'), contact.etag);
    assert.equal(read.data.firstName, 'Jane');
    assert.equal(read.data.lastName, 'Doe');
  });

  it('throws a ProblemError 412 carrying currentEtag when If-Match is stale', async () => {
    const { client } = await clientForNewOrganization(server);
    const { data: contact } = await client.POST('/api/v1/network/contacts', {
      body: { firstName: 'Ann', email: `ann-${randomUUID()}@example.com` },
    });
    const updated = await client.PATCH('/api/v1/network/contacts/{id}', {
      params: { path: { id: contact.id }, header: { 'if-match': contact.etag } },
      body: { lastName: 'First' },
    });
    assert.notEqual(updated.data.etag, contact.etag);

    const error = await problemOf(
      client.PATCH('/api/v1/network/contacts/{id}', {
        params: { path: { id: contact.id }, header: { 'if-match': contact.etag } },
        body: { lastName: 'Second' },
      }),
    );
    assert.equal(error.status, 412);
    assert.equal(error.code, 'precondition-failed');
    assert.equal(error.type, '/problems/precondition-failed');
    assert.equal(error.problem.currentEtag, updated.data.etag);
    assert.match(error.response.headers.get('content-type') ?? '', /^application\/problem\+json/);

    const unchanged = await client.GET('/api/v1/network/contacts/{id}', { params: { path: { id: contact.id } } });
    assert.equal(unchanged.data.lastName, 'First');
  });

  it('throws a ProblemError 400 naming the invalid field', async () => {
    const { client } = await clientForNewOrganization(server);
    const error = await problemOf(client.POST('/api/v1/network/contacts', { body: { email: 'not an email' } }));
    assert.equal(error.status, 400);
    assert.equal(error.code, 'validation-failed');
    assert.match(JSON.stringify(error.problem.errors), /email/);
    assert.equal(error.problem.instance, '/api/v1/network/contacts');
    assert.ok(error.problem.traceId.length > 0);
  });

  it("answers another organization's contact with a ProblemError 404", async () => {
    const owner = await clientForNewOrganization(server);
    const stranger = await clientForNewOrganization(server);
    const { data: contact } = await owner.client.POST('/api/v1/network/contacts', { body: { firstName: 'Private' } });
    const error = await problemOf(
      stranger.client.GET('/api/v1/network/contacts/{id}', { params: { path: { id: contact.id } } }),
    );
    assert.equal(error.status, 404);
    assert.equal(error.code, 'not-found');
  });

  it('throws a 304 to If-None-Match as an about:blank ProblemError, like every answer outside 2xx', async () => {
    const { client } = await clientForNewOrganization(server);
    const { data: contact } = await client.POST('/api/v1/network/contacts', { body: { firstName: 'Cached' } });
    const error = await problemOf(
      client.GET('/api/v1/network/contacts/{id}', {
        params: { path: { id: contact.id }, header: { 'if-none-match': contact.etag } },
      }),
    );
    assert.equal(error.status, 304);
    assert.equal(error.type, 'about:blank');
    assert.equal(error.problem.instance, `/api/v1/network/contacts/${contact.id}`);
  });

  it('refuses a call without a valid token with a ProblemError 401', async () => {
    const { client } = await clientForNewOrganization(server, { token: 'cst_not-a-token' });
    const error = await problemOf(client.GET('/api/v1/network/contacts'));
    assert.equal(error.status, 401);
    assert.equal(error.code, 'unauthorized');
  });
});
