import { normalizePhone } from '../contacts/phone.js';
import type { CustomFieldOptionJson, CustomFieldType } from '../db/schema.js';
import { isCalendarDate, isEmailAddress, isHttpUrl } from '../http/formats.js';

/** Every type a custom field can have, in the order the documentation lists them. */
export const CUSTOM_FIELD_TYPES = [
  'text',
  'number',
  'boolean',
  'date',
  'datetime',
  'url',
  'email',
  'phone',
  'single_select',
  'multi_select',
] as const satisfies readonly CustomFieldType[];

/** The types whose values must be one (or, for multi_select, several) of the definition's options. */
export const SELECT_TYPES: ReadonlySet<CustomFieldType> = new Set(['single_select', 'multi_select']);

/** What a value's rules need to know of its definition. */
export interface ValueDefinition {
  type: CustomFieldType;
  options: readonly CustomFieldOptionJson[];
}

export type Checked = { ok: true; value: unknown } | { ok: false; message: string };

export const MAX_TEXT_LENGTH = 10_000;
const MAX_SHORT_LENGTH = 2_000;

const valid = (value: unknown): Checked => ({ ok: true, value });
const invalid = (message: string): Checked => ({ ok: false, message });

/**
 * A number as JSON carries it, or as a decimal string: CRM exports (HubSpot properties, the array
 * form of seed 003) send every value as text, and `"125000"` means the number unambiguously.
 */
function readNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string' || !/^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/u.test(value)) return null;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : null;
}

function readBoolean(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return null;
}

// RFC 3339 with a required offset: a datetime without one names no instant.
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/u;

/** The instant as `toISOString` writes it (UTC, milliseconds), so equal instants compare equal. */
function readDateTime(value: string): string | null {
  const match = DATE_TIME.exec(value.trim());
  if (match === null || !isCalendarDate(match[1] as string)) return null;
  if (Number(match[2]) > 23 || Number(match[3]) > 59 || Number(match[4]) > 59) return null;
  const instant = new Date(value.trim().replace(' ', 'T'));
  return Number.isNaN(instant.getTime()) ? null : instant.toISOString();
}

function optionList(definition: ValueDefinition): string {
  return definition.options.map((option) => JSON.stringify(option.value)).join(', ');
}

function isOption(definition: ValueDefinition, value: string): boolean {
  return definition.options.some((option) => option.value === value);
}

function text(value: unknown, maxLength: number, check?: (text: string) => boolean, what = 'a string'): Checked {
  if (typeof value !== 'string') return invalid(`must be ${what}`);
  const trimmed = value.trim();
  if (trimmed === '') return valid(null);
  if (trimmed.length > maxLength) return invalid(`must be at most ${maxLength} characters`);
  if (check !== undefined && !check(trimmed)) return invalid(`must be ${what}`);
  return valid(trimmed);
}

interface TypeRules {
  /** The canonical stored value of a sent value; null clears the field (a blank text, an empty list). */
  normalize(value: unknown, definition: ValueDefinition, region: string | null): Checked;
  /** Whether `custom.<key>=` filters on the type; its text is then read as a sent value would be. */
  searchable: boolean;
  /** Where a searched value differs from a sent one (a multi-select matches when it holds the value). */
  searchValue?(raw: string, definition: ValueDefinition): Checked;
}

/** The rules of each type, declared once: values on contacts and search parameters both follow them. */
export const TYPE_RULES: Record<CustomFieldType, TypeRules> = {
  text: { normalize: (value) => text(value, MAX_TEXT_LENGTH), searchable: true },
  number: {
    normalize: (value) => {
      const number = readNumber(value);
      return number === null ? invalid('must be a finite number') : valid(number);
    },
    searchable: true,
  },
  boolean: {
    normalize: (value) => {
      const flag = readBoolean(value);
      return flag === null ? invalid('must be true or false') : valid(flag);
    },
    searchable: true,
  },
  date: { normalize: (value) => text(value, 10, isCalendarDate, 'a date (YYYY-MM-DD)'), searchable: true },
  datetime: {
    normalize: (value) => {
      if (typeof value !== 'string') return invalid('must be an RFC 3339 date-time with an offset');
      if (value.trim() === '') return valid(null);
      const instant = readDateTime(value);
      return instant === null ? invalid('must be an RFC 3339 date-time with an offset') : valid(instant);
    },
    searchable: false,
  },
  url: { normalize: (value) => text(value, MAX_SHORT_LENGTH, isHttpUrl, 'an http or https URL'), searchable: false },
  email: { normalize: (value) => text(value, 254, isEmailAddress, 'an email address'), searchable: false },
  phone: {
    normalize: (value, _definition, region) => {
      const checked = text(value, 50, undefined, 'a phone number');
      return checked.ok && typeof checked.value === 'string' ? valid(normalizePhone(checked.value, region)) : checked;
    },
    searchable: false,
  },
  single_select: {
    normalize: (value, definition) => {
      if (typeof value !== 'string') return invalid(`must be one of ${optionList(definition)}`);
      if (value === '') return valid(null);
      return isOption(definition, value) ? valid(value) : invalid(`must be one of ${optionList(definition)}`);
    },
    searchable: true,
  },
  multi_select: {
    normalize: (value, definition) => {
      if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
        return invalid(`must be a list of values among ${optionList(definition)}`);
      }
      const values = value as string[];
      const unknown = values.find((entry) => !isOption(definition, entry));
      if (unknown !== undefined) {
        return invalid(`${JSON.stringify(unknown)} is not one of ${optionList(definition)}`);
      }
      const duplicate = values.find((entry, index) => values.indexOf(entry) !== index);
      if (duplicate !== undefined) return invalid(`lists ${JSON.stringify(duplicate)} twice`);
      return valid(values.length === 0 ? null : values);
    },
    searchable: true,
    // Containment of a one-element list.
    searchValue: (raw, definition) =>
      isOption(definition, raw) ? valid([raw]) : invalid(`must be one of ${optionList(definition)}`),
  },
};

/**
 * The stored form `custom.<key>=raw` compares with (jsonb containment), or why it cannot: the
 * type is not searchable, or the text is not a value of the type.
 */
export function parseSearchValue(definition: ValueDefinition, raw: string): Checked {
  const rules = TYPE_RULES[definition.type];
  if (!rules.searchable) return invalid(`a ${definition.type} field cannot be searched`);
  const checked = rules.searchValue?.(raw, definition) ?? rules.normalize(raw, definition, null);
  if (checked.ok && checked.value === null) return invalid('must not be blank');
  return checked;
}
