import type { Example } from '../http/schemas.js';
import type {
  ApiToken,
  CreatedApiToken,
  CreateOrganizationInput,
  CreateTokenInput,
  Organization,
  OrganizationSettings,
  OrganizationSettingsPatch,
  PatchOrganizationInput,
  RotateTokenInput,
} from './organization.schemas.js';

/**
 * The organizations, tokens and request bodies the OpenAPI document shows: one organization and one
 * token followed through the operator's operations, from answers this API gave. Typed, so a
 * representation field cannot be forgotten; a contract test validates every one against its schema.
 */

const NORDVIK_ID = '0b8e2f4c-6a1d-4e3b-9c57-2f1a8d6e4b90';
const HUBSPOT_TOKEN_ID = '5d3c9a7e-2b4f-4c61-8e0d-7a9b1c2e3f45';

export const nordvikSettings: OrganizationSettings = {
  defaultPhoneRegion: 'SE',
  duplicateContactMatching: { fields: ['email', 'phone'] },
  requireIfMatch: false,
};

/** Created by `POST /admin/organizations` with a Swedish phone region. */
export const nordvik: Organization = {
  id: NORDVIK_ID,
  name: 'Nordvik Fastigheter',
  settings: nordvikSettings,
  createdUtc: '2026-03-02T09:15:27.481Z',
  updatedUtc: '2026-03-02T09:15:27.481Z',
};

/** Renamed, and updates now need If-Match. */
export const nordvikRenamed: Organization = {
  ...nordvik,
  name: 'Nordvik Fastigheter AB',
  settings: { ...nordvikSettings, requireIfMatch: true },
  updatedUtc: '2026-04-14T13:02:51.907Z',
};

const bergstrom: Organization = {
  id: 'c41f7d2a-93e8-4b5c-a0d6-18e2f7b94c3d',
  name: 'Bergström & Co',
  settings: { defaultPhoneRegion: null, duplicateContactMatching: { fields: ['email'] }, requireIfMatch: false },
  createdUtc: '2026-05-20T07:41:09.230Z',
  updatedUtc: '2026-05-20T07:41:09.230Z',
};

/** The HubSpot sync's token as the token list shows it: never its secret. */
export const hubspotToken: ApiToken = {
  id: HUBSPOT_TOKEN_ID,
  name: 'HubSpot sync',
  scopes: ['contacts.read', 'contacts.write', 'companies.read', 'companies.write'],
  createdUtc: '2026-03-02T09:16:04.112Z',
  expiresUtc: '2027-03-01T00:00:00.000Z',
  origin: 'hubspot',
  rotatedUtc: null,
  previousSecretExpiresUtc: null,
  revokedUtc: null,
};

const { revokedUtc: _revoked, ...hubspotTokenWithoutRevocation } = hubspotToken;

export const hubspotTokenCreated: CreatedApiToken = {
  ...hubspotTokenWithoutRevocation,
  token: 'cst_q7VhX2mR9kLpT4wYc8NzB1dF6sJ0uAeGoKi3HbWn5Ex',
};

/** Rotated with a day of grace: the old secret works until previousSecretExpiresUtc. */
export const hubspotTokenRotated: CreatedApiToken = {
  ...hubspotTokenWithoutRevocation,
  rotatedUtc: '2026-09-01T08:00:00.000Z',
  previousSecretExpiresUtc: '2026-09-02T08:00:00.000Z',
  token: 'cst_Zp4Rk8Tn1Wq6Ys3Vb9Xm2Lc7Hf0Jd5Ga8Ue3Oi6Py1Q',
};

const revokedToken: ApiToken = {
  id: 'e2a94c61-7f3b-4d08-b5a9-3c6e1f8d2b74',
  name: 'Old import script',
  scopes: ['contacts.write'],
  createdUtc: '2026-03-05T15:30:12.004Z',
  expiresUtc: null,
  origin: null,
  rotatedUtc: null,
  previousSecretExpiresUtc: null,
  revokedUtc: '2026-06-30T10:00:00.000Z',
};

export const createOrganizationExamples: Record<string, Example> = {
  'with-phone-region': {
    summary: 'A Swedish organization',
    description: 'National phone numbers its integrations send are read as Swedish.',
    value: { name: 'Nordvik Fastigheter', settings: { defaultPhoneRegion: 'SE' } } satisfies CreateOrganizationInput,
  },
  'name-only': {
    summary: 'Default settings',
    value: { name: 'Bergström & Co' } satisfies CreateOrganizationInput,
  },
};

export const patchOrganizationExamples: Record<string, Example> = {
  'rename-and-require-if-match': {
    summary: 'Rename and require If-Match on updates',
    value: { name: 'Nordvik Fastigheter AB', settings: { requireIfMatch: true } } satisfies PatchOrganizationInput,
  },
};

export const settingsPatchExamples: Record<string, Example> = {
  'require-if-match': {
    summary: 'Require If-Match on updates',
    value: { requireIfMatch: true } satisfies OrganizationSettingsPatch,
  },
  'match-by-email-only': {
    summary: 'Match duplicates by email only',
    value: { duplicateContactMatching: { fields: ['email'] } } satisfies OrganizationSettingsPatch,
  },
};

export const createTokenExamples: Record<string, Example> = {
  'sync-integration': {
    summary: "A sync's token, its changes recorded as HubSpot's",
    value: {
      name: 'HubSpot sync',
      scopes: ['contacts.read', 'contacts.write', 'companies.read', 'companies.write'],
      expiresUtc: '2027-03-01T00:00:00Z',
      origin: 'hubspot',
    } satisfies CreateTokenInput,
  },
  defaults: {
    summary: 'The default scopes, no expiry',
    value: {} satisfies CreateTokenInput,
  },
};

export const rotateTokenExamples: Record<string, Example> = {
  'with-grace': {
    summary: 'Keep the old secret a day',
    description: 'Time to deploy the new secret everywhere before the old one stops.',
    value: { graceSeconds: 86_400 } satisfies RotateTokenInput,
  },
  immediate: {
    summary: 'Stop the old secret at once',
    description: 'For a leaked secret.',
    value: {} satisfies RotateTokenInput,
  },
};

export const organizationListExamples: Record<string, Example> = {
  'first-page': {
    summary: 'A page with more to come',
    value: {
      data: [bergstrom, nordvik],
      page: {
        nextCursor:
          'R8a6dmfqWSbj9KTgZJJ6uvOIyktcALVJjA2IIN3KD3E2fNe3DgUSWqUeMJGewbB4O3QuEBpYlhIFs32ojn4z8itzbt6eB0e7IGSFCp7nHje0X7eL-rot00pK4copm35_wqBrgS6a4UplHuTxUdbgDYWCwjbTzvfC4Gg_',
        hasMore: true,
        pageSize: 2,
      },
    },
  },
  'last-page': {
    summary: 'The last page, filtered by name',
    description: 'GET /admin/organizations?name=nordvik',
    value: { data: [nordvik], page: { nextCursor: null, hasMore: false, pageSize: 1 } },
  },
};

export const tokenListExamples: Record<string, Example> = {
  tokens: {
    summary: 'A live token and a revoked one',
    value: { data: [hubspotToken, revokedToken] },
  },
};
