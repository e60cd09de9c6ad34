import { isSupportedCountry } from 'libphonenumber-js/max';
import { rekeyContactPhones } from '../contacts/contact.service.js';
import type { Db } from '../db/database.js';
import { announceAuthChange } from '../db/notifications.js';
import type { OrganizationSettingsRow } from '../db/schema.js';
import { inTransaction } from '../db/transaction.js';
import { decodeCursor, encodeCursor } from '../http/cursor.js';
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
  ORGANIZATION_LIST_DEFAULT_LIMIT,
  type Organization,
  type OrganizationListQueryInput,
  type OrganizationSettings,
  type OrganizationSettingsPatch,
  type PatchOrganizationInput,
  type RotateTokenInput,
} from './organization.schemas.js';

export const DEFAULT_SETTINGS: Readonly<OrganizationSettingsRow> = {
  defaultPhoneRegion: null,
  duplicateContactMatching: { fields: ['email', 'phone'] },
  requireIfMatch: false,
};

/**
 * Applies a settings patch over `base`, canonicalizing and checking what a schema cannot. `at` is where the
 * settings sit in the request body (`settings` in the admin API, the whole body in PATCH /organization/settings),
 * so a validation error names the field the client sent.
 */
export function applySettingsPatch(
  base: OrganizationSettingsRow,
  patch: OrganizationSettingsPatch = {},
  at = 'settings',
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
        [at === '' ? 'defaultPhoneRegion' : `${at}.defaultPhoneRegion`]: [
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

/**
 * Organization-list cursors are the operator's: sealed for the nil organization, which no tenant is,
 * so no organization token's list accepts them, and theirs are refused here.
 */
const OPERATOR_CURSOR_OWNER = '00000000-0000-0000-0000-000000000000';

interface OrganizationListCursor {
  o: string;
  f: 'organizations';
  /** The last organization listed: its sort key, lower(name) as PostgreSQL computed it, and its id. */
  k: string;
  i: string;
  /** The name prefix of the first page. */
  n: string | null;
}

export interface OrganizationPage {
  organizations: Organization[];
  nextCursor: string | null;
  hasMore: boolean;
}

function invalidCursor(detail: string): AppError {
  return new AppError('invalid-cursor', detail, { errors: { cursor: [detail] } });
}

/** A page of every organization in name order, ignoring case; `name` keeps those whose name starts with it. */
export async function listOrganizations(
  db: Db,
  query: OrganizationListQueryInput,
  cursorSecret: () => Promise<Buffer>,
): Promise<OrganizationPage> {
  const secret = await cursorSecret();
  const limit = query.limit ?? ORGANIZATION_LIST_DEFAULT_LIMIT;
  let namePrefix = query.name ?? null;
  let after: repository.OrganizationListPosition | null = null;
  if (query.cursor !== undefined) {
    const payload = decodeCursor(query.cursor, secret, OPERATOR_CURSOR_OWNER) as OrganizationListCursor | null;
    if (payload === null || payload.f !== 'organizations') {
      throw invalidCursor('The cursor is not one this API issued for the organization list.');
    }
    if (query.name !== undefined && query.name !== payload.n) {
      throw invalidCursor('The cursor was issued for another name filter; omit name when passing a cursor.');
    }
    namePrefix = payload.n;
    after = { nameKey: payload.k, id: payload.i };
  }
  const fetched = await repository.listOrganizations(db, { namePrefix, after, limit });
  const hasMore = fetched.length > limit;
  const rows = hasMore ? fetched.slice(0, limit) : fetched;
  const last = rows.at(-1);
  // Unlike the change feeds, this list has no position worth resuming from: at its end, no cursor.
  const nextCursor =
    hasMore && last !== undefined
      ? encodeCursor(
          { o: OPERATOR_CURSOR_OWNER, f: 'organizations', k: last.name_key, i: last.id, n: namePrefix },
          secret,
        )
      : null;
  return { organizations: rows.map(toOrganization), nextCursor, hasMore };
}

export async function getOrganization(db: Db, organizationId: string): Promise<Organization> {
  const row = await repository.findOrganizationById(db, organizationId);
  if (row === undefined) throw organizationNotFound(organizationId);
  return toOrganization(row);
}

export function updateOrganization(
  db: Db,
  organizationId: string,
  input: PatchOrganizationInput,
): Promise<Organization> {
  return update(db, organizationId, input, 'settings');
}

/** PATCH /organization/settings, whose body is the settings patch itself. */
export async function updateSettings(
  db: Db,
  organizationId: string,
  patch: OrganizationSettingsPatch,
): Promise<OrganizationSettings> {
  return (await update(db, organizationId, { settings: patch }, '')).settings;
}

async function update(
  db: Db,
  organizationId: string,
  input: PatchOrganizationInput,
  settingsPath: string,
): Promise<Organization> {
  return inTransaction(db, async (trx) => {
    const current = await repository.findOrganizationForUpdate(trx, organizationId);
    if (current === undefined) throw organizationNotFound(organizationId);
    const name = input.name ?? current.name;
    const settings = applySettingsPatch(current.settings, input.settings, settingsPath);
    // A patch that changes nothing leaves updatedUtc alone. jsonb hands keys back in its own order, so the
    // stored settings are rebuilt in ours before the comparison.
    const unchanged = JSON.stringify(settings) === JSON.stringify(applySettingsPatch(current.settings));
    if (name === current.name && unchanged) {
      return toOrganization(current);
    }
    const updated = await repository.updateOrganization(trx, organizationId, { name, settings });
    if (settings.defaultPhoneRegion !== current.settings.defaultPhoneRegion) {
      await rekeyContactPhones(trx, organizationId, settings.defaultPhoneRegion);
    }
    // Cached authentication carries the settings: every server process must drop it.
    await announceAuthChange(trx, organizationId);
    return toOrganization(updated);
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
    origin: input.origin?.toLowerCase() ?? null,
  });
  return toCreatedApiToken(row, token);
}

export async function listApiTokens(db: Db, organizationId: string): Promise<ApiToken[]> {
  await getOrganization(db, organizationId);
  return (await repository.listApiTokens(db, organizationId)).map(toApiToken);
}

export async function revokeApiToken(db: Db, organizationId: string, tokenId: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const revoked = await repository.revokeApiToken(trx, organizationId, tokenId);
    if (revoked === undefined) {
      throw new AppError('not-found', `Token ${tokenId} does not exist in organization ${organizationId}.`);
    }
    // Server processes that cached this token forget it when this commits.
    await announceAuthChange(trx, organizationId);
  });
}

