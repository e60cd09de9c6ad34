import { type Example, type ExampleRef, type Examples, sharedExample } from '../http/schemas.js';
import { toContactField } from './custom-field.mapper.js';
import type { CustomFieldDefinition } from './custom-field.repository.js';
import type { ContactField, CreateContactFieldInput, UpdateContactFieldInput } from './custom-field.schemas.js';

/**
 * The custom fields and request bodies the OpenAPI document shows: a brokerage that tracks its
 * contacts' membership tier, budget and preferred areas. A contract test validates each against its schema.
 */

const membershipTierBody = {
  key: 'membership_tier',
  label: 'Membership tier',
  type: 'single_select',
  options: [
    { value: 'gold', label: 'Gold' },
    { value: 'silver', label: 'Silver' },
    { value: 'bronze', label: 'Bronze' },
  ],
} satisfies CreateContactFieldInput;

const budgetBody = { key: 'budget_sek', label: 'Budget (SEK)', type: 'number' } satisfies CreateContactFieldInput;

const preferredAreasBody = {
  key: 'preferred_areas',
  label: 'Preferred areas',
  type: 'multi_select',
  options: [
    { value: 'sodermalm', label: 'Södermalm' },
    { value: 'vasastan', label: 'Vasastan' },
    { value: 'ostermalm', label: 'Östermalm' },
  ],
} satisfies CreateContactFieldInput;

const membershipTier: CustomFieldDefinition = {
  ...membershipTierBody,
  archived: false,
  version: 1,
  createdAt: new Date('2026-12-01T09:12:04.518Z'),
  updatedAt: new Date('2026-12-01T09:12:04.518Z'),
};

export const membershipTierField: ContactField = toContactField(membershipTier);

/** The same field after an option was added and the labels reworded. */
export const membershipTierChanged: ContactField = toContactField({
  ...membershipTier,
  label: 'Tier',
  options: [{ value: 'platinum', label: 'Platinum' }, ...membershipTier.options],
  version: 2,
  updatedAt: new Date('2026-12-03T15:40:22.107Z'),
});

export const budgetField: ContactField = toContactField({
  ...budgetBody,
  options: [],
  archived: false,
  version: 1,
  createdAt: new Date('2026-12-01T09:13:50.002Z'),
  updatedAt: new Date('2026-12-01T09:13:50.002Z'),
});

/** A field no longer used: archived, its values kept on the contacts. */
export const preferredAreasArchived: ContactField = toContactField({
  ...preferredAreasBody,
  archived: true,
  version: 3,
  createdAt: new Date('2026-12-01T09:15:31.774Z'),
  updatedAt: new Date('2026-12-05T11:02:48.390Z'),
});

const sharedContactFieldExamples = {
  'contact-field-membership-tier': { summary: 'A single-select field', value: membershipTierField },
} satisfies Record<string, Example>;

/** A field that several answers show, listed once in the document and referenced. */
export function contactFieldExample(name: keyof typeof sharedContactFieldExamples): ExampleRef {
  return sharedExample(name, sharedContactFieldExamples[name]);
}

export const createContactFieldExamples: Examples = {
  singleSelect: { summary: 'A single-select field with three options', value: membershipTierBody },
  number: { summary: 'A number field: no options', value: budgetBody },
  multiSelect: { summary: 'A multi-select field', value: preferredAreasBody },
};

export const updateContactFieldExamples: Examples = {
  addOption: {
    summary: 'Add an option and rename the field',
    value: {
      label: 'Tier',
      options: [{ value: 'platinum', label: 'Platinum' }, ...membershipTierBody.options],
    } satisfies UpdateContactFieldInput,
  },
  archive: { summary: 'Archive a field no longer used', value: { archived: true } satisfies UpdateContactFieldInput },
  roundTrip: {
    summary: 'A field as GET shows it, sent back with a new label (key and type unchanged)',
    value: {
      key: budgetField.key,
      label: 'Budget, SEK',
      type: budgetField.type,
      options: [],
      archived: false,
    } satisfies UpdateContactFieldInput,
  },
};
