import { type Static, Type } from 'typebox';
import { Nullable, SystemName, Timestamp, Uuid } from '../http/schemas.js';

export const SCOPES = [
  'contacts.read',
  'contacts.write',
  'companies.read',
  'companies.write',
  'settings.write',
  'webhooks.read',
  'webhooks.write',
] as const;
export type Scope = (typeof SCOPES)[number];
/** What a token gets when it names no scopes: everything a sync integration needs, not settings. */
export const DEFAULT_SCOPES: readonly Scope[] = [
  'contacts.read',
  'contacts.write',
  'companies.read',
  'companies.write',
];

export const MATCH_FIELDS = ['email', 'phone'] as const;

const DefaultPhoneRegion = Nullable(
  Type.String({
    pattern: '^[A-Za-z]{2}$',
    description: 'ISO 3166-1 alpha-2 region used to read national phone numbers (e.g. `SE`), or null.',
  }),
);

const DuplicateContactMatching = Type.Object(
  {
    fields: Type.Array(Type.Union([Type.Literal('email'), Type.Literal('phone')]), {
      uniqueItems: true,
      maxItems: 2,
      description: 'Fields the email/phone upsert matches on, in priority order; `[]` never matches.',
    }),
  },
  { additionalProperties: false },
);

export const OrganizationSettingsSchema = Type.Object(
  {
    defaultPhoneRegion: DefaultPhoneRegion,
    duplicateContactMatching: DuplicateContactMatching,
    requireIfMatch: Type.Boolean({ description: 'When true, updates without If-Match answer 428.' }),
  },
  { $id: 'OrganizationSettings', additionalProperties: false },
);
export type OrganizationSettings = Static<typeof OrganizationSettingsSchema>;

export const OrganizationSettingsPatchSchema = Type.Object(
  {
    defaultPhoneRegion: Type.Optional(DefaultPhoneRegion),
    duplicateContactMatching: Type.Optional(DuplicateContactMatching),
    requireIfMatch: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, description: 'Settings to change; omitted settings keep their value.' },
);
export type OrganizationSettingsPatch = Static<typeof OrganizationSettingsPatchSchema>;

const OrganizationName = Type.String({ minLength: 1, maxLength: 200 });

export const CreateOrganizationBody = Type.Object(
  { name: OrganizationName, settings: Type.Optional(OrganizationSettingsPatchSchema) },
  { additionalProperties: false },
);
export type CreateOrganizationInput = Static<typeof CreateOrganizationBody>;

export const PatchOrganizationBody = Type.Object(
  { name: Type.Optional(OrganizationName), settings: Type.Optional(OrganizationSettingsPatchSchema) },
  { additionalProperties: false },
);
export type PatchOrganizationInput = Static<typeof PatchOrganizationBody>;

export const OrganizationSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    settings: Type.Ref('OrganizationSettings'),
    createdUtc: Timestamp,
    updatedUtc: Timestamp,
  },
  { $id: 'Organization', additionalProperties: false },
);
export interface Organization {
  id: string;
  name: string;
  settings: OrganizationSettings;
  createdUtc: string;
  updatedUtc: string;
}

export const OrganizationParams = Type.Object({ orgId: Uuid }, { additionalProperties: false });
export const TokenParams = Type.Object({ orgId: Uuid, tokenId: Uuid }, { additionalProperties: false });

export const CreateTokenBody = Type.Object(
  {
    name: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
    scopes: Type.Optional(
      Type.Array(Type.Enum([...SCOPES]), {
        minItems: 1,
        uniqueItems: true,
        description: 'Defaults to contacts.read, contacts.write, companies.read and companies.write.',
      }),
    ),
    expiresUtc: Type.Optional(Nullable(Type.String({ format: 'date-time', description: 'Must be in the future.' }))),
    origin: Type.Optional(
      Nullable(
        SystemName({
          description:
            "The origin this token's changes are recorded with when a request sends no X-Change-Origin (default `api`): give a sync's token its system's name, e.g. `hubspot`, and it can exclude its own changes from events and webhooks. Stored lower-case.",
        }),
      ),
    ),
  },
  { additionalProperties: false },
);
export type CreateTokenInput = Static<typeof CreateTokenBody>;

const tokenProperties = {
  id: Uuid,
  name: Nullable(Type.String()),
  scopes: Type.Array(Type.String()),
  createdUtc: Timestamp,
  expiresUtc: Nullable(Timestamp),
  origin: Nullable(Type.String()),
};

export const ApiTokenSchema = Type.Object(
  { ...tokenProperties, revokedUtc: Nullable(Timestamp) },
  { $id: 'ApiToken', additionalProperties: false },
);
export interface ApiToken {
  id: string;
  name: string | null;
  scopes: string[];
  createdUtc: string;
  expiresUtc: string | null;
  origin: string | null;
  revokedUtc: string | null;
}

export const CreatedApiTokenSchema = Type.Object(
  {
    ...tokenProperties,
    token: Type.String({ description: 'The secret. Shown in this response only; store it now.' }),
  },
  { $id: 'CreatedApiToken', additionalProperties: false },
);
export type CreatedApiToken = Omit<ApiToken, 'revokedUtc'> & { token: string };

export const ApiTokenListSchema = Type.Object(
  { data: Type.Array(Type.Ref('ApiToken')) },
  { $id: 'ApiTokenList', additionalProperties: false },
);
