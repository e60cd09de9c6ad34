import { type TSchema, Type } from 'typebox';
import { MAX_TEXT_LENGTH } from '../contact-fields/custom-field-types.js';
import type { ConnectionJson, EmailJson, ExternalRefJson, PhoneJson } from '../db/schema.js';
import { type ExternalRef, ExternalRefSchema, Nullable as nullable, RefTo } from '../http/schemas.js';

/**
 * Every field of a contact, declared once: what each request page accepts (with that page's
 * limits), how it is stored, what a contact that never set it holds, its canonical form, and how
 * the representation shows it. The request schemas, the TypeScript types, normalization, the
 * columns written by every path (including the one-statement and set-based SQL), the response
 * mapper and the OpenAPI document are all derived from this list; adding a field is a declaration
 * here, a migration and tests.
 *
 * Fields whose value depends on another (email and emails, phone and phones) or on other tables
 * (external references, company connections) declare a `group`: contact.model.ts normalizes each
 * group together; everything else about them is derived like any field.
 */

/** The request pages, each with its own limits (the seed pages differ in them). */
export type ContactPage = 'create' | 'patch' | 'upsert' | 'matchUpsert';

const ALL_PAGES: readonly ContactPage[] = ['create', 'patch', 'upsert', 'matchUpsert'];

/**
 * How a field is stored; this decides its column type and its SQL in the one-statement writes.
 * `jsonObject` is nullable: null is stored as SQL NULL, never as a JSON null. `jsonMap` is a
 * never-null jsonb object whose keys a write sets or clears one by one (see `merge`).
 */
export type Storage = 'text' | 'boolean' | 'date' | 'textArray' | 'jsonArray' | 'jsonObject' | 'jsonMap';

export type FieldGroup = 'emails' | 'phones' | 'externalRefs' | 'connections' | 'customFields';

/** What normalizing a present value may need: the organization's phone region, and a way to refuse the value. */
export interface NormalizeContext {
  readonly defaultPhoneRegion: string | null;
  /** Records a problem with this field; the request then fails with 400 naming it. */
  report(message: string): void;
}

export interface FieldDeclaration<
  Key extends string = string,
  Value = unknown,
  S extends Storage = Storage,
  Column extends string = string,
> {
  readonly key: Key;
  readonly column: Column;
  readonly storage: S;
  /** The request schema of a non-null value, per page that accepts the field (null is always accepted: it clears). */
  readonly input: Partial<Record<ContactPage, TSchema>>;
  /** The representation's schema; null when the representation shows the field another way (connections). */
  readonly output: TSchema | null;
  /** What a contact that never set the field holds, and what null sets it to. */
  readonly empty: Value;
  /** Canonical form of a present, schema-valid request value; absent for grouped fields (the group does it). */
  readonly normalize?: (value: never, context: NormalizeContext) => Value;
  /** The stored column's value in canonical form (jsonb keeps no key order, so objects are rebuilt). */
  readonly fromColumn?: (stored: never) => Value;
  /** How a present change combines with the current value; absent, the change replaces it. */
  readonly merge?: (current: never, change: never) => Value;
  readonly group?: FieldGroup;
  /** Part of "at least one identifier": a contact needs one of these set. */
  readonly identifier?: boolean;
  /**
   * False when a write that sets the field needs the general path: rows of other tables to keep in
   * step (external references) or to check (companies of connections).
   */
  readonly oneStatement: boolean;
}

