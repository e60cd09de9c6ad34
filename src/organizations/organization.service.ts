import { isSupportedCountry } from 'libphonenumber-js/max';
import type { Db } from '../db/database.js';
import type { OrganizationSettingsRow } from '../db/schema.js';
import { AppError } from '../http/problem.js';
import { generateToken, hashToken } from './api-token.js';
import { toApiToken, toCreatedApiToken, toOrganization } from './organization.mapper.js';
import * as repository from './organization.repository.js';
import {
  type ApiToken,
  type CreatedApiToken,
  type CreateOrganizationInput,
  type CreateTokenInput,
  DEFAULT_SCOPES,
  type Organization,
  type OrganizationSettingsPatch,
  type PatchOrganizationInput,
} from './organization.schemas.js';

export const DEFAULT_SETTINGS: Readonly<OrganizationSettingsRow> = {
  defaultPhoneRegion: null,
  duplicateContactMatching: { fields: ['email', 'phone'] },
  requireIfMatch: false,
};

/** Applies a settings patch over `base`, canonicalizing and checking what a schema cannot. */
export function applySettingsPatch(
  base: OrganizationSettingsRow,
  patch: OrganizationSettingsPatch = {},
): OrganizationSettingsRow {
  const settings: OrganizationSettingsRow = {
    defaultPhoneRegion: base.defaultPhoneRegion,
    duplicateContactMatching: { fields: [...base.duplicateContactMatching.fields] },
    requireIfMatch: base.requireIfMatch,
  };
  if (patch.defaultPhoneRegion !== undefined) {
    const region = patch.defaultPhoneRegion?.toUpperCase() ?? null;
    if (region !== null && !isSupportedCountry(region)) {
      throw AppError.validation({
        'settings.defaultPhoneRegion': [
          `"${patch.defaultPhoneRegion}" is not an ISO 3166-1 alpha-2 region with phone numbering`,
        ],
      });
    }
    settings.defaultPhoneRegion = region;
  }
  if (patch.duplicateContactMatching !== undefined) {
    settings.duplicateContactMatching = { fields: [...patch.duplicateContactMatching.fields] };
  }
  if (patch.requireIfMatch !== undefined) settings.requireIfMatch = patch.requireIfMatch;
  return settings;
}

function organizationNotFound(organizationId: string): AppError {
  return new AppError('not-found', `Organization ${organizationId} does not exist.`);
}

export async function createOrganization(db: Db, input: CreateOrganizationInput): Promise<Organization> {
  const settings = applySettingsPatch(DEFAULT_SETTINGS, input.settings);
  return toOrganization(await repository.insertOrganization(db, input.name, settings));
}

export async function getOrganization(db: Db, organizationId: string): Promise<Organization> {
  const row = await repository.findOrganizationById(db, organizationId);
  if (row === undefined) throw organizationNotFound(organizationId);
  return toOrganization(row);
}

export async function updateOrganization(
  db: Db,
  organizationId: string,
  input: PatchOrganizationInput,
): Promise<Organization> {
  return db.transaction().execute(async (trx) => {
    const current = await repository.findOrganizationForUpdate(trx, organizationId);
    if (current === undefined) throw organizationNotFound(organizationId);
    const name = input.name ?? current.name;
    const settings = applySettingsPatch(current.settings, input.settings);
    // A patch that changes nothing leaves updatedUtc alone.
    if (name === current.name && JSON.stringify(settings) === JSON.stringify(current.settings)) {
      return toOrganization(current);
    }
    return toOrganization(await repository.updateOrganization(trx, organizationId, { name, settings }));
  });
}

export async function createApiToken(
  db: Db,
  organizationId: string,
  input: CreateTokenInput,
): Promise<CreatedApiToken> {
  await getOrganization(db, organizationId);
  let expiresAt: Date | null = null;
  if (input.expiresUtc !== undefined && input.expiresUtc !== null) {
    expiresAt = new Date(input.expiresUtc);
    if (expiresAt.getTime() <= Date.now()) {
      throw AppError.validation({ expiresUtc: ['must be in the future'] });
    }
  }
  const token = generateToken();
  const row = await repository.insertApiToken(db, {
    organizationId,
    name: input.name ?? null,
    hash: hashToken(token),
    scopes: [...(input.scopes ?? DEFAULT_SCOPES)],
    expiresAt,
  });
  return toCreatedApiToken(row, token);
}

export async function listApiTokens(db: Db, organizationId: string): Promise<ApiToken[]> {
  await getOrganization(db, organizationId);
  return (await repository.listApiTokens(db, organizationId)).map(toApiToken);
}

export async function revokeApiToken(db: Db, organizationId: string, tokenId: string): Promise<void> {
  const revoked = await repository.revokeApiToken(db, organizationId, tokenId);
  if (revoked === undefined)
    throw new AppError('not-found', `Token ${tokenId} does not exist in organization ${organizationId}.`);
}
