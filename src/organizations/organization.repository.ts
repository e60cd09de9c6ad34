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
 * requests need next. Revoked and expired tokens are filtered here, so revocation is immediate. The
 * secret may be the token's current one or, during a rotation's grace period, the one it replaced;
 * `expiresAt` is then the end of that grace (or the token's own expiry, if sooner), so a cache
 * holding it lets it go on time.
 */
export async function findActiveTokenByHash(db: Executor, hash: Buffer) {
  const current = sql<boolean>`t.token_hash = ${hash}`;
  const query = db
    .selectFrom('api_tokens as t')
    .innerJoin('organizations as o', 'o.id', 't.organization_id')
    .select([
      't.id as tokenId',
      't.organization_id as organizationId',
      't.scopes',
      sql<Buffer>`CASE WHEN ${current} THEN t.token_hash ELSE t.previous_token_hash END`.as('tokenHash'),
      // least() ignores nulls: a token without expiry keeps its old secret until the grace ends.
      sql<Date | null>`CASE WHEN ${current} THEN t.expires_at ELSE least(t.expires_at, t.previous_token_expires_at) END`.as(
        'expiresAt',
      ),
      't.origin',
      'o.settings',
    ])
    .where((eb) =>
      eb.or([
        eb('t.token_hash', '=', hash),
        eb.and([eb('t.previous_token_hash', '=', hash), eb('t.previous_token_expires_at', '>', sql<Date>`now()`)]),
      ]),
    )
    .where('t.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('t.expires_at', 'is', null), eb('t.expires_at', '>', sql<Date>`now()`)]));
  // Every authenticated request runs this: prepared, it skips PostgreSQL's parse and plan.
  return (await db.executeQuery(prepared(query))).rows[0];
}

export function findApiToken(db: Executor, organizationId: string, tokenId: string) {
  return db
    .selectFrom('api_tokens')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', tokenId)
    .executeTakeFirst();
}

/**
 * Gives a live token a new secret in one statement (the row lock orders concurrent rotations). The
 * secret it replaces stays valid for `graceSeconds`, replacing any earlier one still in its grace:
 * a token has at most two working secrets. Undefined when the token is missing, revoked or expired.
 */
export function rotateApiToken(
  db: Executor,
  organizationId: string,
  tokenId: string,
  rotation: { hash: Buffer; graceSeconds: number },
) {
  const keepOld = rotation.graceSeconds > 0;
  return db
    .updateTable('api_tokens')
    .set({
      token_hash: rotation.hash,
      // On the right of SET, token_hash is the value before this update: the secret being replaced.
      previous_token_hash: keepOld ? sql<Buffer>`token_hash` : null,
      previous_token_expires_at: keepOld ? sql<Date>`${now} + make_interval(secs => ${rotation.graceSeconds})` : null,
      rotated_at: now,
    })
    .where('organization_id', '=', organizationId)
    .where('id', '=', tokenId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .returningAll()
    .executeTakeFirst();
}

/** Where a page of the organization list starts: after this sort key (`lower(name)`) and id. */
export interface OrganizationListPosition {
  nameKey: string;
  id: string;
}

/** `text` as a LIKE pattern that matches exactly that text: its wildcards and the escape character escaped. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

// The key of organizations_name_key (migration 0008): the "C" collation lets that index serve both
// the ORDER BY and a LIKE prefix as a range scan.
const nameKey = sql<string>`lower(name) COLLATE "C"`;

/** Organizations in name order (case-insensitive), `limit + 1` of them so the caller can tell whether more follow. */
export function listOrganizations(
  db: Executor,
  options: { namePrefix: string | null; after: OrganizationListPosition | null; limit: number },
) {
  let query = db.selectFrom('organizations').selectAll().select(sql<string>`lower(name)`.as('name_key'));
  if (options.namePrefix !== null) {
    const pattern = likeLiteral(options.namePrefix);
    query = query.where(sql<boolean>`${nameKey} LIKE (lower(${pattern}) || '%') ESCAPE '\\'`);
  }
  if (options.after !== null) {
    query = query.where(sql<boolean>`(${nameKey}, id) > (${options.after.nameKey}, ${options.after.id}::uuid)`);
  }
  return query
    .orderBy(nameKey)
    .orderBy('id')
    .limit(options.limit + 1)
    .execute();
}
