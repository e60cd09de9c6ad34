import { type Static, Type } from 'typebox';
import { parseSearchValue, type ValueDefinition } from '../contact-fields/custom-field-types.js';
import type { FeedSearch } from '../http/feed.js';
import { AppError, type FieldErrors } from '../http/problem.js';
import { ListQuery, QueryString, SYSTEM_NAME_PATTERN, SystemName } from '../http/schemas.js';
import { UNKNOWN_FIELDS_NAMED } from '../http/validation.js';
import { CUSTOM_FIELD_KEY_PATTERN } from './contact.fields.js';
import { emailKey } from './email.js';
import { phoneKey } from './phone.js';

/**
 * Search on the contacts list: the filters of `GET /contacts`, read from the query string into the
 * canonical form the cursor carries (http/feed.ts: FeedSearch), and back into the terms the
 * repository turns into SQL. Every filter keeps the change-feed order and its cursor paging.
 */

export const MAX_SEARCH_TAGS = 20;
export const MAX_TAG_LENGTH = 100;
/** How much of each tag its key holds (migration 0011: contact_tag_keys; 0012's `t:` search terms cut the same way). */
export const TAG_KEY_LENGTH = 100;
export const MAX_CUSTOM_FILTERS = 10;
export const MAX_CUSTOM_VALUE_LENGTH = 255;
export const MAX_Q_LENGTH = 100;
/**
 * The most a search may weigh in the cursor, as JSON: a cursor carries it, and a cursor must fit
 * the `cursor` parameter (10,000 characters) and, beside the filters a client may send again, a
 * request line (16 KB with Node's default header limit). Values within their own limits can only
 * pass it together, and non-ASCII (a 100-character tag can take 400 bytes).
 */
export const MAX_SEARCH_BYTES = 4096;

/** `custom.<key>`: a custom field's key (contact-fields/) behind the prefix. */
const CUSTOM_PARAMETER_PATTERN = `^custom\\.${CUSTOM_FIELD_KEY_PATTERN.slice(1)}`;
const CUSTOM_PREFIX = 'custom.';
const SYSTEM_NAME = new RegExp(SYSTEM_NAME_PATTERN);

const searchProperties = {
  email: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      format: 'email-address',
      description: 'Only contacts having this email among their emails (any of them), compared case-insensitively.',
      examples: ['jane.doe@example.com'],
    }),
  ),
  phone: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 50,
      description:
        "Only the contact whose primary phone is this number, compared in E.164 (read with your organization's default phone region when it has no country code).",
      examples: ['+15559876543'],
    }),
  ),
  tag: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: MAX_TAG_LENGTH }), {
      minItems: 1,
      maxItems: MAX_SEARCH_TAGS,
      description: `Only contacts having every tag given (repeat the parameter, at most ${MAX_SEARCH_TAGS} times); exact, case-sensitive.`,
      examples: [['vip']],
    }),
  ),
  external_ref: Type.Optional(
    Type.String({
      minLength: 3,
      maxLength: 306,
      description:
        'Only the contact holding this external reference, as `namespace:id` (split at the first colon; the namespace in any case, the id exact and free to contain colons).',
      examples: ['hubspot:12345'],
    }),
  ),
  namespace: Type.Optional(
    SystemName({
      description: 'Only contacts having at least one external reference in this namespace (any case).',
      examples: ['hubspot'],
    }),
  ),
  q: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_Q_LENGTH,
      description:
        'Only contacts whose first name, last name, full name (first and last name joined by a space) or primary email starts with this text, case-insensitively.',
      examples: ['jane'],
    }),
  ),
};