export function trimmedOrNull(value: string | null): string | null {
  if (value === null) return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

function samePages(schema: TSchema, pages: readonly ContactPage[] = ALL_PAGES): Partial<Record<ContactPage, TSchema>> {
  return Object.fromEntries(pages.map((page) => [page, schema]));
}

/** Limits of the pages that create and update by id, and of the upsert pages. */
function byPage(create: TSchema, upsert: TSchema, pages: readonly ContactPage[] = ALL_PAGES) {
  const schemas: Partial<Record<ContactPage, TSchema>> = { create, patch: create, upsert, matchUpsert: upsert };
  return Object.fromEntries(pages.map((page) => [page, schemas[page] as TSchema])) as Partial<
    Record<ContactPage, TSchema>
  >;
}

/** A free-text field: trimmed, blank stored as null. */
function text<const Key extends string, const Column extends string>(
  key: Key,
  column: Column,
  input: Partial<Record<ContactPage, TSchema>>,
  options: { identifier?: boolean; description?: string; normalize?: (value: string) => string | null } = {},
): FieldDeclaration<Key, string | null, 'text', Column> {
  const normalize = options.normalize ?? trimmedOrNull;
  return {
    key,
    column,
    storage: 'text',
    input,
    output: nullable(Type.String(options.description === undefined ? {} : { description: options.description })),
    empty: null,
    normalize: ((value: string | null) => (value === null ? null : normalize(value))) as never,
    oneStatement: true,
    ...(options.identifier ? { identifier: true } : {}),
  };
}

/** A yes/no flag; null sets it back to false. */
function flag<const Key extends string, const Column extends string>(
  key: Key,
  column: Column,
  pages: readonly ContactPage[],
  description: string,
): FieldDeclaration<Key, boolean, 'boolean', Column> {
  return {
    key,
    column,
    storage: 'boolean',
    input: samePages(Type.Boolean({ description }), pages),
    output: Type.Boolean(),
    empty: false,
    normalize: ((value: boolean | null) => value ?? false) as never,
    oneStatement: true,
  };
}

export const MAX_EXTERNAL_REFS = 50;
export const MAX_TAGS = 100;
export const EMAIL_TYPES = ['work', 'personal', 'other'] as const;
export const PHONE_TYPES = ['mobile', 'work', 'home', 'other'] as const;
export const DND_CHANNELS = ['Call', 'Email', 'SMS', 'WhatsApp', 'GMB', 'FB'] as const;
export const DND_STATUSES = ['active', 'inactive', 'permanent'] as const;

/** One of `values` or null, as a single `enum` so a wrong value gets one message listing the choices. */
function NullableEnum<const T extends readonly string[]>(values: T) {
  return Type.Unsafe<T[number] | null>({ type: ['string', 'null'], enum: [...values, null] });
}

function emailEntry(maxLength: number) {
  return Type.Object(
    {
      address: Type.String({ maxLength, format: 'email-address' }),
      type: Type.Optional(NullableEnum(EMAIL_TYPES)),
    },
    { additionalProperties: false },
  );
}

function phoneEntry(maxLength: number) {
  return Type.Object(
    {
      number: Type.String({ minLength: 1, maxLength, description: 'Normalized to E.164 when valid.' }),
      type: Type.Optional(NullableEnum(PHONE_TYPES)),
    },
    { additionalProperties: false },
  );
}

const ExternalRefsInput = Type.Array(RefTo(ExternalRefSchema), {
  maxItems: MAX_EXTERNAL_REFS,
  description: `At most ${MAX_EXTERNAL_REFS}. Each namespace + id belongs to one contact of the organization.`,
});

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

export interface CompanyById {
  kind: 'existing';
  id: string;
}
export interface CompanyByExternalRef {
  kind: 'external';
  namespace: string;
  id: string;
}
export type CompanyReferenceInput = CompanyById | CompanyByExternalRef;

/**
 * `kind` says which: one set of rules per kind, so an error names that kind's fields only. Each kind is
 * a named schema (ConnectionRequest's `definitions`), which the OpenAPI document needs for the
 * discriminator to select it; the branch repeats `kind` beside its `$ref` because the validator reads
 * the tag from the branch itself.
 */
const CompanyReference = Type.Unsafe<CompanyReferenceInput>({
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: [
    { $ref: '#/definitions/CompanyById', properties: { kind: CompanyById.properties.kind } },
    { $ref: '#/definitions/CompanyByExternalRef', properties: { kind: CompanyByExternalRef.properties.kind } },
  ],
});

export const ConnectionRequestSchema = Type.Object(
  {
    company: CompanyReference,
    jobTitle: Type.Optional(nullable(Type.String({ maxLength: 255 }))),
    primary: Type.Optional(Type.Boolean({ description: 'Exactly one connection must be primary.' })),
  },
  {
    $id: 'ConnectionRequest',
    additionalProperties: false,
    description: 'An employment: the contact works at a company.',
    definitions: { CompanyById, CompanyByExternalRef },
  },
);

export interface ConnectionInput {
  company: CompanyReferenceInput;
  jobTitle?: string | null;
  primary?: boolean;
}

const EmailsOutput = Type.Array(
  Type.Object(
    { address: Type.String(), type: nullable(Type.String()), isPrimary: Type.Boolean() },
    { additionalProperties: false },
  ),
);
const PhonesOutput = Type.Array(
  Type.Object(
    { number: Type.String(), type: nullable(Type.String()), isPrimary: Type.Boolean() },
    { additionalProperties: false },
  ),
);

export type DndChannel = (typeof DND_CHANNELS)[number];
export interface DndChannelSetting {
  status: (typeof DND_STATUSES)[number];
  message?: string;
  code?: string;
}
export type DndSettings = Partial<Record<DndChannel, DndChannelSetting>>;

const DndChannelSchema = Type.Object(
  {
    status: Type.Unsafe<DndChannelSetting['status']>({ type: 'string', enum: [...DND_STATUSES] }),
    message: Type.Optional(Type.String({ maxLength: 500 })),
    code: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const DndSettingsSchema = Type.Object(
  Object.fromEntries(DND_CHANNELS.map((channel) => [channel, Type.Optional(DndChannelSchema)])),
  {
    $id: 'DndSettings',
    additionalProperties: false,
    description: `Do-not-disturb per channel (${DND_CHANNELS.join(', ')}). Replaces the whole object.`,
  },
);

/** jsonb orders keys its own way; the canonical form lists channels and their keys in one fixed order. */
function canonicalDndSettings(value: DndSettings | null): DndSettings | null {
  if (value === null) return null;
  const canonical: DndSettings = {};
  for (const channel of DND_CHANNELS) {
    const setting = value[channel];
    if (setting === undefined) continue;
    canonical[channel] = {
      status: setting.status,
      ...(setting.message === undefined ? {} : { message: setting.message }),
      ...(setting.code === undefined ? {} : { code: setting.code }),
    };
  }
  return canonical;
}

/**
 * The latest calendar date anywhere on Earth (UTC+14), so a birth date that is already today for
 * the client is never "in the future" because the server's clock runs in another zone.
 */
function latestDateOnEarth(): string {
  return new Date(Date.now() + 14 * 3_600_000).toISOString().slice(0, 10);
}

const NAME = byPage(Type.String({ maxLength: 255 }), Type.String({ maxLength: 100 }));

/**
 * `name` is stored as firstName and lastName, not on its own: a request may send it instead of
 * them (it is split at its last run of whitespace, `Mary Ann Smith` → `Mary Ann` / `Smith`, one word
 * being the first name), and the representation shows the two joined. Its limit is the first name's,
 * so neither part can exceed its own.
 */
export const NAME_FIELD = {
  key: 'name',
  input: byPage(
    Type.String({ maxLength: 255, description: 'Full name; instead of firstName and lastName, never with them.' }),
    Type.String({ maxLength: 100, description: 'Full name; instead of firstName and lastName, never with them.' }),
  ),
  output: nullable(Type.String({ description: 'firstName and lastName joined by a space.' })),
} as const;

/**
 * `locationId` names the account in the API whose upsert page this one follows. Here the token
 * already names the organization, so the field is accepted for drop-in compatibility on the
 * email/phone upsert and its batch, must be that organization's id, and is not stored.
 */
export const LOCATION_FIELD = {
  key: 'locationId',
  input: {
    matchUpsert: Type.String({
      minLength: 1,
      maxLength: 255,
      description: "Optional; when sent, it must be your organization's id (it is not stored).",
    }),
  } as Partial<Record<ContactPage, TSchema>>,
} as const;

/** firstName and lastName from a full name (see NAME_FIELD); blank clears both. */
export function splitName(name: string | null): { firstName: string | null; lastName: string | null } {
  const trimmed = name?.trim() ?? '';
  if (trimmed === '') return { firstName: null, lastName: null };
  const split = /^(.*\S)\s+(\S+)$/su.exec(trimmed);
  return split === null
    ? { firstName: trimmed, lastName: null }
    : { firstName: split[1] as string, lastName: split[2] as string };
}

export function joinedName(state: { firstName: string | null; lastName: string | null }): string | null {
  const parts = [state.firstName, state.lastName].filter((part) => part !== null);
  return parts.length === 0 ? null : parts.join(' ');
}

/** A custom field's key (contact-fields/): lower-case, starts with a letter. */
export const CUSTOM_FIELD_KEY_PATTERN = '^[a-z][a-z0-9_]{0,49}$';
export const MAX_CUSTOM_FIELDS = 200;

/** A stored custom field value, in the canonical form of its type (contact-fields/custom-field-types.ts). */
export type CustomFieldValue = string | number | boolean | string[];
export type CustomFieldValues = Record<string, CustomFieldValue>;

/**
 * What a request may send as one value. Its definition's type decides the rest, which a schema
 * cannot know: the write checks values against the organization's definitions (400 naming
 * `customFields.<key>`).
 */
const CustomFieldValueInput = Type.Unsafe<CustomFieldValue | null>({
  type: ['string', 'number', 'boolean', 'array', 'null'],
  maxLength: MAX_TEXT_LENGTH,
  maxItems: 500,
  items: { type: 'string', maxLength: 100 },
  description: "A value of the field's type; null clears it.",
});

/** Seed 003's list form: `{ "key", "field_value" }`, `id` standing for `key` and `value` for `field_value`. */
const CustomFieldEntryInput = Type.Object(
  {
    key: Type.Optional(Type.String({ pattern: CUSTOM_FIELD_KEY_PATTERN })),
    id: Type.Optional(Type.String({ pattern: CUSTOM_FIELD_KEY_PATTERN, description: 'Stands for `key`.' })),
    field_value: Type.Optional(CustomFieldValueInput),
    value: Type.Optional(
      Type.Unsafe<CustomFieldValue | null>({ ...CustomFieldValueInput, description: 'Stands for `field_value`.' }),
    ),
  },
  { additionalProperties: false },
);

export type CustomFieldsInput =
  | Record<string, CustomFieldValue | null>
  | Array<{ key?: string; id?: string; field_value?: CustomFieldValue | null; value?: CustomFieldValue | null }>;

/**
 * One schema for both forms (JSON Schema applies the object keywords to objects and the array
 * keywords to arrays), so an error names the field inside the form that was sent.
 */
const CustomFieldsInputSchema = Type.Unsafe<CustomFieldsInput>({
  type: ['object', 'array'],
  patternProperties: { [CUSTOM_FIELD_KEY_PATTERN]: CustomFieldValueInput },
  additionalProperties: false,
  maxProperties: MAX_CUSTOM_FIELDS,
  items: CustomFieldEntryInput,
  maxItems: MAX_CUSTOM_FIELDS,
  description:
    'Values of your custom fields (GET /contact-fields) by key: keys present are set, null clears one, keys left out are kept. The list form `[{ "key", "field_value" }]` is accepted too.',
});

/** jsonb orders an object's keys its own way; the canonical form lists them sorted. */
export function canonicalCustomFields(values: CustomFieldValues): CustomFieldValues {
  return Object.fromEntries(Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A change sets the keys it names (null removes one) and keeps the others; null as a whole removes all. */
function mergeCustomFields(current: CustomFieldValues, change: Record<string, CustomFieldValue | null> | null) {
  if (change === null) return {};
  const merged: Record<string, CustomFieldValue> = { ...current };
  for (const [key, value] of Object.entries(change)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return canonicalCustomFields(merged);
}

/**
 * `companyName` is stored as a connection, not on its own: a request may name the company instead
 * of sending connections (the live company of that name becomes the primary connection, created
 * when there is none), and the representation shows the primary company's name.
 */
export const COMPANY_NAME_FIELD = {
  key: 'companyName',
  input: samePages(
    Type.String({
      maxLength: 255,
      description:
        'The primary company by name (any case): the live company of that name, created when there is none. Not with `connections`.',
    }),
  ),
  output: nullable(Type.String({ description: "The primary company's name." })),
} as const;

/** The declarations, in the order requests and the representation list them. */
export const CONTACT_FIELDS = [
  {
    key: 'externalRefs',
    column: 'external_refs',
    storage: 'jsonArray',
    group: 'externalRefs',
    input: samePages(ExternalRefsInput, ['create', 'patch', 'matchUpsert']),
    output: Type.Array(Type.Ref('ExternalRef')),
    empty: [] as ExternalRefJson[],
    fromColumn: ((refs: ExternalRefJson[]) => refs.map((ref) => ({ namespace: ref.namespace, id: ref.id }))) as never,
    oneStatement: false,
  } satisfies FieldDeclaration<'externalRefs', ExternalRefJson[], 'jsonArray', 'external_refs'>,
  text('firstName', 'first_name', NAME, { identifier: true }),
  text('lastName', 'last_name', NAME, { identifier: true }),
  {
    key: 'email',
    column: 'email',
    storage: 'text',
    group: 'emails',
    identifier: true,
    input: byPage(
      Type.String({
        maxLength: 255,
        format: 'email-address',
        description: 'The primary email. Without `emails`, it becomes the only entry of `emails`.',
      }),
      Type.String({
        maxLength: 254,
        format: 'email-address',
        description: 'The primary email. Without `emails`, it becomes the only entry of `emails`.',
      }),
    ),
    output: nullable(Type.String()),
    empty: null as string | null,
    oneStatement: true,
  } satisfies FieldDeclaration<'email', string | null, 'text', 'email'>,
  {
    // The primary email as compared (email.ts: emailKey): its unique index keeps one live contact
    // per email, and matching reads it. Written whenever email is; never in a request or the
    // representation.
    key: 'emailKey',
    column: 'email_key',
    storage: 'text',
    group: 'emails',
    input: {},
    output: null,
    empty: null as string | null,
    oneStatement: true,
  } satisfies FieldDeclaration<'emailKey', string | null, 'text', 'email_key'>,
  {
    key: 'phone',
    column: 'phone',
    storage: 'text',
    group: 'phones',
    identifier: true,
    input: byPage(
      Type.String({
        minLength: 1,
        maxLength: 50,
        description:
          'The primary phone, normalized to E.164 when valid. Without `phones`, it becomes their only entry.',
      }),
      Type.String({
        minLength: 1,
        maxLength: 20,
        description:
          'The primary phone, normalized to E.164 when valid. Without `phones`, it becomes their only entry.',
      }),
    ),
    output: nullable(Type.String()),
    empty: null as string | null,
    oneStatement: true,
  } satisfies FieldDeclaration<'phone', string | null, 'text', 'phone'>,
  text(
    'linkedInUrl',
    'linkedin_url',
    samePages(
      Type.String({ maxLength: 500, format: 'linkedin-profile', description: 'https://www.linkedin.com/in/{slug}' }),
      ['create', 'patch'],
    ),
    { normalize: (value) => value },
  ),
  {
    key: 'emails',
    column: 'emails',
    storage: 'jsonArray',
    group: 'emails',
    input: byPage(
      Type.Array(emailEntry(255), {
        maxItems: 50,
        description: 'Replaces the whole list. Without `email`, the first entry becomes the primary email.',
      }),
      Type.Array(emailEntry(254), {
        maxItems: 50,
        description: 'Replaces the whole list. Without `email`, the first entry becomes the primary email.',
      }),
    ),
    output: EmailsOutput,
    empty: [] as EmailJson[],
    fromColumn: ((entries: EmailJson[]) =>
      entries.map((entry) => ({ address: entry.address, type: entry.type, isPrimary: entry.isPrimary }))) as never,
    oneStatement: true,
  } satisfies FieldDeclaration<'emails', EmailJson[], 'jsonArray', 'emails'>,
  {
    // Every email as compared (email.ts: emailKey), for search by any of them; written whenever
    // emails are. Never in a request or the representation.
    key: 'emailKeys',
    column: 'email_keys',
    storage: 'textArray',
    group: 'emails',
    input: {},
    output: null,
    empty: [] as string[],
    oneStatement: true,
  } satisfies FieldDeclaration<'emailKeys', string[], 'textArray', 'email_keys'>,
  {
    key: 'phones',
    column: 'phones',
    storage: 'jsonArray',
    group: 'phones',
    input: byPage(
      Type.Array(phoneEntry(50), {
        maxItems: 50,
        description: 'Replaces the whole list. Without `phone`, the first entry becomes the primary phone.',
      }),
      Type.Array(phoneEntry(30), {
        maxItems: 50,
        description: 'Replaces the whole list. Without `phone`, the first entry becomes the primary phone.',
      }),
    ),
    output: PhonesOutput,
    empty: [] as PhoneJson[],
    fromColumn: ((entries: PhoneJson[]) =>
      entries.map((entry) => ({ number: entry.number, type: entry.type, isPrimary: entry.isPrimary }))) as never,
    oneStatement: true,
  } satisfies FieldDeclaration<'phones', PhoneJson[], 'jsonArray', 'phones'>,
  {
    // The primary phone as compared (phone.ts: phoneKey), kept beside it for matching and its
    // index. Written whenever phone is; never in a request or the representation.
    key: 'phoneKey',
    column: 'phone_key',
    storage: 'text',
    group: 'phones',
    input: {},
    output: null,
    empty: null as string | null,
    oneStatement: true,
  } satisfies FieldDeclaration<'phoneKey', string | null, 'text', 'phone_key'>,
  text(
    'primaryLanguage',
    'primary_language',
    samePages(Type.String({ maxLength: 10, format: 'iso639-1', description: 'ISO 639-1, e.g. `en`, `sv`.' })),
    { normalize: (value) => value.toLowerCase() },
  ),
  {
    key: 'tags',
    column: 'tags',
    storage: 'textArray',
    input: samePages(
      Type.Array(Type.String({ minLength: 1 }), {
        maxItems: MAX_TAGS,
        uniqueItems: true,
        description: `Labels, at most ${MAX_TAGS}, without duplicates. Replaces the whole list.`,
      }),
    ),
    output: Type.Array(Type.String()),
    empty: [] as string[],
    normalize: ((value: string[] | null) => value ?? []) as never,
    oneStatement: true,
  } satisfies FieldDeclaration<'tags', string[], 'textArray', 'tags'>,
  text('strategy', 'strategy', byPage(Type.String(), Type.String({ maxLength: 4000 })), {
    normalize: (value) => value,
  }),
  {
    key: 'connections',
    column: 'connections',
    storage: 'jsonArray',
    group: 'connections',
    input: samePages(
      Type.Array(RefTo(ConnectionRequestSchema), {
        maxItems: 50,
        description: 'Company connections; replaces the whole list. Exactly one must be primary.',
      }),
    ),
    // The representation shows connections as `companies`, with each company's current name.
    output: null,
    empty: [] as ConnectionJson[],
    fromColumn: ((connections: ConnectionJson[]) =>
      connections.map((connection) => ({
        companyId: connection.companyId,
        jobTitle: connection.jobTitle,
        isPrimary: connection.isPrimary,
      }))) as never,
    oneStatement: false,
  } satisfies FieldDeclaration<'connections', ConnectionJson[], 'jsonArray', 'connections'>,
  flag('blocked', 'blocked', ['patch'], 'null clears it (false).'),
  text('address1', 'address1', samePages(Type.String({ maxLength: 255, description: 'Street address.' }))),
  text('city', 'city', samePages(Type.String({ maxLength: 100 }))),
  text('state', 'state', samePages(Type.String({ maxLength: 100, description: 'State, province or region.' }))),
  text('postalCode', 'postal_code', samePages(Type.String({ maxLength: 20 }))),
  text(
    'country',
    'country',
    samePages(
      Type.String({
        minLength: 2,
        maxLength: 2,
        format: 'iso3166-1-alpha2',
        description: 'ISO 3166-1 alpha-2 country code, any case; stored upper-case (`SE`).',
      }),
    ),
    { normalize: (value) => value.toUpperCase() },
  ),
  text(
    'website',
    'website',
    samePages(Type.String({ maxLength: 500, format: 'http-url', description: 'An http or https URL.' })),
    { normalize: (value) => value },
  ),
  text(
    'timezone',
    'timezone',
    samePages(
      Type.String({
        maxLength: 64,
        format: 'iana-time-zone',
        description: 'An IANA time zone name, e.g. `Europe/Stockholm`, stored as sent.',
      }),
    ),
    { normalize: (value) => value },
  ),
  {
    key: 'dateOfBirth',
    column: 'date_of_birth',
    storage: 'date',
    input: samePages(
      Type.String({ format: 'calendar-date', description: 'YYYY-MM-DD, from 0001-01-01; not in the future.' }),
    ),
    output: nullable(Type.String({ format: 'date' })),
    empty: null as string | null,
    normalize: ((value: string | null, context: NormalizeContext) => {
      if (value !== null && value > latestDateOnEarth()) context.report('must not be in the future');
      return value;
    }) as never,
    oneStatement: true,
  } satisfies FieldDeclaration<'dateOfBirth', string | null, 'date', 'date_of_birth'>,
  text('source', 'source', samePages(Type.String({ maxLength: 255, description: 'Where the contact came from.' }))),
  text(
    'assignedTo',
    'assigned_to',
    samePages(Type.String({ maxLength: 255, description: "The owner's id in the source system; not checked here." })),
  ),
  flag('dnd', 'dnd', ALL_PAGES, 'Do not disturb on every channel; null clears it (false).'),
  {
    key: 'dndSettings',
    column: 'dnd_settings',
    storage: 'jsonObject',
    input: samePages(Type.Ref('DndSettings')),
    output: Type.Union([Type.Ref('DndSettings'), Type.Null()]),
    empty: null as DndSettings | null,
    normalize: ((value: DndSettings | null) => canonicalDndSettings(value)) as never,
    fromColumn: ((value: DndSettings | null) => canonicalDndSettings(value)) as never,
    oneStatement: true,
  } satisfies FieldDeclaration<'dndSettings', DndSettings | null, 'jsonObject', 'dnd_settings'>,
  {
    // Values depend on the organization's definitions, which the write reads and locks (so a
    // definition cannot be deleted under a value being written): never the one-statement path.
    key: 'customFields',
    column: 'custom_fields',
    storage: 'jsonMap',
    group: 'customFields',
    input: samePages(CustomFieldsInputSchema),
    output: Type.Object(
      {},
      {
        patternProperties: { [CUSTOM_FIELD_KEY_PATTERN]: {} },
        additionalProperties: false,
        description: 'Custom field values by key, archived fields included; `{}` when none is set.',
      },
    ),
    empty: {} as CustomFieldValues,
    fromColumn: ((values: CustomFieldValues) => canonicalCustomFields(values)) as never,
    merge: mergeCustomFields as never,
    oneStatement: false,
  } satisfies FieldDeclaration<'customFields', CustomFieldValues, 'jsonMap', 'custom_fields'>,
] as const;

type Declared = (typeof CONTACT_FIELDS)[number];
type ValueOf<F> = F extends { readonly empty: infer V } ? V : never;

/** A contact's client-controlled fields in canonical form; what "changed" is decided on. */
export type ContactState = { -readonly [F in Declared as F['key']]: ValueOf<F> };
export type ContactFieldKey = keyof ContactState;

/** The declared fields as the representation shows them (connections appear as `companies` instead). */
export type ContactRepresentationFields = {
  -readonly [F in Declared as F['output'] extends null ? never : F['key']]: ValueOf<F>;
} & { name: string | null; companyName: string | null };

/** Present fields only (PATCH semantics). */
export type ContactChanges = Partial<Omit<ContactState, 'customFields'>> & {
  /** The keys to set, null removing one; null as a whole removes every value. */
  customFields?: Record<string, CustomFieldValue | null> | null;
  /** companyName as sent (trimmed; null clears); the write turns it into primaryCompanyId under its locks. */
  companyName?: string | null;
  /** The company to make the primary connection (null: drop the primary connection). */
  primaryCompanyId?: string | null;
};

type StoredOf<F> = F extends { readonly storage: 'jsonArray' | 'jsonObject' | 'jsonMap'; readonly empty: infer V }
  ? import('kysely').ColumnType<V, string | null, string | null>
  : ValueOf<F>;

/** The columns the declarations store, as the database types them (src/db/schema.ts builds the table from it). */
export type ContactFieldColumns = { [F in Declared as F['column']]: StoredOf<F> };

export const FIELD_LIST: readonly FieldDeclaration[] = CONTACT_FIELDS as readonly FieldDeclaration[];

export const EMPTY_CONTACT: Readonly<ContactState> = Object.freeze(
  Object.fromEntries(FIELD_LIST.map((field) => [field.key, field.empty])) as ContactState,
);

export const IDENTIFIER_FIELDS = FIELD_LIST.filter((field) => field.identifier === true);

/** A request's value of a field, before normalization. */
type InputOf<F> = F extends { readonly key: 'emails' }
  ? Array<{ address: string; type?: string | null }>
  : F extends { readonly key: 'phones' }
    ? Array<{ number: string; type?: string | null }>
    : F extends { readonly key: 'externalRefs' }
      ? ExternalRef[]
      : F extends { readonly key: 'connections' }
        ? ConnectionInput[]
        : F extends { readonly key: 'customFields' }
          ? CustomFieldsInput
          : F extends { readonly storage: 'textArray' }
            ? string[]
            : F extends { readonly storage: 'boolean' }
              ? boolean
              : F extends { readonly storage: 'jsonObject'; readonly empty: infer V }
                ? NonNullable<V>
                : string;

/** Every writable field as the services see a validated request: present or not, null clearing it. */
export type ContactInput = { [F in Declared as F['key']]?: InputOf<F> | null } & {
  name?: string | null;
  locationId?: string | null;
  companyName?: string | null;
};

/** The request properties of one page, derived from the declarations: optional, null clears. */
export function pageProperties(page: ContactPage): Record<string, TSchema> {
  const properties: Record<string, TSchema> = {};
  const name = NAME_FIELD.input[page];
  if (name !== undefined) properties[NAME_FIELD.key] = Type.Optional(nullable(name));
  const location = LOCATION_FIELD.input[page];
  if (location !== undefined) properties[LOCATION_FIELD.key] = Type.Optional(nullable(location));
  for (const field of FIELD_LIST) {
    const schema = field.input[page];
    if (schema === undefined) continue;
    // A shared schema ($ref) has no `type` to widen with null; it becomes one of the two.
    properties[field.key] = Type.Optional('$ref' in schema ? Type.Union([schema, Type.Null()]) : nullable(schema));
  }
  const companyName = COMPANY_NAME_FIELD.input[page];
  if (companyName !== undefined) properties[COMPANY_NAME_FIELD.key] = Type.Optional(nullable(companyName));
  return properties;
}

/** The representation's properties for the declared fields, in declaration order. */
export function representationProperties(): Record<string, TSchema> {
  const properties: Record<string, TSchema> = { [NAME_FIELD.key]: NAME_FIELD.output };
  for (const field of FIELD_LIST) if (field.output !== null) properties[field.key] = field.output;
  properties[COMPANY_NAME_FIELD.key] = COMPANY_NAME_FIELD.output;
  return properties;
}
