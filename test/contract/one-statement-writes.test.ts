/**
 * The common writes take the one-statement form (contact-upsert.sql.ts): one round trip, no
 * transaction. Every other test would still pass if that form were disabled or lost a part of its
 * answer, since the general path gives the same results more slowly; these tests are the ones that
 * notice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { CONTACTS, client, newContact, refPath } from '../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../helpers/factories.js';

describe('one-statement writes', () => {
  let test: TestApp;
  let org: TestOrganization;
  let api: ReturnType<typeof client>;
  let statements: string[] = [];

  before(async () => {
    test = await createTestApp({}, { pool: { onQuery: (text) => statements.push(text) } });
    org = await newOrganization(test.app);
    api = client(test.app, org);
  });
  after(() => test.close());

  /** The statements a request sent that touch contacts (authentication reads tokens, not contacts). */
  async function contactStatements(send: () => Promise<{ statusCode: number; body: string }>) {
    statements = [];
    const response = await send();
    const sent = statements.filter((text) => /\bcontacts\b/.test(text) || /^\s*(begin|commit|savepoint)/i.test(text));
    return { response, sent };
  }

  it('updates a contact by external reference in one statement', async () => {
    await api.patch(refPath('hubspot', 'one-1'), { firstName: 'One', email: 'one-1@example.com' });
    const { response, sent } = await contactStatements(() =>
      api.patch(refPath('hubspot', 'one-1'), { lastName: 'Statement' }),
    );
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(sent.length, 1, sent.join('\n---\n'));
  });

  it('creates a contact by a new external reference in one statement', async () => {
    const { response, sent } = await contactStatements(() =>
      api.patch(refPath('hubspot', 'one-new'), { firstName: 'Fresh' }),
    );
    assert.equal(response.statusCode, 201, response.body);
    assert.equal(sent.length, 1, sent.join('\n---\n'));
  });

  it('applies PATCH /contacts/{id} with If-Match in one statement', async () => {
    const contact = await newContact(api, { firstName: 'Patch' });
    const { response, sent } = await contactStatements(() =>
      api.patch(`${CONTACTS}/${contact.id}`, { lastName: 'Once' }, { 'if-match': contact.etag }),
    );
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(sent.length, 1, sent.join('\n---\n'));
  });

  it('updates the email/phone match in one statement and reports the other contact that matched', async () => {
    // The phone lookup picks the oldest contact with the phone, so the phone points at this one…
    const byPhoneToo = await newContact(api, { firstName: 'Phone', phone: '+46701234500' });
    // …while the email (first in priority) points at this one, which has the body's email and phone.
    const byEmail = await newContact(api, { firstName: 'Both', email: 'both@example.com', phone: '+46701234500' });
    const { response, sent } = await contactStatements(() =>
      api.post(`${CONTACTS}/upsert`, { email: 'both@example.com', phone: '+46701234500', lastName: 'Matched' }),
    );
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(sent.length, 1, sent.join('\n---\n'));
    const body = JSON.parse(response.body);
    assert.equal(body.contact.id, byEmail.id);
    assert.equal(body.contact.lastName, 'Matched');
    assert.equal(
      (response as unknown as { headers: Record<string, string> }).headers['x-upsert-ambiguous-contact'],
      byPhoneToo.id,
    );
  });
});
