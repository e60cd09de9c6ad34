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

export interface Database {
  organizations: OrganizationsTable;
  api_tokens: ApiTokensTable;
}
