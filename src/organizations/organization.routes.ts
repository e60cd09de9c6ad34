import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import { useAdminAuth } from '../http/auth.js';
import type { AuthCache } from '../http/auth-cache.js';
import { IDEMPOTENCY_PROBLEMS, IdempotencyHeaders, requestDb } from '../http/idempotency.js';
import { problemResponses } from '../http/schemas.js';
import {
  CreateOrganizationBody,
  CreateTokenBody,
  OrganizationParams,
  PatchOrganizationBody,
  TokenParams,
} from './organization.schemas.js';
import * as service from './organization.service.js';

const tags = ['Admin'];
const security = [{ adminToken: [] }];
const authProblems = ['unauthorized', 'rate-limited'] as const;

/** Operator API for tenants and their tokens, mounted at /api/v1/admin only when ADMIN_TOKEN is set. */
export const adminRoutes: FastifyPluginAsyncTypebox<{
  db: Db;
  adminToken: string;
  authCache: AuthCache | null;
}> = async (app, { db, adminToken, authCache }) => {
  useAdminAuth(app, adminToken);

  app.post(
    '/organizations',
    {
      schema: {
        operationId: 'organizations.create',
        summary: 'Create an organization',
        tags,
        security,
        headers: IdempotencyHeaders,
        body: CreateOrganizationBody,
        response: {
          201: Type.Ref('Organization'),
          ...problemResponses(
            ...authProblems,
            'validation-failed',
            'malformed-request',
            'unsupported-media-type',
            ...IDEMPOTENCY_PROBLEMS,
          ),
        },
      },
    },
    async (request, reply) => {
      const organization = await service.createOrganization(requestDb(request, db), request.body);
      return reply.code(201).header('location', `/api/v1/admin/organizations/${organization.id}`).send(organization);
    },
  );

  app.get(
    '/organizations/:orgId',
    {
      schema: {
        operationId: 'organizations.get',
        summary: 'Read an organization',
        tags,
        security,
        params: OrganizationParams,
        response: {
          200: Type.Ref('Organization'),
          ...problemResponses(...authProblems, 'validation-failed', 'not-found'),
        },
      },
    },
    async (request) => service.getOrganization(db, request.params.orgId),
  );

  app.patch(
    '/organizations/:orgId',
    {
      schema: {
        operationId: 'organizations.update',
        summary: 'Rename an organization or change its settings',
        description: 'Only the settings present change; the others keep their value.',
        tags,
        security,
        params: OrganizationParams,
        body: PatchOrganizationBody,
        response: {
          200: Type.Ref('Organization'),
          ...problemResponses(
            ...authProblems,
            'validation-failed',
            'malformed-request',
            'not-found',
            'unsupported-media-type',
            ...IDEMPOTENCY_PROBLEMS,
          ),
        },
      },
    },
    async (request) => {
      const organization = await service.updateOrganization(db, request.params.orgId, request.body);
      // Other processes learn of it through the database; this one forgets at once.
      authCache?.invalidate(request.params.orgId);
      return organization;
    },
  );

  app.post(
    '/organizations/:orgId/tokens',
    {
      schema: {
        operationId: 'tokens.create',
        summary: 'Create an API token',
        description: 'The secret is in this response only; it is stored as a hash.',
        tags,
        security,
        params: OrganizationParams,
        headers: IdempotencyHeaders,
        body: CreateTokenBody,
        response: {
          201: Type.Ref('CreatedApiToken'),
          ...problemResponses(
            ...authProblems,
            'validation-failed',
            'malformed-request',
            'not-found',
            'unsupported-media-type',
          ),
        },
      },
    },
    async (request, reply) => {
      const token = await service.createApiToken(requestDb(request, db), request.params.orgId, request.body);
      return reply.code(201).send(token);
    },
  );

  app.get(
    '/organizations/:orgId/tokens',
    {
      schema: {
        operationId: 'tokens.list',
        summary: "List an organization's API tokens (without secrets)",
        tags,
        security,
        params: OrganizationParams,
        response: {
          200: Type.Ref('ApiTokenList'),
          ...problemResponses(...authProblems, 'validation-failed', 'not-found'),
        },
      },
    },
    async (request) => ({ data: await service.listApiTokens(db, request.params.orgId) }),
  );

  app.delete(
    '/organizations/:orgId/tokens/:tokenId',
    {
      schema: {
        operationId: 'tokens.revoke',
        summary: 'Revoke an API token',
        description: 'Takes effect on the next request. Revoking a revoked token is a no-op.',
        tags,
        security,
        params: TokenParams,
        response: {
          204: Type.Null({ description: 'Revoked.' }),
          ...problemResponses(...authProblems, 'validation-failed', 'not-found'),
        },
      },
    },
    async (request, reply) => {
      await service.revokeApiToken(db, request.params.orgId, request.params.tokenId);
      authCache?.invalidate(request.params.orgId);
      return reply.code(204).send(null);
    },
  );
};
