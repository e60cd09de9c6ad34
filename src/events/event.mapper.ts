import { companyChangedFields, toCompany } from '../companies/company.mapper.js';
import type { CompanyRow } from '../companies/company.repository.js';
import { contactChangedFields, toContact } from '../contacts/contact.mapper.js';
import type { ContactRow } from '../contacts/contact.repository.js';
import type { EventRow } from './event.repository.js';
import type { Event } from './event.schemas.js';

// jsonb carries timestamps as text; the row types (and the mappers) hold them as Date.
const TIMESTAMP_COLUMNS = ['created_at', 'updated_at', 'deleted_at'] as const;

function storedRow(data: Record<string, unknown>): Record<string, unknown> {
  const row = { ...data };
  for (const column of TIMESTAMP_COLUMNS) {
    const value = row[column];
    row[column] = typeof value === 'string' ? new Date(value) : null;
  }
  return row;
}

/** An event as the API shows it: its record through the record's own mapper, its changes as field names. */
export function toEvent(row: EventRow): Event {
  const common = {
    id: row.id,
    seq: row.seq,
    type: row.type,
    occurredUtc: row.occurred_at.toISOString(),
    origin: row.origin,
    resourceId: row.resource_id,
  };
  if (row.resource_type === 'contact') {
    const contact = toContact(storedRow(row.data) as unknown as ContactRow);
    return { ...common, changedFields: contactChangedFields(row.changed_columns, contact), data: contact };
  }
  const company = toCompany(storedRow(row.data) as unknown as CompanyRow);
  return { ...common, changedFields: companyChangedFields(row.changed_columns, company), data: company };
}
