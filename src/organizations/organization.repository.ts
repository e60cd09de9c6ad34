import { type Kysely, sql, type Transaction } from 'kysely';
import { prepared } from '../db/prepared.js';
import type { Database, OrganizationSettingsRow } from '../db/schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

const now = sql<Date>`date_trunc('milliseconds', now())`;

export function insertOrganization(db: Executor, name: string, settings: OrganizationSettingsRow) {
  return db
    .insertInto('organizations')
    .values({ name, settings: JSON.stringify(settings) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findOrganizationById(db: Executor, organizationId: string) {
  return db.selectFrom('organizations').selectAll().where('id', '=', organizationId).executeTakeFirst();
}

/** Row-locks the organization so concurrent settings patches apply one after the other. */
export function findOrganizationForUpdate(db: Transaction<Database>, organizationId: string) {
  // NO KEY UPDATE: serializes settings changes without blocking the foreign-key checks (KEY SHARE)
  // of writes that insert rows of the organization meanwhile.
  return db
    .selectFrom('organizations')
    .selectAll()
    .where('id', '=', organizationId)
    .forNoKeyUpdate()
    .executeTakeFirst();
}

export function updateOrganization(
  db: Executor,
  organizationId: string,
  changes: { name: string; settings: OrganizationSettingsRow },
) {
  return db
    .updateTable('organizations')
    .set({ name: changes.name, settings: JSON.stringify(changes.settings), updated_at: now })
    .where('id', '=', organizationId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function insertApiToken(
  db: Executor,
  token: {
    organizationId: string;
    name: string | null;
    hash: Buffer;
    scopes: string[];
    expiresAt: Date | null;
    origin: string | null;
  },
) {
  return db
    .insertInto('api_tokens')
    .values({
      organization_id: token.organizationId,
      name: token.name,
      token_hash: token.hash,
      scopes: token.scopes,
      expires_at: token.expiresAt,
      origin: token.origin,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function listApiTokens(db: Executor, organizationId: string) {
  return db
    .selectFrom('api_tokens')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Idempotent: revoking a revoked token keeps its first revocation time. */
export function revokeApiToken(db: Executor, organizationId: string, tokenId: string) {
  return db
    .updateTable('api_tokens')
    .set({ revoked_at: sql`coalesce(revoked_at, date_trunc('milliseconds', now()))` })
    .where('organization_id', '=', organizationId)
    .where('id', '=', tokenId)
    .returning('id')
    .executeTakeFirst();
}

/**
 * Authentication's single round trip: the token and its organization's settings, which most
 * requests need next. Revoked and expired tokens are filtered here, so revocation is immediate.
 */
export async function findActiveTokenByHash(db: Executor, hash: Buffer) {
  const query = db
    .selectFrom('api_tokens as t')
    .innerJoin('organizations as o', 'o.id', 't.organization_id')
    .select([
      't.id as tokenId',
      't.organization_id as organizationId',
      't.scopes',
      't.token_hash as tokenHash',
      't.expires_at as expiresAt',
      't.origin',
      'o.settings',
    ])
    .where('t.token_hash', '=', hash)
    .where('t.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('t.expires_at', 'is', null), eb('t.expires_at', '>', sql<Date>`now()`)]));
  // Every authenticated request runs this: prepared, it skips PostgreSQL's parse and plan.
  return (await db.executeQuery(prepared(query))).rows[0];
}
