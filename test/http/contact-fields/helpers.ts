import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../../src/db/schema.js';
import type { Response } from '../../helpers/app.js';
import { type Client, client, type Json } from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

export const CONTACT_FIELDS = '/api/v1/network/contact-fields';

export const FIELD_REPRESENTATION = ['archived', 'createdUtc', 'etag', 'key', 'label', 'options', 'type', 'updatedUtc'];

/** What a settings administrator's integration holds: contacts, and the settings that shape them. */
export const FIELD_SCOPES = ['contacts.read', 'contacts.write', 'settings.write'];

export const TIER_OPTIONS = [
  { value: 'gold', label: 'Gold' },
  { value: 'silver', label: 'Silver' },
  { value: 'bronze', label: 'Bronze' },
];

/** Fields the search tests define, one by one or all together as SEARCHABLE_FIELDS. */
export const NOTES_FIELD = { key: 'notes', label: 'Notes', type: 'text' };
export const SCORE_FIELD = { key: 'score', label: 'Score', type: 'number' };
export const ACTIVE_FIELD = { key: 'active', label: 'Active', type: 'boolean' };
export const TIER_FIELD = { key: 'tier', label: 'Tier', type: 'single_select', options: TIER_OPTIONS };
export const INTERESTS_FIELD = {
  key: 'interests',
  label: 'Interests',
  type: 'multi_select',
  options: [
    { value: 'golf', label: 'Golf' },
    { value: 'sailing', label: 'Sailing' },
    { value: 'chess', label: 'Chess' },
  ],
};

/** One searchable field of each kind the terms spell differently (`c:<key>=<value as text>`). */
export const SEARCHABLE_FIELDS = [NOTES_FIELD, SCORE_FIELD, ACTIVE_FIELD, TIER_FIELD, INTERESTS_FIELD];

export async function fieldsOrganization(
  app: FastifyInstance,
  options: { scopes?: string[]; settings?: Record<string, unknown> } = {},
): Promise<{ org: TestOrganization; api: Client }> {
  const org = await newOrganization(app, { scopes: options.scopes ?? FIELD_SCOPES, ...options });
  return { org, api: client(app, org) };
}

export function fieldPath(key: string): string {
  return `${CONTACT_FIELDS}/${key}`;
}

export async function createField(api: Client, body: Record<string, unknown>): Promise<Json> {
  const response = await api.post(CONTACT_FIELDS, body);
  assert.equal(response.statusCode, 201, response.body);
  return response.json();
}

/** Creates each definition through the API, one after another, in the order given. */
export async function createFields(api: Client, definitions: readonly Record<string, unknown>[]): Promise<void> {
  for (const definition of definitions) await createField(api, definition);
}

/** A 400 whose `errors` names `field`. */
export function assertNamesField(response: Response, field: string, context = ''): void {
  assert.equal(response.statusCode, 400, `${context} ${response.body}`);
  assert.equal(response.json().type, '/problems/validation-failed', response.body);
  assert.ok(Object.hasOwn(response.json().errors, field), `${context} ${field} not named in ${response.body}`);
}

/** `count` text fields keyed field_0, field_1, … written straight to the table, to reach the limit fast. */
export async function insertDefinitions(db: Kysely<Database>, organizationId: string, count: number): Promise<void> {
  await sql`
    INSERT INTO contact_field_definitions (organization_id, key, label, type)
    SELECT ${organizationId}::uuid, 'field_' || n, 'Field ' || n, 'text' FROM generate_series(0, ${count - 1}) AS n
  `.execute(db);
}

/**
 * Puts values on a contact behind the API's back, as a contact write stores them (a new version,
 * so the change is recorded as an event): these tests are about what definitions do once contacts
 * hold values, including states the API would not store (a JSON null under a key), and one of
 * them writes inside a transaction it controls.
 */
export async function setCustomFields(
  db: Kysely<Database>,
  organizationId: string,
  contactId: string,
  values: Record<string, unknown>,
): Promise<void> {
  const result = await sql`
    UPDATE contacts SET custom_fields = ${JSON.stringify(values)}::jsonb, version = version + 1
    WHERE organization_id = ${organizationId} AND id = ${contactId}
  `.execute(db);
  assert.equal(Number(result.numAffectedRows), 1);
}
