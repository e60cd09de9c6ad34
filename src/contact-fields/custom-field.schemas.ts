import { type Static, Type } from 'typebox';
import type { CustomFieldType } from '../db/schema.js';
import { bodyExamples, Timestamp } from '../http/schemas.js';
import { createContactFieldExamples, updateContactFieldExamples } from './custom-field.examples.js';
import { CUSTOM_FIELD_TYPES } from './custom-field-types.js';

/** Custom contact fields an organization may define, archived ones included. */
export const MAX_CONTACT_FIELDS_PER_ORGANIZATION = 200;
/** Options a select field may offer. */
export const MAX_OPTIONS_PER_FIELD = 500;
export const CONTACT_FIELD_KEY_PATTERN = '^[a-z][a-z0-9_]{0,49}$';

const Key = Type.String({
  maxLength: 50,
  pattern: CONTACT_FIELD_KEY_PATTERN,
  description:
    "The name a contact's value of this field is stored and sent under: a lower-case letter, then up to 49 lower-case letters, digits or `_`. It never changes.",
});

const Label = Type.String({
  minLength: 1,
  maxLength: 255,
  description: 'What people see, e.g. in a form. Stored trimmed; must not be blank.',
});

const FieldType = Type.Unsafe<CustomFieldType>({
  type: 'string',
  enum: [...CUSTOM_FIELD_TYPES],
  description: `What values the field holds: ${CUSTOM_FIELD_TYPES.map((type) => `\`${type}\``).join(', ')}. It never changes.`,
});

const OptionSchema = Type.Object(
  {
    value: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'What contacts store and send; unique within the field, compared exactly. Stored trimmed.',
    }),
    label: Type.String({ minLength: 1, maxLength: 255, description: 'What people see. Stored trimmed.' }),
  },
  { additionalProperties: false, description: 'One choice of a select field.' },
);

const Options = Type.Array(OptionSchema, {
  maxItems: MAX_OPTIONS_PER_FIELD,
  description: `The choices of a \`single_select\` or \`multi_select\` field, in display order: 1 to ${MAX_OPTIONS_PER_FIELD}, each value once. Other types have none (\`[]\`).`,
});

const Archived = Type.Boolean({
  description:
    'For a field no longer used whose data must stay: contacts keep the values they hold (which can still be cleared) but cannot be given new ones, and the field stays listed.',
});

export const CreateContactFieldBody = Type.Object(
  {
    key: Key,
    label: Label,
    type: FieldType,
    options: Type.Optional(Options),
    archived: Type.Optional(Archived),
  },
  {
    $id: 'CreateContactFieldRequest',
    additionalProperties: false,
    description: 'A new custom field. Select types need `options`; the others send none (or `[]`).',
    ...bodyExamples(createContactFieldExamples),
  },
);
export type CreateContactFieldInput = Static<typeof CreateContactFieldBody>;

export const UpdateContactFieldBody = Type.Object(
  {
    key: Type.Optional(Key),
    label: Type.Optional(Label),
    type: Type.Optional(FieldType),
    options: Type.Optional(Options),
    archived: Type.Optional(Archived),
  },
  {
    $id: 'UpdateContactFieldRequest',
    additionalProperties: false,
    description:
      'Fields present are set, omitted fields are kept. `key` and `type` never change: they are accepted only with their current value, so a field read with GET can be sent back.',
    ...bodyExamples(updateContactFieldExamples),
  },
);
export type UpdateContactFieldInput = Static<typeof UpdateContactFieldBody>;

export const ContactFieldParams = Type.Object(
  {
    key: Type.String({
      maxLength: 50,
      pattern: CONTACT_FIELD_KEY_PATTERN,
      description: "The field's key.",
      examples: ['membership_tier'],
    }),
  },
  { additionalProperties: false },
);

export const ContactFieldSchema = Type.Object(
  {
    key: Type.String({ description: 'Values are stored under it on contacts; it never changes.' }),
    label: Type.String({ description: 'What people see.' }),
    type: FieldType,
    options: Type.Array(OptionSchema, {
      description: 'The choices of a select field, in display order; `[]` for the other types.',
    }),
    archived: Type.Boolean({ description: 'Whether the field is archived: no longer used, its values kept.' }),
    createdUtc: Timestamp,
    updatedUtc: Timestamp,
    etag: Type.String({ description: 'The weak ETag of this version, as the ETag header carries it.' }),
  },
  {
    $id: 'ContactField',
    additionalProperties: false,
    description: 'A custom contact field of your organization: contacts hold its values under its key.',
  },
);
export type ContactField = Static<typeof ContactFieldSchema>;

export const ContactFieldListSchema = Type.Object(
  { data: Type.Array(Type.Ref('ContactField')) },
  {
    $id: 'ContactFieldList',
    additionalProperties: false,
    description: "Your organization's custom contact fields, archived ones included.",
  },
);