export const ContactListQuery = QueryString(
  {
    ...ListQuery.properties,
    // Longer than other lists' cursors: a contacts cursor carries the search (tags, custom values).
    cursor: Type.Optional(
      Type.String({ maxLength: 10_000, description: "A page's nextCursor; it carries the filters of the first page." }),
    ),
    ...searchProperties,
  },
  {
    // `custom.<key>=value`; any other name stays an unknown parameter (additionalProperties: false).
    patternProperties: {
      [CUSTOM_PARAMETER_PATTERN]: Type.String({ minLength: 1, maxLength: MAX_CUSTOM_VALUE_LENGTH }),
    },
    // As many unknown parameters are named as in a closed object (http/validation.ts: boundedSchema).
    maxProperties:
      Object.keys(ListQuery.properties).length + Object.keys(searchProperties).length + UNKNOWN_FIELDS_NAMED,
  },
);
export type ContactListQueryInput = Static<typeof ContactListQuery>;

/** What the OpenAPI document says of the filters it cannot list as parameters (`custom.<key>`). */
export const CONTACT_SEARCH_DESCRIPTION =
  'Filters (`email`, `phone`, `tag`, `external_ref`, `namespace`, `q`, `custom.<key>`) combine with AND, with each other and with `updated_since` and `include_deleted`; the list keeps its change-feed order and paging, and `nextCursor` carries the filters (send them again unchanged, or leave them out). ' +
  `\`custom.<key>=value\` (at most ${MAX_CUSTOM_FILTERS}) matches contacts whose custom field \`<key>\` equals the value as the field's type reads it, or, for a multi_select field, holds it; text, number, boolean, date, single_select and multi_select fields can be searched.`;

/** A custom field definition as search needs it. */
export interface SearchDefinition extends ValueDefinition {
  key: string;
}

/** The search of one request, as the repository applies it. */
export interface ContactSearchTerms {
  /** emailKey() of the address: compared with any of the contact's email keys. */
  email: string | null;
  /** phoneKey() with the organization's region: compared with the primary phone's key. */
  phone: string | null;
  /** Sorted, without duplicates; all must be on the contact. */
  tags: string[] | null;
  /** The namespace lower-cased. */
  externalRef: { namespace: string; id: string } | null;
  namespace: string | null;
  /** As sent; lower-cased in SQL (see contact.repository.ts: qCondition). */
  q: string | null;
  /** key → the value the contact's custom_fields must contain under it. */
  custom: Record<string, unknown> | null;
}

function isBlank(text: string): boolean {
  return text.trim() === '';
}

/** `namespace:id` split at the first colon; null when either part is malformed. */
export function parseExternalRef(text: string): { namespace: string; id: string } | null {
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const namespace = text.slice(0, colon);
  const id = text.slice(colon + 1);
  if (!SYSTEM_NAME.test(namespace) || id.length === 0 || id.length > 255) return null;
  return { namespace: namespace.toLowerCase(), id };
}

/**
 * The request's filters in canonical form, keyed by parameter (http/feed.ts: FeedSearch), so that
 * sending the same search again (tags in another order, an email in another case, a phone written
 * another way) gives an equal value. Definitions are read only when a `custom.*` parameter is sent.
 */
