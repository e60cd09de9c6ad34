import { type Static, Type } from 'typebox';
import { BatchFlags, BatchItems } from '../http/batch.js';
import { type ExternalRef, ExternalRefSchema, Nullable, RefTo, Timestamp, Uuid } from '../http/schemas.js';

export type { ExternalRef };

export const MAX_EXTERNAL_REFS = 50;
export const MAX_TAGS = 100;
export const EMAIL_TYPES = ['work', 'personal', 'other'] as const;
export const PHONE_TYPES = ['mobile', 'work', 'home', 'other'] as const;

const ExternalRefs = Type.Array(RefTo(ExternalRefSchema), {
  maxItems: MAX_EXTERNAL_REFS,
  description: `At most ${MAX_EXTERNAL_REFS}. Each namespace + id belongs to one contact of the organization.`,
});

const Tags = Nullable(
  Type.Array(Type.String({ minLength: 1 }), {
    maxItems: MAX_TAGS,
    uniqueItems: true,
    description: `Labels, at most ${MAX_TAGS}, without duplicates. Replaces the whole list.`,
  }),
);

const CompanyById = Type.Object(
  {
    kind: Type.Literal('existing', { description: 'A company of your organization, by its id.' }),
    id: Type.String({ format: 'uuid' }),
  },
  { additionalProperties: false, required: ['kind', 'id'] },
);

const CompanyByExternalRef = Type.Object(
  {
    kind: Type.Literal('external', {
      description:
        'A live company of your organization, by its reference in another system (a sync pushes companies first and links them by their own ids).',
    }),
    namespace: ExternalRefSchema.properties.namespace,
    id: ExternalRefSchema.properties.id,
  },
  { additionalProperties: false, required: ['kind', 'namespace', 'id'] },
);

export type CompanyReferenceInput = Static<typeof CompanyById> | Static<typeof CompanyByExternalRef>;

/** `kind` says which: one set of rules per kind, so an error names that kind's fields only. */
const CompanyReference = Type.Unsafe<CompanyReferenceInput>({
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [CompanyById, CompanyByExternalRef],
});

const Connection = Type.Object(
  {
    company: CompanyReference,
    jobTitle: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
    primary: Type.Optional(Type.Boolean({ description: 'Exactly one connection must be primary.' })),
  },
  {
    $id: 'ConnectionRequest',
    additionalProperties: false,
    description: 'An employment: the contact works at a company.',
  },
);
export type ConnectionInput = Static<typeof Connection>;
export const ConnectionRequestSchema = Connection;

const Connections = Nullable(
  Type.Array(RefTo(Connection), {
    maxItems: 50,
    description: 'Company connections; replaces the whole list. Exactly one must be primary.',
  }),
);

/** One of `values` or null, as a single `enum` so a wrong value gets one message listing the choices. */
function NullableEnum<const T extends readonly string[]>(values: T) {
  return Type.Unsafe<T[number] | null>({ type: ['string', 'null'], enum: [...values, null] });
}

interface Limits {
  name: number;
  email: number;
  phone: number;
  emailEntry: number;
  phoneEntry: number;
  language: number;
  strategy?: number;
}

function emailEntry(limits: Limits) {
  return Type.Object(
    {
      address: Type.String({ maxLength: limits.emailEntry, format: 'email-address' }),
      type: Type.Optional(NullableEnum(EMAIL_TYPES)),
    },
    { additionalProperties: false },
  );
}

function phoneEntry(limits: Limits) {
  return Type.Object(
    {
      number: Type.String({
        minLength: 1,
        maxLength: limits.phoneEntry,
        description: 'Normalized to E.164 when valid.',
      }),
      type: Type.Optional(NullableEnum(PHONE_TYPES)),
    },
    { additionalProperties: false },
  );
}

