import type { Selectable } from 'kysely';
import type { ApiTokensTable, OrganizationsTable } from '../db/schema.js';
import type { ApiToken, CreatedApiToken, Organization } from './organization.schemas.js';

export type OrganizationRow = Selectable<OrganizationsTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;

export function toOrganization(row: OrganizationRow): Organization {
  return {
    id: row.id,
    name: row.name,
    settings: row.settings,
    createdUtc: row.created_at.toISOString(),
    updatedUtc: row.updated_at.toISOString(),
  };
}

export function toApiToken(row: ApiTokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdUtc: row.created_at.toISOString(),
    expiresUtc: row.expires_at?.toISOString() ?? null,
    origin: row.origin,
    rotatedUtc: row.rotated_at?.toISOString() ?? null,
    previousSecretExpiresUtc: row.previous_token_expires_at?.toISOString() ?? null,
    revokedUtc: row.revoked_at?.toISOString() ?? null,
  };
}

export function toCreatedApiToken(row: ApiTokenRow, token: string): CreatedApiToken {
  const { revokedUtc: _revoked, ...rest } = toApiToken(row);
  return { ...rest, token };
}
