import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import type { OrganizationSettingsRow } from '../db/schema.js';
import { bearerToken, hashToken } from '../organizations/api-token.js';
import { findActiveTokenByHash } from '../organizations/organization.repository.js';
import type { Scope } from '../organizations/organization.schemas.js';
import type { AuthCache } from './auth-cache.js';
import type { FailedAuthLimiter } from './auth-failures.js';
import { AppError } from './problem.js';
import { SYSTEM_NAME_PATTERN } from './schemas.js';

export interface AuthContext {
  organizationId: string;
  tokenId: string;
  scopes: readonly string[];
  settings: OrganizationSettingsRow;
  /** Whom the request's changes are recorded as coming from (changeOrigin, events): see requestOrigin. */
  origin: string;
}

/** Names the system a request comes from; the rules of an external reference's namespace. */
export const CHANGE_ORIGIN_HEADER = 'x-change-origin';
const ORIGIN = new RegExp(SYSTEM_NAME_PATTERN);

/**
 * The origin of a request's changes: the X-Change-Origin header, else the token's own origin, else
 * `api`. Lower-cased like a namespace, so that a sync's upserts by reference (recorded under their
 * namespace) and its other writes carry the same origin, and excluding it drops both.
 */
function requestOrigin(header: string | string[] | undefined, tokenOrigin: string | null): string {
  if (header === undefined) return tokenOrigin ?? 'api';
  if (typeof header !== 'string' || !ORIGIN.test(header)) {
    const detail =
      'X-Change-Origin names a system: 1 to 50 letters, digits, ".", "_" or "-", starting with a letter or digit.';
    throw AppError.validation({ 'X-Change-Origin': [detail] });
  }
  return header.toLowerCase();
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; without one, any valid token of the organization may call it. */
    scope?: Scope;
  }
}

// Identical for every failure (missing, unknown, revoked, expired): no oracle for token guessing.
function unauthorized(): AppError {
  return new AppError(
    'unauthorized',
    'Send a valid API token as "Authorization: Bearer <token>".',
    {},
    { 'www-authenticate': 'Bearer realm="api"' },
  );
}

export function requireScope(auth: AuthContext, scope: Scope): void {
  if (!auth.scopes.includes(scope)) {
    throw new AppError(
      'insufficient-scope',
      `This operation needs the "${scope}" scope; the token has ${auth.scopes.map((s) => `"${s}"`).join(', ')}.`,
      { requiredScope: scope },
      { 'www-authenticate': `Bearer realm="api", error="insufficient_scope", scope="${scope}"` },
    );
  }
}

/** Authenticates organization tokens for every route registered inside `app` (an encapsulated plugin). */
export interface OrganizationAuthOptions {
  db: Db;
  cache: AuthCache | null;
  /** Null when rate limiting is off. */
  failures: FailedAuthLimiter | null;
}

function tooManyFailures(retryAfterSeconds: number): AppError {
  return new AppError(
    'rate-limited',
    `Too many failed authentications from your address; retry in ${retryAfterSeconds} s.`,
    {},
    { 'retry-after': String(retryAfterSeconds) },
  );
}

export function useOrganizationAuth(app: FastifyInstance, { db, cache, failures }: OrganizationAuthOptions): void {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const refuse = () => {
      failures?.record(request.ip);
      return unauthorized();
    };
    const token = bearerToken(request.headers.authorization);
    if (token === null) throw refuse();
    const hash = hashToken(token);
    const key = hash.toString('hex');
    let found = cache?.get(key);
    if (found === undefined) {
      const wait = failures?.blockedFor(request.ip) ?? 0;
      if (wait > 0) throw tooManyFailures(wait);
      const ticket = cache?.ticket() ?? 0;
      const row = await findActiveTokenByHash(db, hash);
      // The index lookup already matched; the constant-time comparison keeps the final check free of timing signal.
      if (row === undefined || !timingSafeEqual(row.tokenHash, hash)) throw refuse();
      found = {
        organizationId: row.organizationId,
        tokenId: row.tokenId,
        scopes: row.scopes,
        settings: row.settings,
        expiresAt: row.expiresAt,
        origin: row.origin,
      };
      cache?.set(key, found, ticket);
    }
    request.auth = {
      organizationId: found.organizationId,
      tokenId: found.tokenId,
      scopes: found.scopes,
      settings: found.settings,
      origin: requestOrigin(request.headers[CHANGE_ORIGIN_HEADER], found.origin),
    };
    const scope = request.routeOptions.config.scope;
    if (scope !== undefined) requireScope(request.auth, scope);
  });
}

/** The admin API accepts only ADMIN_TOKEN; organization tokens get the same 401 as any wrong secret. */
export function useAdminAuth(app: FastifyInstance, adminToken: string): void {
  const expected = hashToken(adminToken);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization);
    if (token === null || !timingSafeEqual(hashToken(token), expected)) throw unauthorized();
  });
}
