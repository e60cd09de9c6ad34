import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { lazyCursorSecret } from '../contacts/contact.service.js';
import type { Db } from '../db/database.js';
import { useAdminAuth } from '../http/auth.js';
import type { AuthCache } from '../http/auth-cache.js';
import { IDEMPOTENCY_PROBLEMS, IdempotencyHeaders, requestDb } from '../http/idempotency.js';
import { emptyResponse, jsonResponse, problemResponses } from '../http/schemas.js';
import {
  hubspotTokenCreated,
  hubspotTokenRotated,
  nordvik,
  nordvikRenamed,
  organizationListExamples,
  tokenListExamples,
} from './organization.examples.js';
import {
  CreateOrganizationBody,
  CreateTokenBody,
  OrganizationListQuery,
  OrganizationListSchema,
  OrganizationParams,
  PatchOrganizationBody,
  RotateTokenBody,
  TokenParams,
} from './organization.schemas.js';
import * as service from './organization.service.js';

const tags = ['Admin'];
const security = [{ adminToken: [] }];
const authProblems = ['unauthorized', 'rate-limited'] as const;
const bodyProblems = ['validation-failed', 'malformed-request', 'unsupported-media-type'] as const;

/** Operator API for tenants and their tokens, mounted at /api/v1/admin only when ADMIN_TOKEN is set. */
export const adminRoutes: FastifyPluginAsyncTypebox<{
  db: Db;
  adminToken: string;
  authCache: AuthCache | null;
}> = async (app, { db, adminToken, authCache }) => {
  useAdminAuth(app, adminToken);
  const cursorSecret = lazyCursorSecret(db);

  app.post(
    '/organizations',
    {
      schema: {
        operationId: 'organizations.create',
        summary: 'Create an organization',
        description:
          'Creates a tenant. Settings left out take their defaults (no phone region, duplicates matched by email then phone, If-Match optional). The organization has no token yet: create one next.',
        tags,
        security,
        headers: IdempotencyHeaders,
        body: CreateOrganizationBody,
        response: {
          201: jsonResponse(
            'Created; `Location` is its admin URL.',
            Type.Ref('Organization'),
            { created: { summary: 'A new organization', value: nordvik } },
            {
              Location: Type.String({
                description: 'The path of the new organization in the admin API.',
                examples: [`/api/v1/admin/organizations/${nordvik.id}`],
              }),
            },
          ),
          ...problemResponses(...authProblems, ...bodyProblems, ...IDEMPOTENCY_PROBLEMS),
        },
      },
    },
    async (request, reply) => {
      const organization = await service.createOrganization(requestDb(request, db), request.body);
      return reply.code(201).header('location', `/api/v1/admin/organizations/${organization.id}`).send(organization);
    },
  );

  app.get(
    '/organizations',
    {
      schema: {
        operationId: 'organizations.list',
        summary: 'List organizations',
        description:
          'Every organization in name order, ignoring case, paged by `nextCursor` (null on the last page). `name` keeps the organizations whose name starts with it, ignoring case; the cursor carries that filter to the next pages.',
        tags,
        security,
        querystring: OrganizationListQuery,
        response: {
          200: jsonResponse('A page of organizations.', OrganizationListSchema, organizationListExamples),
          ...problemResponses(...authProblems, 'validation-failed', 'invalid-cursor'),
        },
      },
    },
    async (request) => {
      const page = await service.listOrganizations(db, request.query, cursorSecret);
      return {
        data: page.organizations,
        page: { nextCursor: page.nextCursor, hasMore: page.hasMore, pageSize: page.organizations.length },
      };
    },
  );

  app.get(
    '/organizations/:orgId',
    {
      schema: {
        operationId: 'organizations.get',
        summary: 'Read an organization',
        description: 'The organization with its current settings.',
        tags,
        security,
        params: OrganizationParams,
        response: {
          200: jsonResponse('The organization.', Type.Ref('Organization'), {
            organization: { summary: 'An organization', value: nordvik },
          }),
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
        description:
          'Only the fields present change; settings left out keep their value. A patch that changes nothing leaves `updatedUtc` as it was.',
        tags,
        security,
        params: OrganizationParams,
        body: PatchOrganizationBody,
        response: {
          200: jsonResponse('The organization as changed.', Type.Ref('Organization'), {
            changed: { summary: 'Renamed, and If-Match now required', value: nordvikRenamed },
          }),
          ...problemResponses(...authProblems, ...bodyProblems, 'not-found'),
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
        description:
          'The secret (`cst_…`) is in this response only; the server keeps a hash of it. Without `scopes` the token may read and write contacts and companies, not settings or webhooks.',
        tags,
        security,
        params: OrganizationParams,
        headers: IdempotencyHeaders,
        body: CreateTokenBody,
        response: {
          201: jsonResponse('Created; `token` is the secret, shown this once.', Type.Ref('CreatedApiToken'), {
            created: { summary: "A sync's new token", value: hubspotTokenCreated },
          }),
          ...problemResponses(...authProblems, ...bodyProblems, 'not-found', ...IDEMPOTENCY_PROBLEMS),
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
        description: 'Every token of the organization in creation order, revoked ones included, never their secrets.',
        tags,
        security,
        params: OrganizationParams,
        response: {
          200: jsonResponse("The organization's tokens.", Type.Ref('ApiTokenList'), tokenListExamples),
          ...problemResponses(...authProblems, 'validation-failed', 'not-found'),
        },
      },
    },
    async (request) => ({ data: await service.listApiTokens(db, request.params.orgId) }),
  );

  app.post(
    '/organizations/:orgId/tokens/:tokenId/rotate',
    {
      schema: {
        operationId: 'tokens.rotate',
        summary: "Replace an API token's secret",
        description:
          'Gives the token a new secret, shown in this response only; its id, name, scopes, origin and expiry stay. The old secret keeps working for `graceSeconds` (default 0: it stops at once), time to deploy the new one. Only the secret replaced by the latest rotation has a grace period: rotating again ends an earlier one at once. A revoked or expired token cannot be rotated (404).',
        tags,
        security,
        params: TokenParams,
        headers: IdempotencyHeaders,
        body: RotateTokenBody,
        response: {
          200: jsonResponse(
            'Rotated; `token` is the new secret, shown this once, and `previousSecretExpiresUtc` says until when the old one works.',
            Type.Ref('CreatedApiToken'),
            { rotated: { summary: 'Rotated with a day of grace', value: hubspotTokenRotated } },
          ),
          ...problemResponses(...authProblems, ...bodyProblems, 'not-found', ...IDEMPOTENCY_PROBLEMS),
        },
      },
      // With an Idempotency-Key the rotation commits only as the answer is sent: forget the old
      // secret again then, so no lookup made in between keeps it cached (the notification would too, moments later).
      onResponse: async (request, reply) => {
        if (reply.statusCode === 200) authCache?.invalidate((request.params as { orgId: string }).orgId);
      },
    },
    async (request) => {
      const token = await service.rotateApiToken(
        requestDb(request, db),
        request.params.orgId,
        request.params.tokenId,
        request.body,
      );
      authCache?.invalidate(request.params.orgId);
      return token;
    },
  );

  app.delete(
    '/organizations/:orgId/tokens/:tokenId',
    {
      schema: {
        operationId: 'tokens.revoke',
        summary: 'Revoke an API token',
        description:
          'Takes effect on the next request, for the current secret and for one still in the grace period of a rotation. Revoking a revoked token is a no-op and keeps the first revocation time.',
        tags,
        security,
        params: TokenParams,
        response: {
          204: emptyResponse('Revoked.'),
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
