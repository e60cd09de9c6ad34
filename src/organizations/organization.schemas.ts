import { type Static, Type } from 'typebox';
import { bodyExamples, Nullable, SystemName, Timestamp, Uuid } from '../http/schemas.js';
import {
  createOrganizationExamples,
  createTokenExamples,
  patchOrganizationExamples,
  rotateTokenExamples,
  settingsPatchExamples,
} from './organization.examples.js';

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

/** The body of PATCH /organization/settings: the settings patch itself, with the document's examples. */
export const SettingsPatchBody = Type.Object(OrganizationSettingsPatchSchema.properties, {
  additionalProperties: false,
  description: 'Settings to change; omitted settings keep their value.',
  ...bodyExamples(settingsPatchExamples),
});

const OrganizationName = Type.String({ minLength: 1, maxLength: 200 });

export const CreateOrganizationBody = Type.Object(
  { name: OrganizationName, settings: Type.Optional(OrganizationSettingsPatchSchema) },
  {
    additionalProperties: false,
    ...bodyExamples(createOrganizationExamples),
  },
);
export type CreateOrganizationInput = Static<typeof CreateOrganizationBody>;

export const PatchOrganizationBody = Type.Object(
  { name: Type.Optional(OrganizationName), settings: Type.Optional(OrganizationSettingsPatchSchema) },
  {
    additionalProperties: false,
    ...bodyExamples(patchOrganizationExamples),
  },
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
  { $id: 'Organization', additionalProperties: false, description: 'A tenant: its data and tokens are its own.' },
);
export interface Organization {
  id: string;
  name: string;
  settings: OrganizationSettings;
  createdUtc: string;
  updatedUtc: string;
}

const OrganizationId = Type.String({ format: 'uuid', description: "The organization's id." });
export const OrganizationParams = Type.Object({ orgId: OrganizationId }, { additionalProperties: false });
export const TokenParams = Type.Object(
  { orgId: OrganizationId, tokenId: Type.String({ format: 'uuid', description: "The token's id." }) },
  { additionalProperties: false },
);

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
  {
    additionalProperties: false,
    ...bodyExamples(createTokenExamples),
  },
);
export type CreateTokenInput = Static<typeof CreateTokenBody>;

const tokenProperties = {
  id: Uuid,
  name: Nullable(Type.String()),
  scopes: Type.Array(Type.String()),
  createdUtc: Timestamp,
  expiresUtc: Nullable(Timestamp),
  origin: Nullable(Type.String()),
  rotatedUtc: Nullable(Timestamp),
  previousSecretExpiresUtc: Nullable(
    Type.String({
      format: 'date-time',
      description:
        'Until when the secret replaced by the last rotation is still accepted (past once its grace period is over); null when the token was never rotated or the last rotation had no grace period.',
    }),
  ),
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
  rotatedUtc: string | null;
  previousSecretExpiresUtc: string | null;
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

/** The largest grace period a rotation grants the old secret: a week covers a deployment cycle. */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 60 * 60;

export const RotateTokenBody = Type.Object(
  {
    graceSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_ROTATION_GRACE_SECONDS,
        default: 0,
        description:
          'How long the old secret keeps working, in seconds (at most 604800, a week). 0, the default, ends it at once.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: '`{}` rotates with no grace period.',
    ...bodyExamples(rotateTokenExamples),
  },
);
export type RotateTokenInput = Static<typeof RotateTokenBody>;

export const ORGANIZATION_LIST_DEFAULT_LIMIT = 50;
export const ORGANIZATION_LIST_MAX_LIMIT = 500;

export const OrganizationListQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: ORGANIZATION_LIST_MAX_LIMIT,
        default: ORGANIZATION_LIST_DEFAULT_LIMIT,
        description: 'Organizations per page.',
      }),
    ),
    cursor: Type.Optional(
      Type.String({
        maxLength: 2000,
        description: "A page's nextCursor; it carries the first page's name filter, so `name` may be left out.",
      }),
    ),
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Only organizations whose name starts with this, ignoring case. `%` and `_` match themselves, not any text.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type OrganizationListQueryInput = Static<typeof OrganizationListQuery>;

export const OrganizationListSchema = Type.Object(
  { data: Type.Array(Type.Ref('Organization')), page: Type.Ref('Page') },
  { additionalProperties: false },
);
