import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';
import { type Response, request } from './app.js';
import { newOrganization, type TestOrganization } from './factories.js';

export const CONTACTS = '/api/v1/network/contacts';
export const COMPANIES = '/api/v1/network/companies';

export const CONTACT_FIELDS = [
  'address1',
  'assignedTo',
  'blocked',
  'changeOrigin',
  'changeType',
  'city',
  'companies',
  'companyName',
  'country',
  'createdUtc',
  'customFields',
  'dateOfBirth',
  'deletedUtc',
  'dnd',
  'dndSettings',
  'email',
  'emails',
  'etag',
  'externalRefs',
  'firstName',
  'id',
  'lastName',
  'linkedInUrl',
  'name',
  'phone',
  'phones',
  'postalCode',
  'primaryCompanyId',
  'primaryLanguage',
  'profilePictureUrl',
  'source',
  'state',
  'strategy',
  'tags',
  'timezone',
  'updatedUtc',
  'uri',
  'website',
];

export const COMPANY_FIELDS = [
  'createdUtc',
  'deletedUtc',
  'etag',
  'externalRefs',
  'id',
  'name',
  'updatedUtc',
  'uri',
  'website',
];

/** The path of the upsert / lookup by external reference, both parts URL-encoded. */
export function refPath(namespace: string, id: string): string {
  return `${CONTACTS}/external/${encodeURIComponent(namespace)}/${encodeURIComponent(id)}`;
}

/** An organization's requests: JSON bodies, its token, and any extra headers. */
export function client(app: FastifyInstance, org: TestOrganization) {
  const send = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers = {}) =>
    request(app, {
      method,
      url,
      headers: {
        ...org.headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  return {
    get: (url: string, headers: Record<string, string> = {}) => send('GET', url, undefined, headers),
    post: (url: string, body: unknown, headers: Record<string, string> = {}) => send('POST', url, body, headers),
    patch: (url: string, body: unknown, headers: Record<string, string> = {}) => send('PATCH', url, body, headers),
    delete: (url: string, headers: Record<string, string> = {}) => send('DELETE', url, undefined, headers),
  };
}

export type Client = ReturnType<typeof client>;

function expectStatus(response: Response, status: number, what: string): void {
  if (response.statusCode !== status) {
    throw new Error(`${what}: expected ${status}, got ${response.statusCode}: ${response.body}`);
  }
}

/** Response bodies, read loosely and asserted on. */
export type Json = any;

/** A new organization whose token reads and writes contacts and manages its custom fields, with a client. */
export async function newProfileApi(
  app: FastifyInstance,
  settings?: Record<string, unknown>,
): Promise<{ org: TestOrganization; api: Client }> {
  const org = await newOrganization(app, {
    ...(settings === undefined ? {} : { settings }),
    scopes: ['contacts.read', 'contacts.write', 'settings.write'],
  });
  return { org, api: client(app, org) };
}

export async function newContact(api: Client, body: Record<string, unknown> = {}): Promise<Json> {
  const response = await api.post(CONTACTS, { firstName: 'Ada', ...body });
  expectStatus(response, 201, 'contact not created');
  return response.json();
}

export async function newCompany(api: Client, body: Record<string, unknown> = {}): Promise<Json> {
  const response = await api.post(COMPANIES, { name: 'Acme AB', ...body });
  expectStatus(response, 201, 'company not created');
  return response.json();
}

/**
 * Lists until `ready` holds of the first page, for up to ~2 s. A write answers once its event is
 * numbered, so the feed shows it at once; a test that writes behind the API's back (SQL, another
 * process) waits for the background pass that numbers it.
 */
export async function listUntil(
  api: Client,
  url: string,
  ready: (body: Json) => boolean,
  timeoutMs = 2_000,
): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await api.get(url);
    expectStatus(response, 200, `GET ${url}`);
    const body = response.json();
    if (ready(body) || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Follows nextCursor until hasMore is false; returns every page. */
export async function allPages(api: Client, firstUrl: string, base: string): Promise<Json[]> {
  const pages: Json[] = [];
  let url = firstUrl;
  for (let guard = 0; guard < 1_000; guard += 1) {
    const response = await api.get(url);
    expectStatus(response, 200, `GET ${url}`);
    const body = response.json();
    pages.push(body);
    if (!body.page.hasMore) return pages;
    const separator = base.includes('?') ? '&' : '?';
    url = `${base}${separator}cursor=${encodeURIComponent(body.page.nextCursor)}`;
  }
  throw new Error('too many pages');
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The documented contact representation: every field present, absent values null or []. */
export function assertContactShape(contact: Json, response?: Response): void {
  assert.deepEqual(Object.keys(contact).sort(), CONTACT_FIELDS);
  assert.equal(contact.uri, `${CONTACTS}/${contact.id}`);
  assert.match(contact.createdUtc, ISO_UTC);
  assert.match(contact.updatedUtc, ISO_UTC);
  if (contact.deletedUtc !== null) assert.match(contact.deletedUtc, ISO_UTC);
  for (const field of ['externalRefs', 'emails', 'phones', 'tags', 'companies']) {
    assert.ok(Array.isArray(contact[field]), `${field} is an array`);
  }
  assert.equal(contact.profilePictureUrl, null);
  assert.equal(typeof contact.blocked, 'boolean');
  assert.match(contact.etag, /^W\/".+"$/);
  if (response !== undefined) assert.equal(response.headers.etag, contact.etag);
}

/**
 * Sets records' updated_at behind the API's back (to make timestamps collide), with the copy the
 * change feed filters updated_since on (feed_positions, kept by the event sequencer).
 */
export async function stampUpdatedAt(
  db: Kysely<Database>,
  table: 'contacts' | 'companies',
  organizationId: string,
  stamp: Date,
  ids?: readonly string[],
): Promise<void> {
  let records = db.updateTable(table).set({ updated_at: stamp }).where('organization_id', '=', organizationId);
  let positions = db
    .updateTable('feed_positions')
    .set({ updated_at: stamp })
    .where('organization_id', '=', organizationId)
    .where('resource_type', '=', table === 'contacts' ? 'contact' : 'company');
  if (ids !== undefined) {
    records = records.where('id', 'in', [...ids]);
    positions = positions.where('resource_id', 'in', [...ids]);
  }
  await records.execute();
  await positions.execute();
}
