import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import { type AuthContext, type OrganizationAuthOptions, useOrganizationAuth } from '../http/auth.js';
import type { AuthCache } from '../http/auth-cache.js';
import { jsonResponse, problemResponses } from '../http/schemas.js';
import { nordvikRenamed, nordvikSettings } from './organization.examples.js';
import { SettingsPatchBody } from './organization.schemas.js';
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
        description:
          'The settings that shape how this API treats your data: the region national phone numbers are read in, which fields the email/phone upsert matches duplicates on, and whether updates must send If-Match. Any token of the organization may read them.',
        tags,
        security,
        response: {
          200: jsonResponse("Your organization's settings.", Type.Ref('OrganizationSettings'), {
            settings: { summary: 'Swedish phone numbers, If-Match optional', value: nordvikSettings },
          }),
          ...problemResponses('unauthorized', 'rate-limited'),
        },
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
        description:
          'Needs the `settings.write` scope. Only the settings present change; the others keep their value. A new phone region re-reads the stored phone numbers of every contact for matching.',
        tags,
        security,
        body: SettingsPatchBody,
        response: {
          200: jsonResponse('The settings as changed.', Type.Ref('OrganizationSettings'), {
            changed: { summary: 'If-Match now required', value: nordvikRenamed.settings },
          }),
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
