import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ADMIN_TOKEN } from './app.js';

export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface TestOrganization {
  id: string;
  token: string;
  headers: { authorization: string };
}

/** A fresh organization with one token, so every test owns its data. */
export async function newOrganization(
  app: FastifyInstance,
  options: { settings?: Record<string, unknown>; scopes?: string[] } = {},
): Promise<TestOrganization> {
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/admin/organizations',
    headers: adminHeaders,
    payload: { name: `Org ${randomUUID().slice(0, 8)}`, ...(options.settings ? { settings: options.settings } : {}) },
  });
  if (created.statusCode !== 201) throw new Error(`organization not created: ${created.body}`);
  const id = created.json().id as string;
  const token = await newToken(app, id, options.scopes);
  return { id, token, headers: { authorization: `Bearer ${token}` } };
}

export async function newToken(app: FastifyInstance, organizationId: string, scopes?: string[]): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: `/api/v1/admin/organizations/${organizationId}/tokens`,
    headers: adminHeaders,
    payload: scopes ? { scopes } : {},
  });
  if (response.statusCode !== 201) throw new Error(`token not created: ${response.body}`);
  return response.json().token as string;
}