/** The writable fields shared by create, PATCH and the upserts, with the limits of each page. */
function writableFields(limits: Limits) {
  return {
    firstName: Type.Optional(Nullable(Type.String({ maxLength: limits.name }))),
    lastName: Type.Optional(Nullable(Type.String({ maxLength: limits.name }))),
    email: Type.Optional(
      Nullable(
        Type.String({
          maxLength: limits.email,
          format: 'email-address',
          description: 'The primary email. Without `emails`, it becomes the only entry of `emails`.',
        }),
      ),
    ),
    emails: Type.Optional(
      Nullable(
        Type.Array(emailEntry(limits), {
          maxItems: 50,
          description: 'Replaces the whole list. Without `email`, the first entry becomes the primary email.',
        }),
      ),
    ),
    phone: Type.Optional(
      Nullable(
        Type.String({
          minLength: 1,
          maxLength: limits.phone,
          description:
            'The primary phone, normalized to E.164 when valid. Without `phones`, it becomes their only entry.',
        }),
      ),
    ),
    phones: Type.Optional(
      Nullable(
        Type.Array(phoneEntry(limits), {
          maxItems: 50,
          description: 'Replaces the whole list. Without `phone`, the first entry becomes the primary phone.',
        }),
      ),
    ),
    primaryLanguage: Type.Optional(
      Nullable(
        Type.String({ maxLength: limits.language, format: 'iso639-1', description: 'ISO 639-1, e.g. `en`, `sv`.' }),
      ),
    ),
    tags: Type.Optional(Tags),
    strategy: Type.Optional(Nullable(Type.String(limits.strategy === undefined ? {} : { maxLength: limits.strategy }))),
    connections: Type.Optional(Connections),
  };
}

const CREATE_LIMITS: Limits = { name: 255, email: 255, phone: 50, emailEntry: 255, phoneEntry: 50, language: 10 };
const UPSERT_LIMITS: Limits = {
  name: 100,
  email: 254,
  phone: 20,
  emailEntry: 254,
  phoneEntry: 30,
  language: 10,
  strategy: 4000,
};

const LinkedInUrl = Nullable(
  Type.String({ maxLength: 500, format: 'linkedin-profile', description: 'https://www.linkedin.com/in/{slug}' }),
);

export const CreateContactBody = Type.Object(
  {
    externalRefs: Type.Optional(Nullable(ExternalRefs)),
    ...writableFields(CREATE_LIMITS),
    linkedInUrl: Type.Optional(LinkedInUrl),
  },
  {
    $id: 'CreateContactRequest',
    additionalProperties: false,
    description: 'A new contact. It needs at least one identifier: a name, an email or a phone.',
  },
);

export const PatchContactBody = Type.Object(
  {
    externalRefs: Type.Optional(Nullable(ExternalRefs)),
    ...writableFields(CREATE_LIMITS),
    linkedInUrl: Type.Optional(LinkedInUrl),
    blocked: Type.Optional(Nullable(Type.Boolean({ description: 'null clears it (false).' }))),
    profilePictureId: Type.Optional(
      Type.Null({ description: 'Accepted for compatibility; this API stores no pictures, so only null is valid.' }),
    ),
  },
  {
    $id: 'UpdateContactRequest',
    additionalProperties: false,
    description: 'Fields present are set, omitted fields are kept, null clears. Arrays replace the whole list.',
  },
);

export const UpsertContactBody = Type.Object(writableFields(UPSERT_LIMITS), {
  $id: 'UpsertContactRequest',
  additionalProperties: false,
  description: 'Creates the contact or applies these fields to it (omitted fields are kept, null clears).',
});

export const MatchUpsertContactBody = Type.Object(
  { ...writableFields(UPSERT_LIMITS), externalRefs: Type.Optional(Nullable(ExternalRefs)) },
  {
    $id: 'MatchUpsertContactRequest',
    additionalProperties: false,
    description: 'The upsert fields, plus external references to attach to the contact.',
  },
);

/** Every writable field, as the service sees a request once validated. */
export interface ContactInput {
  externalRefs?: ExternalRef[] | null;
  firstName?: string | null;
  lastName?: string | null;
  email?: string | null;
  emails?: Array<{ address: string; type?: string | null }> | null;
  phone?: string | null;
  phones?: Array<{ number: string; type?: string | null }> | null;
  linkedInUrl?: string | null;
  primaryLanguage?: string | null;
  tags?: string[] | null;
  strategy?: string | null;
  connections?: ConnectionInput[] | null;
  blocked?: boolean | null;
}

