import type { Db } from '../db/database.js';
import type { CustomFieldOptionJson, CustomFieldType } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import { assertIfMatch, readIfMatch } from '../http/preconditions.js';
import { AppError, type FieldErrors } from '../http/problem.js';
import { contactFieldEtag } from './custom-field.mapper.js';
import type { CustomFieldDefinition, DefinitionValues } from './custom-field.repository.js';
import * as repository from './custom-field.repository.js';
import {
  type CreateContactFieldInput,
  MAX_CONTACT_FIELDS_PER_ORGANIZATION,
  type UpdateContactFieldInput,
} from './custom-field.schemas.js';
import { SELECT_TYPES } from './custom-field-types.js';

export interface ContactFieldContext {
  organizationId: string;
  /** The organization's requireIfMatch setting: changes without If-Match answer 428. */
  requireIfMatch: boolean;
}

const WHAT = 'custom field';

function notFound(key: string): AppError {
  return new AppError('not-found', `The custom field ${key} does not exist in your organization.`);
}

function addError(errors: FieldErrors, field: string, message: string): void {
  errors[field] = [...(Object.hasOwn(errors, field) ? (errors[field] as string[]) : []), message];
}

function throwIfAny(errors: FieldErrors): void {
  if (Object.keys(errors).length > 0) throw AppError.validation(errors);
}

function normalizeLabel(label: string, field: string, errors: FieldErrors): string {
  const trimmed = label.trim();
  if (trimmed === '') addError(errors, field, 'must not be blank');
  return trimmed;
}

/**
 * Options as stored: trimmed, each value once. Select types need at least one; the others have
 * none, and `[]` (what GET shows them with) is accepted as none.
 */
function normalizeOptions(
  type: CustomFieldType,
  options: readonly CustomFieldOptionJson[] | undefined,
  errors: FieldErrors,
): CustomFieldOptionJson[] {
  if (!SELECT_TYPES.has(type)) {
    if (options !== undefined && options.length > 0) {
      addError(errors, 'options', `only single_select and multi_select fields have options; a ${type} field has none`);
    }
    return [];
  }
  if (options === undefined || options.length === 0) {
    addError(errors, 'options', `a ${type} field needs at least one option`);
    return [];
  }
  const firstIndex = new Map<string, number>();
  return options.map((option, index) => {
    const value = normalizeLabel(option.value, `options[${index}].value`, errors);
    const label = normalizeLabel(option.label, `options[${index}].label`, errors);
    const first = firstIndex.get(value);
    if (first !== undefined && value !== '') {
      addError(errors, `options[${index}].value`, `repeats ${JSON.stringify(value)} of options[${first}]`);
    } else {
      firstIndex.set(value, index);
    }
    return { value, label };
  });
}

function sameOptions(a: readonly CustomFieldOptionJson[], b: readonly CustomFieldOptionJson[]): boolean {
  return (
    a.length === b.length &&
    a.every((option, index) => option.value === b[index]?.value && option.label === b[index]?.label)
  );
}

function sameValues(a: DefinitionValues, b: DefinitionValues): boolean {
  return a.label === b.label && a.archived === b.archived && sameOptions(a.options, b.options);
}

export async function listContactFields(db: Db, organizationId: string): Promise<CustomFieldDefinition[]> {
  return repository.listDefinitions(db, organizationId);
}

export async function getContactField(db: Db, organizationId: string, key: string): Promise<CustomFieldDefinition> {
  const definition = await repository.findDefinition(db, organizationId, key);
  if (definition === undefined) throw notFound(key);
  return definition;
}

export async function createContactField(
  db: Db,
  organizationId: string,
  input: CreateContactFieldInput,
): Promise<CustomFieldDefinition> {
  const errors: FieldErrors = {};
  const values: DefinitionValues = {
    label: normalizeLabel(input.label, 'label', errors),
    options: normalizeOptions(input.type, input.options, errors),
    archived: input.archived ?? false,
  };
  throwIfAny(errors);
  return inTransaction(db, async (trx) => {
    await repository.lockOrganizationDefinitions(trx, organizationId);
    if ((await repository.countDefinitions(trx, organizationId)) >= MAX_CONTACT_FIELDS_PER_ORGANIZATION) {
      throw new AppError(
        'contact-field-limit-reached',
        `Your organization has ${MAX_CONTACT_FIELDS_PER_ORGANIZATION} custom contact fields, the most it may have (archived ones count); delete one first.`,
        { limit: MAX_CONTACT_FIELDS_PER_ORGANIZATION },
      );
    }
    const created = await repository.insertDefinition(trx, organizationId, input.key, input.type, values);
    if (created === undefined) {
      throw new AppError('conflict', `Your organization already has a custom field with the key ${input.key}.`, {
        conflictField: 'key',
      });
    }
    return created;
  });
}

export async function updateContactField(
  db: Db,
  context: ContactFieldContext,
  key: string,
  input: UpdateContactFieldInput,
  ifMatchHeader: string | undefined,
): Promise<CustomFieldDefinition> {
  const ifMatch = readIfMatch(ifMatchHeader, context.requireIfMatch);
  const { organizationId } = context;
  return inTransaction(db, async (trx) => {
    const current = await repository.findDefinition(trx, organizationId, key, { lock: true });
    if (current === undefined) throw notFound(key);
    assertIfMatch(ifMatch, contactFieldEtag(current), WHAT);
    const errors: FieldErrors = {};
    // Values on contacts are stored under the key and checked by the type: neither can change under them.
    if (input.key !== undefined && input.key !== current.key) {
      addError(errors, 'key', 'cannot change; create a new field');
    }
    if (input.type !== undefined && input.type !== current.type) {
      addError(errors, 'type', 'cannot change; create a new field');
    }
    const next: DefinitionValues = {
      label: input.label === undefined ? current.label : normalizeLabel(input.label, 'label', errors),
      options: input.options === undefined ? current.options : normalizeOptions(current.type, input.options, errors),
      archived: input.archived ?? current.archived,
    };
    throwIfAny(errors);
    if (sameValues(current, next)) return current;
    const kept = new Set(next.options.map((option) => option.value));
    const removed = current.options.map((option) => option.value).filter((value) => !kept.has(value));
    const held = await repository.findHeldOptionValues(trx, organizationId, key, removed);
    if (held.length > 0) {
      const listed = held.map((value) => JSON.stringify(value)).join(', ');
      throw new AppError(
        'contact-field-in-use',
        `Contacts hold ${listed} in ${key}, which this change removes from its options; change those contacts' values first, or keep the options.`,
        { errors: { options: [`removes ${listed}, which contacts still hold`] } },
      );
    }
    return repository.updateDefinition(trx, organizationId, key, next);
  });
}

export async function deleteContactField(
  db: Db,
  context: ContactFieldContext,
  key: string,
  ifMatchHeader: string | undefined,
): Promise<void> {
  const ifMatch = readIfMatch(ifMatchHeader, context.requireIfMatch);
  const { organizationId } = context;
  await inTransaction(db, async (trx) => {
    const current = await repository.findDefinition(trx, organizationId, key, { lock: true });
    if (current === undefined) throw notFound(key);
    assertIfMatch(ifMatch, contactFieldEtag(current), WHAT);
    if (await repository.contactsHoldValues(trx, organizationId, key)) {
      throw new AppError(
        'contact-field-in-use',
        `Contacts (deleted ones included) hold values of ${key}; archive it instead (PATCH archived: true), or clear those values first.`,
      );
    }
    await repository.deleteDefinition(trx, organizationId, key);
  });
}
