/**
 * The one-statement write checks If-Match in SQL; its ETag must be exactly the one the API sends,
 * or every conditional write would quietly take the slower general path.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { CONTACT_ETAG_SQL } from '../../src/contacts/contact-upsert.sql.js';
import { createTestApp, request, type TestApp } from '../helpers/app.js';
import { newOrganization } from '../helpers/factories.js';

describe('the ETag computed in SQL', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  async function sqlEtag(contactId: string): Promise<string> {
    const result = await sql<{
      etag: string;
    }>`SELECT ${sql.raw(CONTACT_ETAG_SQL)} AS etag FROM contacts WHERE id = ${contactId}`.execute(t.database.db);
    return `W/${result.rows[0]?.etag}`;
  }

  it('equals the API ETag, with and without connected companies, before and after a company change', async () => {
    const org = await newOrganization(t.app);
    const company = async (name: string) =>
      (
        await request(t.app, {
          method: 'POST',
          url: '/api/v1/network/companies',
          headers: org.headers,
          payload: { name },
        })
      ).json().id as string;
    const [first, second] = [await company('First AB'), await company('Second AB')];

    const plain = await request(t.app, {
      method: 'POST',
      url: '/api/v1/network/contacts',
      headers: org.headers,
      payload: { firstName: 'Plain' },
    });
    assert.equal(await sqlEtag(plain.json().id), plain.headers.etag);

    const connected = await request(t.app, {
      method: 'POST',
      url: '/api/v1/network/contacts',
      headers: org.headers,
      payload: {
        firstName: 'Connected',
        connections: [
          { company: { kind: 'existing', id: second }, primary: true },
          { company: { kind: 'existing', id: first }, jobTitle: 'Advisor' },
        ],
      },
    });
    const id = connected.json().id as string;
    assert.equal(await sqlEtag(id), connected.headers.etag);

    await request(t.app, {
      method: 'PATCH',
      url: `/api/v1/network/companies/${first}`,
      headers: org.headers,
      payload: { name: 'First Renamed AB' },
    });
    await request(t.app, { method: 'DELETE', url: `/api/v1/network/companies/${second}`, headers: org.headers });
    const reread = await request(t.app, { method: 'GET', url: `/api/v1/network/contacts/${id}`, headers: org.headers });
    assert.notEqual(reread.headers.etag, connected.headers.etag);
    assert.equal(await sqlEtag(id), reread.headers.etag);
  });
});
