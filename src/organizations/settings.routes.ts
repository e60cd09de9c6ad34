import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import { type AuthContext, type OrganizationAuthOptions, useOrganizationAuth } from '../http/auth.js';
import type { AuthCache } from '../http/auth-cache.js';
import { problemResponses } from '../http/schemas.js';
import { OrganizationSettingsPatchSchema } from './organization.schemas.js';
import * as service from './organization.service.js';

const tags = ['Organization'];
const security = [{ bearerAuth: [] }];

/** The token's own organization: read its settings with any token, change them with `settings.write`. */
export const settingsRoutes: FastifyPluginAsyncTypebox<{
  db: Db;
  authCache: AuthCache | null;
  organizationAuth: OrganizationAuthOptions;
}> = async (app, { db, authCache, organizationAuth }) => {
  useOrganizationAuth(app, organizationAuth);

  app.get(
    '/settings',
    {
      schema: {
        operationId: 'organization.getSettings',
        summary: "Read your organization's settings",
        tags,
        security,
        response: { 200: Type.Ref('OrganizationSettings'), ...problemResponses('unauthorized', 'rate-limited') },
      },
    },
    async (request) => (await service.getOrganization(db, (request.auth as AuthContext).organizationId)).settings,
  );

  app.patch(
    '/settings',
    {
      config: { scope: 'settings.write' },
      schema: {
        operationId: 'organization.updateSettings',
        summary: "Change your organization's settings",
        description: 'Needs the `settings.write` scope. Only the settings present change.',
        tags,
        security,
        body: OrganizationSettingsPatchSchema,
        response: {
          200: Type.Ref('OrganizationSettings'),
          ...problemResponses(
            'unauthorized',
            'insufficient-scope',
            'rate-limited',
            'validation-failed',
            'malformed-request',
            'unsupported-media-type',
          ),
        },
      },
    },
    async (request) => {
      const { organizationId } = request.auth as AuthContext;
      const settings = await service.updateSettings(db, organizationId, request.body);
      authCache?.invalidate(organizationId);
      return settings;
    },
  );
};
