import type { OrganizationSettingsRow } from '../db/schema.js';

export interface CachedToken {
  organizationId: string;
  tokenId: string;
  scopes: string[];
  settings: OrganizationSettingsRow;
  /**
   * When this secret stops working: the token's expiry or, for a secret replaced by a rotation, the
   * end of its grace period if sooner. get() honours it, so an entry never outlives either; a
   * rotation or revocation before then is an invalidation like any other.
   */
  expiresAt: Date | null;
  origin: string | null;
}

// Bounds the damage of a lost notification; notifications make revocation effective long before.
const NOTIFIED_ENTRY_TTL_MS = 30_000;
// Without notifications this is how long a revoked token (or an old setting) may still be served.
export const EXPIRING_ENTRY_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

export interface AuthCacheOptions {
  /**
   * `notifications` (the default): a listener clears entries as changes commit, and the cache serves
   * only while that listener is connected. `expiry`: there is no listener (behind a transaction
   * pooler without a direct connection, LISTEN cannot work), so entries serve for a few seconds at
   * most, and a revocation takes effect within that bound.
   */
  invalidation?: 'notifications' | 'expiry';
}

/**
 * Authenticated tokens of this process, so a request costs one database round trip instead of two.
 * Correctness rests on invalidation: every revocation and settings change notifies all server
 * processes through PostgreSQL (LISTEN/NOTIFY, delivered at commit), and each clears its cache. The
 * cache serves only while that channel is up: a process that may miss notifications asks the
 * database every time. Without a listener (`invalidation: 'expiry'`) entries expire within seconds
 * instead. Unknown tokens are never cached, so guessing cannot fill memory.
 */
export class AuthCache {
  #entries = new Map<string, { token: CachedToken; until: number }>();
  readonly #entryTtlMs: number;
  #live: boolean;
  // Bumped by every invalidation. A lookup that started before one must not store what it read:
  // it may have seen the token just before its revocation committed.
  #generation = 0;

  constructor({ invalidation = 'notifications' }: AuthCacheOptions = {}) {
    this.#entryTtlMs = invalidation === 'expiry' ? EXPIRING_ENTRY_TTL_MS : NOTIFIED_ENTRY_TTL_MS;
    this.#live = invalidation === 'expiry';
  }

  /** Take before reading a token from the database; hand back to set(). */
  ticket(): number {
    return this.#generation;
  }

  get(key: string): CachedToken | undefined {
    if (!this.#live) return undefined;
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const now = Date.now();
    if (entry.until <= now || (entry.token.expiresAt !== null && entry.token.expiresAt.getTime() <= now)) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.token;
  }

  set(key: string, token: CachedToken, ticket: number): void {
    if (!this.#live || ticket !== this.#generation) return;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(key, { token, until: Date.now() + this.#entryTtlMs });
  }

  clear(): void {
    this.#generation += 1;
    this.#entries.clear();
  }

  /**
   * Forgets one organization's tokens (a notification names the organization whose tokens or
   * settings changed), so one tenant's changes do not empty every tenant's cache. Without a name,
   * everything goes. Lookups in flight are refused either way (the generation moves on).
   */
  invalidate(organizationId: string | undefined): void {
    if (organizationId === undefined || organizationId === '') {
      this.clear();
      return;
    }
    this.#generation += 1;
    for (const [key, entry] of this.#entries) {
      if (entry.token.organizationId === organizationId) this.#entries.delete(key);
    }
  }

  /** Called by the invalidation listener: caching is allowed only while it is connected. */
  setLive(live: boolean): void {
    this.#live = live;
    this.clear();
  }
}