/** Why a token cannot be rotated, as the 404 it is: a revoked or expired token is gone like a deleted record. */
async function unrotatable(db: Db, organizationId: string, tokenId: string): Promise<AppError> {
  const token = await repository.findApiToken(db, organizationId, tokenId);
  if (token === undefined) {
    return new AppError('not-found', `Token ${tokenId} does not exist in organization ${organizationId}.`);
  }
  if (token.revoked_at !== null) {
    return new AppError(
      'not-found',
      `Token ${tokenId} was revoked at ${token.revoked_at.toISOString()}; a revoked token cannot be rotated. Create a new one.`,
    );
  }
  return new AppError(
    'not-found',
    `Token ${tokenId} expired at ${token.expires_at?.toISOString()}; an expired token cannot be rotated. Create a new one.`,
  );
}

/**
 * Gives a token a new secret, returned this once. The old secret keeps working for `graceSeconds`
 * (0: not at all), so a deployment can switch over without failed requests; a secret still in the
 * grace of an earlier rotation stops at once. The token keeps its id, name, scopes, origin and expiry.
 */
export async function rotateApiToken(
  db: Db,
  organizationId: string,
  tokenId: string,
  input: RotateTokenInput,
): Promise<CreatedApiToken> {
  const token = generateToken();
  return inTransaction(db, async (trx) => {
    const row = await repository.rotateApiToken(trx, organizationId, tokenId, {
      hash: hashToken(token),
      graceSeconds: input.graceSeconds ?? 0,
    });
    if (row === undefined) throw await unrotatable(trx, organizationId, tokenId);
    // As for a revocation: server processes that cached the old secret forget it when this commits.
    await announceAuthChange(trx, organizationId);
    return toCreatedApiToken(row, token);
  });
}
