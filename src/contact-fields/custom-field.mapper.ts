import { weakEtag } from '../http/etag.js';
import type { CustomFieldDefinition } from './custom-field.repository.js';
import type { ContactField } from './custom-field.schemas.js';

export const CONTACT_FIELDS_PATH = '/api/v1/network/contact-fields';

export function contactFieldEtag(definition: Pick<CustomFieldDefinition, 'key' | 'version'>): string {
  return weakEtag('contact-field', definition.key, definition.version);
}

export function toContactField(definition: CustomFieldDefinition): ContactField {
  return {
    key: definition.key,
    label: definition.label,
    type: definition.type,
    options: definition.options.map((option) => ({ value: option.value, label: option.label })),
    archived: definition.archived,
    createdUtc: definition.createdAt.toISOString(),
    updatedUtc: definition.updatedAt.toISOString(),
    etag: contactFieldEtag(definition),
  };
}
