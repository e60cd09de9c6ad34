import { type Static, Type } from 'typebox';
import { BatchFlags, BatchItems } from '../http/batch.js';
import {
  bodyExamples,
  type ExternalRef,
  ExternalRefSchema,
  Nullable,
  QueryString,
  RefTo,
  Timestamp,
  Uuid,
} from '../http/schemas.js';
import {
  contactBatchExamples,
  createContactExamples,
  matchUpsertContactExamples,
  updateContactExamples,
  upsertContactExamples,
} from './contact.examples.js';
import {
  type ContactInput,
  type ContactRepresentationFields,
  pageProperties,
  representationProperties,
} from './contact.fields.js';

export {
  type CompanyReferenceInput,
  type ConnectionInput,
  ConnectionRequestSchema,
  type ContactInput,
  DndSettingsSchema,
  EMAIL_TYPES,
  MAX_EXTERNAL_REFS,
  MAX_TAGS,
  PHONE_TYPES,
} from './contact.fields.js';
export type { ExternalRef };

export const CreateContactBody = Type.Unsafe<ContactInput>(
  Type.Object(pageProperties('create'), {
    $id: 'CreateContactRequest',
    additionalProperties: false,
    description: 'A new contact. It needs at least one identifier: a name, an email or a phone.',
    ...bodyExamples(createContactExamples),
  }),
);

export const PatchContactBody = Type.Unsafe<ContactInput & { profilePictureId?: null }>(
  Type.Object(
    {
      ...pageProperties('patch'),
      profilePictureId: Type.Optional(
        Type.Null({ description: 'Accepted for compatibility; this API stores no pictures, so only null is valid.' }),
      ),
    },
    {
      $id: 'UpdateContactRequest',
      additionalProperties: false,
      description: 'Fields present are set, omitted fields are kept, null clears. Arrays replace the whole list.',
      ...bodyExamples(updateContactExamples),
    },
  ),
);

export const UpsertContactBody = Type.Unsafe<ContactInput>(
  Type.Object(pageProperties('upsert'), {
    $id: 'UpsertContactRequest',
    additionalProperties: false,
    description: 'Creates the contact or applies these fields to it (omitted fields are kept, null clears).',
    ...bodyExamples(upsertContactExamples),
  }),
);

const MATCH_UPSERT_DESCRIPTION = 'The upsert fields, plus external references to attach to the contact.';

/** Shared: the body of POST /contacts/upsert is also the `data` of a batch item. */
export const MatchUpsertContactBody = Type.Unsafe<ContactInput>(
  Type.Object(pageProperties('matchUpsert'), {
    $id: 'MatchUpsertContactRequest',
    additionalProperties: false,
    description: MATCH_UPSERT_DESCRIPTION,
  }),
);

/** POST /contacts/upsert's own copy of the shared body, which can carry the route's examples. */
export const MatchUpsertRequestBody = Type.Unsafe<ContactInput>(
  Type.Object(pageProperties('matchUpsert'), {
    additionalProperties: false,
    description: MATCH_UPSERT_DESCRIPTION,
    ...bodyExamples(matchUpsertContactExamples),
  }),
);

export const ContactSchema = Type.Object(
  {
    id: Uuid,
    uri: Type.String({ description: "The contact's canonical API path." }),
    ...representationProperties(),
    primaryCompanyId: Nullable(Uuid),
    companies: Type.Array(
      Type.Object(
        {
          id: Uuid,
          uri: Type.String({ description: "The company's canonical API path." }),
          name: Type.String({ description: "The company's current name." }),
          jobTitle: Nullable(Type.String()),
          isPrimary: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
      { description: 'The companies the contact is connected to (its `connections`), live ones only.' },
    ),
    profilePictureUrl: Nullable(Type.String({ description: 'Always null: this API stores no pictures yet.' })),
    createdUtc: Timestamp,
    updatedUtc: Timestamp,
    deletedUtc: Nullable(Timestamp),
    etag: Type.String({ description: 'Equals the ETag header.' }),
    changeType: Type.Union(
      [Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted'), Type.Literal('revived')],
      { description: 'What the last change to the contact was.' },
    ),
    changeOrigin: Type.String({
      description: '`api` for direct writes, else the namespace of the upsert that made the change.',
    }),
  },
  { $id: 'Contact', additionalProperties: false, description: 'A person in your network.' },
);
export type Contact = Static<typeof ContactSchema> & ContactRepresentationFields;

export const ContactListSchema = Type.Object(
  { data: Type.Array(Type.Ref('Contact')), page: Type.Ref('Page') },
  { $id: 'ContactList', additionalProperties: false, description: 'A page of the contact change feed.' },
);

export const ContactParams = Type.Object(
  {
    id: Type.String({
      format: 'uuid',
      description: "The contact's id.",
      examples: ['bf80341f-ed94-4202-9eab-d0f128cbb552'],
    }),
  },
  { additionalProperties: false },
);

export const UpsertQuery = QueryString({
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
});
export type UpsertQueryInput = Static<typeof UpsertQuery>;

export const ValidateOnlyQuery = QueryString({
  validate_only: Type.Boolean({ default: false, description: 'Validate and decide, store nothing.' }),
});

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
  { $id: 'ContactBatchRequest', additionalProperties: false, ...bodyExamples(contactBatchExamples) },
);
