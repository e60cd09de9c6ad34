import type { ColumnType, Generated } from 'kysely';

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

export interface ContactsTable {
  organization_id: string;
  id: Generated<string>;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  email_key: string | null;
  phone: string | null;
  linkedin_url: string | null;
  emails: Json<EmailJson[]>;
  phones: Json<PhoneJson[]>;
  primary_language: string | null;
  tags: string[];
  strategy: string | null;
  blocked: boolean;
  external_refs: Json<ExternalRefJson[]>;
  connections: Json<ConnectionJson[]>;
  version: number;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
  deleted_at: Timestamp | null;
  change_type: ChangeType;
  change_origin: string;
  /** xid8, read as text. */
  change_xid: ColumnType<string, never, never>;
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

export interface Database {
  organizations: OrganizationsTable;
  api_tokens: ApiTokensTable;
  contacts: ContactsTable;
  contact_external_refs: ContactExternalRefsTable;
  companies: CompaniesTable;
  company_external_refs: CompanyExternalRefsTable;
  server_secrets: ServerSecretsTable;
  idempotency_keys: IdempotencyKeysTable;
}
