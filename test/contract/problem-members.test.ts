import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openApiDocument } from '../../src/http/openapi-document.js';
import { createTestApp, type Response, type TestApp } from '../helpers/app.js';
import { type Client, COMPANIES, CONTACTS, client, newContact } from '../helpers/contacts.js';
import { newOrganization } from '../helpers/factories.js';
import { documentValidator, type OpenApiDocument } from './openapi-validator.js';

const STANDARD_MEMBERS = ['type', 'title', 'status', 'detail', 'instance', 'traceId'];
const EVENTS = '/api/v1/network/events';
const WEBHOOKS = '/api/v1/webhooks';
const CONTACT_FIELDS = '/api/v1/network/contact-fields';

/**
 * The Problem schema of the document and the problems the API sends, side by side: every problem
 * validates against the schema, every member it carries is one the schema declares, and every
 * member the schema declares is one some problem carries.
 */
describe('problem bodies as the document types them', () => {
  let t: TestApp;
  let document: OpenApiDocument;
  let validate: ReturnType<typeof documentValidator>;
  const seen = new Set<string>();

  before(async () => {
    t = await createTestApp();
    document = JSON.parse(JSON.stringify(await openApiDocument()));
    validate = documentValidator(document);
  });
  after(async () => t.close());

  async function fresh(scopes?: string[]): Promise<Client> {
    return client(t.app, await newOrganization(t.app, scopes === undefined ? {} : { scopes }));
  }

  function checkProblem(response: Response, status: number, code: string): Record<string, unknown> {
    assert.equal(response.statusCode, status, response.body);
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    const body = response.json();
    assert.equal(body.type, `/problems/${code}`);
    assert.deepEqual(validate('#/components/schemas/Problem', body), null, response.body);
    const declared = Object.keys(document.components.schemas.Problem.properties);
    assert.deepEqual(
      Object.keys(body).filter((member) => !declared.includes(member)),
      [],
      'every member is declared',
    );
    for (const member of Object.keys(body)) seen.add(member);
    return body;
  }

  it('validation-failed names the fields in `errors`', async () => {
    const api = await fresh();
    const body = checkProblem(await api.post(CONTACTS, { email: 'not-an-email' }), 400, 'validation-failed');
    assert.deepEqual(body.errors, { email: ['must be a valid email address'] });
  });

  it('validation-failed says `errorsTruncated` when more fields fail than `errors` lists', async () => {
    const api = await fresh();
    const tags = Array.from({ length: 100 }, () => '');
    const body = checkProblem(await api.post(CONTACTS, { email: 'not-an-email', tags }), 400, 'validation-failed');
    assert.equal(body.errorsTruncated, true);
  });

  it('invalid-cursor names the cursor in `errors`', async () => {
    const api = await fresh();
    const body = checkProblem(await api.get(`${CONTACTS}?cursor=bm90LWEtY3Vyc29y`), 400, 'invalid-cursor');
    assert.ok(Array.isArray((body.errors as Record<string, unknown>).cursor));
  });

  it('location-mismatch names locationId in `errors`', async () => {
    const api = await fresh();
    const response = await api.post(`${CONTACTS}/upsert`, { email: 'ann@example.com', locationId: 'elsewhere' });
    const body = checkProblem(response, 422, 'location-mismatch');
    assert.ok(Array.isArray((body.errors as Record<string, unknown>).locationId));
  });

  it('conflict on a contact names the field and the contact holding it', async () => {
    const api = await fresh();
    const first = await newContact(api, { email: 'taken@example.com' });
    const body = checkProblem(await api.post(CONTACTS, { email: 'taken@example.com' }), 409, 'conflict');
    assert.equal(body.conflictField, 'email');
    assert.equal(body.conflictingContactId, first.id);
  });

  it('conflict on a company names the reference and the company holding it', async () => {
    const api = await fresh();
    const externalRefs = [{ namespace: 'hubspot', id: '9001' }];
    const first = (await api.post(COMPANIES, { name: 'First', externalRefs })).json();
    const body = checkProblem(await api.post(COMPANIES, { name: 'Second', externalRefs }), 409, 'conflict');
    assert.equal(body.conflictField, 'externalRefs[0]');
    assert.equal(body.conflictingCompanyId, first.id);
  });

  it('precondition-failed carries the current ETag', async () => {
    const api = await fresh();
    const contact = await newContact(api);
    const changed = await api.patch(contact.uri, { lastName: 'Lovelace' });
    const stale = await api.patch(contact.uri, { lastName: 'Byron' }, { 'if-match': contact.etag });
    const body = checkProblem(stale, 412, 'precondition-failed');
    assert.equal(body.currentEtag, changed.json().etag);
  });

  it('insufficient-scope names the scope needed', async () => {
    const api = await fresh(['contacts.read']);
    const body = checkProblem(await api.post(CONTACTS, { firstName: 'Ada' }), 403, 'insufficient-scope');
    assert.equal(body.requiredScope, 'contacts.write');
  });

  it('events-expired says where to resume', async () => {
    const org = await newOrganization(t.app);
    const api = client(t.app, org);
    await newContact(api, { firstName: 'Old' });
    const recent = await newContact(api, { firstName: 'Recent' });
    await sql`
      UPDATE events SET occurred_at = now() - interval '400 days'
      WHERE organization_id = ${org.id} AND resource_id <> ${recent.id}
    `.execute(t.database.db);
    assert.ok((await t.app.eventLog.prune()) >= 1);
    const body = checkProblem(await api.get(`${EVENTS}?after=0`), 410, 'events-expired');
    assert.equal(typeof body.resumeAfter, 'number');
  });

  it('webhook-limit-reached says how many webhooks an organization may have', async () => {
    const api = await fresh(['webhooks.read', 'webhooks.write']);
    const create = (index: number) =>
      api.post(WEBHOOKS, { url: `http://127.0.0.1:9/hook-${index}`, events: ['contact.*'] });
    let refused: Response | undefined;
    for (let index = 0; index < 100 && refused === undefined; index += 1) {
      const response = await create(index);
      if (response.statusCode !== 201) refused = response;
    }
    assert.ok(refused, 'the organization reached its limit');
    const body = checkProblem(refused, 409, 'webhook-limit-reached');
    assert.equal(body.limit, (await api.get(WEBHOOKS)).json().data.length);
  });

  it('contact-field-limit-reached says how many custom fields an organization may have', async () => {
    const org = await newOrganization(t.app, { scopes: ['settings.write'] });
    const api = client(t.app, org);
    await sql`
      INSERT INTO contact_field_definitions (organization_id, key, label, type)
      SELECT ${org.id}::uuid, 'field_' || n, 'Field ' || n, 'text' FROM generate_series(1, 200) AS n
    `.execute(t.database.db);
    const response = await api.post(CONTACT_FIELDS, { key: 'one_more', label: 'One more', type: 'text' });
    const body = checkProblem(response, 409, 'contact-field-limit-reached');
    assert.equal(body.limit, (await api.get(CONTACT_FIELDS)).json().data.length);
  });

  it('contact-field-in-use names options when the change removes an option contacts hold', async () => {
    const org = await newOrganization(t.app, { scopes: ['contacts.write', 'settings.write'] });
    const api = client(t.app, org);
    const options = [
      { value: 'gold', label: 'Gold' },
      { value: 'silver', label: 'Silver' },
    ];
    const created = await api.post(CONTACT_FIELDS, { key: 'tier', label: 'Tier', type: 'single_select', options });
    assert.equal(created.statusCode, 201, created.body);
    const contact = await newContact(api);
    const held = await api.patch(contact.uri, { customFields: { tier: 'gold' } });
    assert.equal(held.statusCode, 200, held.body);
    const removal = await api.patch(`${CONTACT_FIELDS}/tier`, { options: options.slice(1) });
    const body = checkProblem(removal, 409, 'contact-field-in-use');
    assert.ok(Array.isArray((body.errors as Record<string, unknown>).options));
    checkProblem(await api.delete(`${CONTACT_FIELDS}/tier`), 409, 'contact-field-in-use');
  });

  it('declares no member that no problem carries (run after the tests above)', () => {
    const declared = Object.keys(document.components.schemas.Problem.properties);
    assert.deepEqual(
      declared.filter((member) => !seen.has(member)),
      [],
      `seen: ${[...seen].join(', ')}; the standard members are ${STANDARD_MEMBERS.join(', ')}`,
    );
  });
});
