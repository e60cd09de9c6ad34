import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler } from 'fastify';
import { type ControlledTransaction, sql } from 'kysely';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import { findStoredResponse, IDEMPOTENCY_KEY_TTL_HOURS, storeResponse, tryClaimKey } from '../db/idempotency-keys.js';
import type { Database } from '../db/schema.js';
import type { AuthContext } from './auth.js';
import { PROBLEM_CONTENT_TYPE } from './error-handler.js';
import { AppError, toProblem } from './problem.js';

/** Marks an answer replayed from a stored one: the write it reports happened once, before. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

/**
 * Idempotency-Key on POSTs that create or upsert. A route opts in by declaring the header in its
 * schema (`IdempotencyHeaders`): that one declaration documents it, validates it and turns this on.
 *
 * The request runs inside one transaction that also stores its answer, so the write and the stored
 * answer commit together or not at all: a crash in between cannot leave a write whose retry would
 * write again. A transaction-scoped advisory lock on the key makes a concurrent request with the same
 * key wait for nothing: it is told 409 at once. 5xx answers roll everything back and are not kept;
 * 4xx answers roll back the request's writes (a failed request writes nothing) and are kept.
 */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** The scope of the admin API's keys: the operator's, not any organization's. */
export const ADMIN_IDEMPOTENCY_SCOPE = '00000000-0000-0000-0000-000000000000';

export const IdempotencyHeaders = Type.Object({
  [IDEMPOTENCY_HEADER]: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      format: 'idempotency-key',
      description: `A key of your choice (1–255 printable ASCII characters, e.g. a UUID) that makes this request safe to retry: a retry with the same key and the same request gets the first answer again, with \`Idempotent-Replayed: true\`. Kept ${IDEMPOTENCY_KEY_TTL_HOURS} hours.`,
    }),
  ),
});

/** The problems a route that takes the header can answer because of it. */
export const IDEMPOTENCY_PROBLEMS = ['idempotency-key-in-use', 'idempotency-key-reused'] as const;

/** Headers of the first answer that a replay repeats. */
const REPLAYED_HEADERS = [
  'content-type',
  'location',
  'etag',
  'x-propstreet-upsert-action',
  'x-upsert-matched-by',
  'x-upsert-ambiguous-contact',
];

interface IdempotentRequest {
  readonly trx: ControlledTransaction<Database>;
  readonly organizationId: string;
  readonly keyHash: string;
  readonly sealingKey: Buffer;
  readonly requestHash: string;
  settled: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: IdempotentRequest | null;
  }
}

/** The database a handler writes through: the request's own transaction when it has a key. */
export function requestDb(request: FastifyRequest, db: Db): Db {
  return request.idempotency?.trx ?? db;
}

/** JSON with object keys sorted at every level: the same body in any key order hashes the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

/** The body's encryption key, derived from the Idempotency-Key: the database never holds it. */
function sealingKey(idempotencyKey: string, organizationId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', idempotencyKey, organizationId, 'contacts-api idempotent answer', 32));
}

function seal(body: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const sealed = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
}

function open(sealed: string, key: Buffer): string {
  const bytes = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
}

function requestHash(request: FastifyRequest): string {
  return sha256(`${request.method} ${request.url}\n${canonicalJson(request.body ?? null)}`);
}

function declaresKey(schema: unknown): boolean {
  const headers = (schema as { headers?: { properties?: Record<string, unknown> } } | undefined)?.headers;
  return headers?.properties?.[IDEMPOTENCY_HEADER] !== undefined;
}

function asArray<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

function payloadText(payload: unknown): string {
  if (payload === null || payload === undefined) return '';
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  return JSON.stringify(payload);
}

export function registerIdempotency(app: FastifyInstance, db: Db): void {
  app.decorateRequest('idempotency', null);

  const begin: preHandlerHookHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const key = request.headers[IDEMPOTENCY_HEADER];
    if (typeof key !== 'string') return;
    const organizationId = (request.auth as AuthContext | null)?.organizationId ?? ADMIN_IDEMPOTENCY_SCOPE;
    const hash = requestHash(request);
    const trx = await db.startTransaction().execute();
    try {
      if (!(await tryClaimKey(trx, organizationId, key))) {
        throw new AppError(
          'idempotency-key-in-use',
          'A request with this Idempotency-Key is still running; retry shortly to get its answer.',
          {},
          { 'retry-after': '1' },
        );
      }
      const keyHash = sha256(key);
      const sealing = sealingKey(key, organizationId);
      const stored = await findStoredResponse(trx, organizationId, keyHash);
      if (stored !== undefined) {
        await trx.rollback().execute();
        if (stored.requestHash !== hash) {
          throw new AppError(
            'idempotency-key-reused',
            'This Idempotency-Key was first used for a different request (method, path or body).',
          );
        }
        return reply
          .code(stored.status)
          .headers({ ...stored.headers, [IDEMPOTENT_REPLAYED_HEADER]: 'true' })
          .send(open(stored.body, sealing));
      }
      // What the request itself writes can be undone alone, keeping the transaction for the answer.
      await sql`SAVEPOINT contacts_api_request`.execute(trx);
      request.idempotency = { trx, organizationId, keyHash, sealingKey: sealing, requestHash: hash, settled: false };
    } catch (error) {
      if (!trx.isCommitted && !trx.isRolledBack)
        await trx
          .rollback()
          .execute()
          .catch(() => {});
      throw error;
    }
  };

  const finish: onSendHookHandler = async (request, reply, payload) => {
    const state = request.idempotency;
    if (state === null || state.settled) return payload;
    state.settled = true;
    const status = reply.statusCode;
    try {
      if (status >= 500) {
        await state.trx.rollback().execute();
        return payload;
      }
      if (status >= 400) await sql`ROLLBACK TO SAVEPOINT contacts_api_request`.execute(state.trx);
      const headers: Record<string, string> = {};
      for (const name of REPLAYED_HEADERS) {
        const value = reply.getHeader(name);
        if (value !== undefined) headers[name] = String(value);
      }
      await storeResponse(state.trx, state.organizationId, state.keyHash, {
        requestHash: state.requestHash,
        status,
        headers,
        body: seal(payloadText(payload), state.sealingKey),
      });
      await state.trx.commit().execute();
      return payload;
    } catch (error) {
      await state.trx
        .rollback()
        .execute()
        .catch(() => {});
      // Nothing was committed: answer as the failure it is, so a retry with the key runs afresh.
      const problem = toProblem(error, { instance: request.url, traceId: String(request.id) });
      request.log.warn({ err: error }, 'an idempotent request could not commit');
      reply.code(problem.body.status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE);
      for (const name of REPLAYED_HEADERS) if (name !== 'content-type') reply.removeHeader(name);
      return JSON.stringify(problem.body);
    }
  };

  // A request that ends without an answer being sent (the client went away mid-handler) must not
  // leave its transaction open.
  const release = async (request: FastifyRequest) => {
    const state = request.idempotency;
    if (state === null || state.settled) return;
    state.settled = true;
    await state.trx
      .rollback()
      .execute()
      .catch(() => {});
  };

  app.addHook('onRoute', (route) => {
    if (route.method !== 'POST' || !declaresKey(route.schema)) return;
    route.preHandler = [...asArray(route.preHandler), begin];
    route.onSend = [...asArray(route.onSend), finish];
    route.onResponse = [...asArray(route.onResponse), release];
    route.onRequestAbort = [...asArray(route.onRequestAbort), release];
  });
}
