import type { ColumnType, Generated } from 'kysely';
import type { ContactFieldColumns } from '../contacts/contact.fields.js';

/** Read as Date; written as Date or ISO text. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamp the database fills in by default. */
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface OrganizationSettingsRow {
  defaultPhoneRegion: string | null;
  duplicateContactMatching: { fields: Array<'email' | 'phone'> };
  requireIfMatch: boolean;
}

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  settings: ColumnType<OrganizationSettingsRow, string, string>;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

export interface ApiTokensTable {
  organization_id: string;
  id: Generated<string>;
  name: string | null;
  token_hash: Buffer;
  scopes: string[];
  created_at: DefaultedTimestamp;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  /** The origin this token's writes are recorded with when the request names none. */
  origin: string | null;
  /** The secret the last rotation replaced, still accepted until previous_token_expires_at. */
  previous_token_hash: Buffer | null;
  previous_token_expires_at: Timestamp | null;
  rotated_at: Timestamp | null;
}

export interface ExternalRefJson {
  namespace: string;
  id: string;
}

export interface EmailJson {
  address: string;
  type: string | null;
  isPrimary: boolean;
}

export interface PhoneJson {
  number: string;
  type: string | null;
  isPrimary: boolean;
}

export interface ConnectionJson {
  companyId: string;
  jobTitle: string | null;
  isPrimary: boolean;
}

type Json<T> = ColumnType<T, string, string>;

export type ChangeType = 'created' | 'updated' | 'deleted' | 'revived';

/** The declared fields' columns (contact.fields.ts) and the bookkeeping every contact row has. */
export interface ContactsTable extends ContactFieldColumns {
  organization_id: string;
  id: Generated<string>;
  version: number;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
  deleted_at: Timestamp | null;
  change_type: ChangeType;
  change_origin: string;
  /** xid8, read as text. */
  change_xid: ColumnType<string, never, never>;
}

/** An option of a select custom field. */
export interface CustomFieldOptionJson {
  value: string;
  label: string;
}

export type CustomFieldType =
  | 'text'
  | 'number'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'url'
  | 'email'
  | 'phone'
  | 'single_select'
  | 'multi_select';

/** An organization's custom contact field (migration 0010); values live in contacts.custom_fields under `key`. */
export interface ContactFieldDefinitionsTable {
  organization_id: string;
  key: string;
  label: string;
  type: CustomFieldType;
  options: Json<CustomFieldOptionJson[]>;
  archived: Generated<boolean>;
  version: Generated<number>;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

export interface ContactExternalRefsTable {
  organization_id: string;
  namespace: string;
  external_id: string;
  contact_id: string;
}

export interface CompaniesTable {
  organization_id: string;
  id: Generated<string>;
  name: string;
  website: string | null;
  external_refs: Json<ExternalRefJson[]>;
  version: number;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
  deleted_at: Timestamp | null;
  change_origin: string;
  change_xid: ColumnType<string, never, never>;
}

export interface CompanyExternalRefsTable {
  organization_id: string;
  namespace: string;
  external_id: string;
  company_id: string;
}

export interface ServerSecretsTable {
  name: string;
  secret: Buffer;
}

export interface IdempotencyKeysTable {
  organization_id: string;
  key_hash: string;
  request_hash: string;
  response_status: number;
  response_headers: ColumnType<Record<string, string>, string, string>;
  response_body: string;
  created_at: DefaultedTimestamp;
}

export type EventResourceType = 'contact' | 'company';

/** Columns an event has in the outbox and in the log (migration 0006). */
interface EventColumns {
  organization_id: string;
  id: Generated<string>;
  resource_type: EventResourceType;
  resource_id: string;
  resource_version: number;
  type: string;
  origin: string;
  occurred_at: Timestamp;
  /** Null for a creation. */
  changed_columns: string[] | null;
  /** The row right after the change (jsonb), with `companies` for a contact. */
  data: ColumnType<Record<string, unknown>, string, string>;
}

export interface EventOutboxTable extends EventColumns {
  recorded: Generated<string>;
}

export interface EventsTable extends EventColumns {
  /** bigint, read as a number (database.ts). */
  seq: number;
}

export interface FeedPositionsTable {
  organization_id: string;
  resource_type: EventResourceType;
  resource_id: string;
  /** The number of the record's latest event. */
  seq: number;
  /** The number it had before (migration 0014: the sequencer reads it back); null until it moves. */
  previous_seq: number | null;
  updated_at: Timestamp;
}

/** A contact's search term at its feed position (migration 0012): the posting list search pages through. */
export interface ContactSearchTermsTable {
  organization_id: string;
  seq: number;
  term: string;
  contact_id: string;
}

export interface EventCountersTable {
  organization_id: string;
  last_seq: number;
  pruned_through: ColumnType<number, number | undefined, number>;
}

export type WebhookDisabledReason = 'manual' | 'endpoint-gone' | 'failing';

export interface WebhooksTable {
  organization_id: string;
  id: Generated<string>;
  url: string;
  /** Event type patterns (events/event-types.ts). */
  event_types: string[];
  /** Lower-case origins whose events are not delivered. */
  exclude_origins: string[];
  description: string | null;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  disabled_reason: WebhookDisabledReason | null;
  /** `whsec_` + base64 key; never leaves the server except in the create and rotate answers. */
  secret: string;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
  failing_since: Timestamp | null;
  /** bigint, read as a number: the last seq whose first attempt is made (or queued). */
  dispatched_through: number;
  /** The lease of the process sending the events past dispatched_through (migration 0009). */
  head_lease_until: Timestamp | null;
  head_lease_id: string | null;
}

export interface WebhookDeliveriesTable {
  organization_id: string;
  webhook_id: string;
  seq: number;
  event_id: string;
  event_type: string;
  resource_id: string;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: DefaultedTimestamp;
  lease_until: Timestamp | null;
  lease_id: string | null;
  created_at: DefaultedTimestamp;
}

export type WebhookAttemptOutcome = 'succeeded' | 'retrying' | 'failed';

export interface WebhookAttemptsTable {
  organization_id: string;
  webhook_id: string;
  id: Generated<string>;
  event_id: string;
  /** Null for a test event. */
  seq: number | null;
  event_type: string;
  attempt: number;
  attempted_at: Timestamp;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  outcome: WebhookAttemptOutcome;
}

export interface Database {
  organizations: OrganizationsTable;
  api_tokens: ApiTokensTable;
  contacts: ContactsTable;
  contact_external_refs: ContactExternalRefsTable;
  contact_field_definitions: ContactFieldDefinitionsTable;
  companies: CompaniesTable;
  company_external_refs: CompanyExternalRefsTable;
  server_secrets: ServerSecretsTable;
  idempotency_keys: IdempotencyKeysTable;
  event_outbox: EventOutboxTable;
  events: EventsTable;
  event_counters: EventCountersTable;
  feed_positions: FeedPositionsTable;
  contact_search_terms: ContactSearchTermsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}