export const ContactSchema = Type.Object(
  {
    id: Uuid,
    uri: Type.String({ description: "The contact's canonical API path." }),
    externalRefs: Type.Array(Type.Ref('ExternalRef')),
    firstName: Nullable(Type.String()),
    lastName: Nullable(Type.String()),
    email: Nullable(Type.String()),
    phone: Nullable(Type.String()),
    linkedInUrl: Nullable(Type.String()),
    emails: Type.Array(
      Type.Object(
        { address: Type.String(), type: Nullable(Type.String()), isPrimary: Type.Boolean() },
        { additionalProperties: false },
      ),
    ),
    phones: Type.Array(
      Type.Object(
        { number: Type.String(), type: Nullable(Type.String()), isPrimary: Type.Boolean() },
        { additionalProperties: false },
      ),
    ),
    primaryLanguage: Nullable(Type.String()),
    tags: Type.Array(Type.String()),
    strategy: Nullable(Type.String()),
    primaryCompanyId: Nullable(Uuid),
    companies: Type.Array(
      Type.Object(
        {
          id: Uuid,
          uri: Type.String(),
          name: Type.String(),
          jobTitle: Nullable(Type.String()),
          isPrimary: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
    ),
    profilePictureUrl: Nullable(Type.String({ description: 'Always null: this API stores no pictures yet.' })),
    blocked: Type.Boolean(),
    createdUtc: Timestamp,
    updatedUtc: Timestamp,
    deletedUtc: Nullable(Timestamp),
    etag: Type.String({ description: 'Equals the ETag header.' }),
    changeType: Type.Union([
      Type.Literal('created'),
      Type.Literal('updated'),
      Type.Literal('deleted'),
      Type.Literal('revived'),
    ]),
    changeOrigin: Type.String({
      description: '`api` for direct writes, else the namespace of the upsert that made the change.',
    }),
  },
  { $id: 'Contact', additionalProperties: false },
);
export type Contact = Static<typeof ContactSchema>;

export const ContactListSchema = Type.Object(
  { data: Type.Array(Type.Ref('Contact')), page: Type.Ref('Page') },
  { $id: 'ContactList', additionalProperties: false },
);

export const ContactParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const UpsertQuery = Type.Object(
  {
    match: Type.Optional(
      Type.Unsafe<'email' | ''>({
        type: 'string',
        enum: ['email', ''],
        description: '`email`: when the reference is unknown, update the live contact with the same primary email.',
      }),
    ),
    revive: Type.Boolean({ default: true, description: 'Revive a deleted contact that has this reference.' }),
    create_only: Type.Boolean({
      default: false,
      description: 'Despite its name, update-only: an unknown reference answers 404 and nothing is created.',
    }),
    update_only: Type.Boolean({ default: false, description: 'Clearer alias of create_only.' }),
    validate_only: Type.Boolean({ default: false, description: 'Validate and decide, store nothing.' }),
  },
  { additionalProperties: false },
);
export type UpsertQueryInput = Static<typeof UpsertQuery>;

export const ValidateOnlyQuery = Type.Object(
  { validate_only: Type.Boolean({ default: false, description: 'Validate and decide, store nothing.' }) },
  { additionalProperties: false },
);

export const ContactBatchItem = Type.Object(
  {
    ref: Type.Optional(
      Type.String({ maxLength: 100, description: 'Your correlation for this item; echoed in its result.' }),
    ),
    externalRef: Type.Optional(RefTo(ExternalRefSchema)),
    ifMatch: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1000,
        description: 'As the If-Match header, for this item alone; only on an item with externalRef.',
      }),
    ),
    data: RefTo(MatchUpsertContactBody),
  },
  {
    additionalProperties: false,
    description:
      'With `externalRef`: as PATCH /contacts/external/{namespace}/{id} (then `data.externalRefs` is not accepted). Without: as POST /contacts/upsert.',
  },
);
export type ContactBatchItemInput = Static<typeof ContactBatchItem>;

export const ContactBatchBody = Type.Object(
  {
    items: BatchItems(ContactBatchItem),
    match: Type.Optional(
      Type.Unsafe<'email' | 'none'>({
        type: 'string',
        enum: ['email', 'none'],
        description:
          'For items with externalRef: `email` (the default) updates the live contact with the same primary email when the reference is unknown; `none` never matches by email.',
      }),
    ),
    ...BatchFlags,
  },
  { $id: 'ContactBatchRequest', additionalProperties: false },
);