export async function contactSearch(
  query: Readonly<Record<string, unknown>>,
  phoneRegion: string | null,
  definitions: () => Promise<readonly SearchDefinition[]>,
): Promise<FeedSearch> {
  const search: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  const fail = (parameter: string, message: string) => {
    errors[parameter] = [message];
  };

  // The schema checked types, lengths and formats; what remains are rules a schema states poorly.
  const text = (parameter: string): string | undefined => {
    const value = query[parameter];
    return typeof value === 'string' ? value : undefined;
  };
  const email = text('email');
  if (email !== undefined) search.email = emailKey(email);
  const phone = text('phone');
  if (phone !== undefined) {
    if (isBlank(phone)) fail('phone', 'must not be blank');
    else search.phone = phoneKey(phone, phoneRegion);
  }
  const tags = query.tag;
  if (Array.isArray(tags)) search.tag = [...new Set(tags as string[])].sort();
  const externalRef = text('external_ref');
  if (externalRef !== undefined) {
    const ref = parseExternalRef(externalRef);
    if (ref === null) {
      fail(
        'external_ref',
        'must be namespace:id, e.g. hubspot:12345 (a namespace of letters, digits, ".", "_" or "-", then an id of 1 to 255 characters)',
      );
    } else {
      search.external_ref = [ref.namespace, ref.id];
    }
  }
  const namespace = text('namespace');
  if (namespace !== undefined) search.namespace = namespace.toLowerCase();
  const q = text('q');
  if (q !== undefined) {
    if (isBlank(q)) fail('q', 'must not be blank');
    else search.q = q;
  }

  const customParameters = Object.keys(query)
    .filter((parameter) => parameter.startsWith(CUSTOM_PREFIX))
    .sort();
  if (customParameters.length > MAX_CUSTOM_FILTERS) {
    fail(customParameters[MAX_CUSTOM_FILTERS] as string, `at most ${MAX_CUSTOM_FILTERS} custom.* filters at once`);
  } else if (customParameters.length > 0) {
    const byKey = new Map((await definitions()).map((definition) => [definition.key, definition]));
    for (const parameter of customParameters) {
      const definition = byKey.get(parameter.slice(CUSTOM_PREFIX.length));
      const raw = text(parameter) as string;
      if (definition === undefined) {
        fail(parameter, 'is not a custom field of your organization');
      } else {
        // Refuses the types that cannot be searched too, naming the type.
        const parsed = parseSearchValue(definition, raw);
        if (parsed.ok) search[parameter] = parsed.value;
        else fail(parameter, parsed.message);
      }
    }
  }

  if (Object.keys(errors).length > 0) throw AppError.validation(errors);
  const bytes = Buffer.byteLength(JSON.stringify(search));
  if (bytes > MAX_SEARCH_BYTES) {
    // Named after the heaviest parameter: the one to shorten first.
    const weight = (parameter: string) => Buffer.byteLength(JSON.stringify(search[parameter]));
    const heaviest = Object.keys(search).reduce((a, b) => (weight(b) > weight(a) ? b : a));
    throw AppError.validation({
      [heaviest]: [`makes the search too long to page through (${bytes} bytes as JSON, at most ${MAX_SEARCH_BYTES})`],
    });
  }
  return search;
}

/** The terms a canonical search stands for (one the cursor carried included). */
export function searchTerms(search: FeedSearch): ContactSearchTerms {
  const string = (parameter: string) => {
    const value = search[parameter];
    return typeof value === 'string' ? value : null;
  };
  const ref = search.external_ref as [string, string] | undefined;
  let custom: Record<string, unknown> | null = null;
  for (const [parameter, value] of Object.entries(search)) {
    if (!parameter.startsWith(CUSTOM_PREFIX)) continue;
    // Keys are client-chosen (`custom.constructor` is a valid one): no prototype to meet.
    custom ??= Object.create(null) as Record<string, unknown>;
    custom[parameter.slice(CUSTOM_PREFIX.length)] = value;
  }
  return {
    email: string('email'),
    phone: string('phone'),
    tags: Array.isArray(search.tag) ? (search.tag as string[]) : null,
    externalRef: ref === undefined ? null : { namespace: ref[0], id: ref[1] },
    namespace: string('namespace'),
    q: string('q'),
    custom,
  };
}

/** `text` as a LIKE pattern matching itself followed by anything: `\`, `%` and `_` escaped (the default escape `\`). */
export function likePrefix(text: string): string {
  return `${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

/**
 * The ways `q` can be a prefix of a full name (`first last`) that a prefix of the first or the last
 * name alone does not cover: for each space in q, the first name equals what precedes it and the
 * last name starts with what follows (`mary ann sm` → `mary` + `ann sm…`, `mary ann` + `sm…`).
 */
export function fullNameSplits(q: string): Array<{ first: string; lastPrefix: string }> {
  const splits: Array<{ first: string; lastPrefix: string }> = [];
  for (let index = q.indexOf(' '); index >= 0; index = q.indexOf(' ', index + 1)) {
    // Names are stored trimmed: a first name neither is empty nor ends with a space.
    if (index > 0 && q[index - 1] !== ' ') splits.push({ first: q.slice(0, index), lastPrefix: q.slice(index + 1) });
  }
  return splits;
}
