import type { ErrorObject } from 'ajv';
import type { FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { sql, type Transaction } from 'kysely';
import { type TSchema, Type } from 'typebox';
import type { Db } from '../db/database.js';
import { lockKeys } from '../db/locks.js';
import type { Database } from '../db/schema.js';
import { inTransaction, Rollback } from '../db/transaction.js';
import { requestDb } from './idempotency.js';
import { AppError, type FieldErrors, type ProblemBody, type ProblemContext, toProblem } from './problem.js';
import { Nullable, Uuid } from './schemas.js';

/**
 * Batches: many upserts in one request, applied in request order as if sent one by one, inside one
 * transaction. What contacts and companies share lives here: the envelope, per-item validation, the
 * per-item results, atomic and validate-only runs, the summary and the HTTP status. A resource
 * supplies how to validate, lock and execute one item.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /** Set by answerBatch when the batch stored its results: what /metrics counts. */
    storedBatch?: BatchSummary;
  }
}

export const MAX_BATCH_ITEMS = 1_000;
export const MAX_ITEM_REF_LENGTH = 100;

export type BatchAction = 'created' | 'updated' | 'revived' | 'unchanged';

/** What one item did, as the single request would have answered it. */
export interface ItemOutcome {
  status: 200 | 201;
  action: BatchAction;
  matchedBy: string | null;
  id: string;
  etag: string;
  ambiguousContactId: string | null;
}

export interface BatchResult {
  index: number;
  ref: string | null;
  status: number;
  action: BatchAction | null;
  matchedBy: string | null;
  id: string | null;
  etag: string | null;
  ambiguousContactId: string | null;
  problem: ProblemBody | null;
}

export interface BatchSummary {
  total: number;
  created: number;
  updated: number;
  revived: number;
  unchanged: number;
  failed: number;
}

/**
 * The items array of an envelope. Its items are checked one by one by the batch (an invalid item fails
 * only itself), so the request validator accepts any object there; the item schema is still what the
 * OpenAPI document shows.
 */
export function BatchItems(item: TSchema) {
  return Type.Array(item, {
    minItems: 1,
    maxItems: MAX_BATCH_ITEMS,
    'x-validated-per-item': true,
    description: `1 to ${MAX_BATCH_ITEMS} items, applied in this order. An invalid item fails alone.`,
  });
}

export const BatchFlags = {
  revive: Type.Optional(
    Type.Boolean({ description: 'Revive a deleted record that has the reference (default true).' }),
  ),
  updateOnly: Type.Optional(
    Type.Boolean({ description: 'Never create: an unknown reference fails that item with 404 (default false).' }),
  ),
  atomic: Type.Optional(
    Type.Boolean({
      description:
        'All or nothing (default false): if any item fails, nothing is stored, the answer is 422 and every other item says 424.',
    }),
  ),
  validateOnly: Type.Optional(
    Type.Boolean({ description: 'Make the same decisions and answers, store nothing (default false).' }),
  ),
};

export const BatchResultSchema = Type.Object(
  {
    index: Type.Integer({ description: 'Position of the item in the request.' }),
    ref: Nullable(Type.String({ description: "The item's `ref`, echoed." })),
    status: Type.Integer({
      description: 'What the single request would have answered: 200, 201, 400, 404, 409, 412, 424…',
    }),
    action: Type.Unsafe<BatchAction | null>({
      type: ['string', 'null'],
      enum: ['created', 'updated', 'revived', 'unchanged', null],
      description: '`unchanged`: the write matched a record and changed nothing. Null when the item failed.',
    }),
    matchedBy: Nullable(
      Type.String({ description: 'As `X-Upsert-Matched-By`: `external_ref`, `email`, `phone`, `none`.' }),
    ),
    id: Nullable(Uuid),
    etag: Nullable(Type.String()),
    ambiguousContactId: Nullable(Uuid),
    problem: Type.Unsafe<ProblemBody | null>({
      anyOf: [Type.Ref('Problem'), Type.Null()],
      description: 'The full problem when the item failed, else null.',
    }),
  },
  { $id: 'BatchResult', additionalProperties: false },
);

export const BatchResponseSchema = Type.Object(
  {
    results: Type.Array(Type.Ref('BatchResult')),
    summary: Type.Object(
      {
        total: Type.Integer(),
        created: Type.Integer(),
        updated: Type.Integer(),
        revived: Type.Integer(),
        unchanged: Type.Integer(),
        failed: Type.Integer(),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'BatchResponse', additionalProperties: false },
);

/**
 * The responses of a batch route: 200, 207 and 422 carry the results; problems are documented as
 * usual. A 422 is the results of a failed atomic batch, or a problem (a reused Idempotency-Key): the
 * two differ by content type, which is how Fastify picks the serializer.
 */
export function batchResponses(problems: Record<number, unknown>): Record<number, unknown> {
  const results = { 'application/json': { schema: Type.Ref('BatchResponse') } };
  const problem422 = problems[422] as { description: string; content: Record<string, unknown> } | undefined;
  return {
    200: { description: 'Every item succeeded.', content: results },
    207: { description: 'Some items failed; each result says which and why.', content: results },
    ...problems,
    422: {
      description: `An atomic batch had a failing item, so nothing was stored${problem422 ? `; or ${problem422.description}` : ''}.`,
      content: { ...results, ...(problem422?.content ?? {}) },
    },
  };
}

export interface BatchHandlers<Item> {
  /** Validates one item against its schema; errors as the request validator reports them. */
  validate(item: unknown): ErrorObject[] | null;
  /** The advisory lock keys an item's write will take, to take them all up front in one sorted pass. */
  lockKeys(item: Item): string[];
  execute(trx: Db, item: Item, index: number): Promise<ItemOutcome & { row: OutcomeRow }>;
  /**
   * The set form, when the resource has one: the key that must be distinct within a chunk for an
   * item that can be written together with its neighbours, or null when it runs alone.
   */
  chunkKey?(item: Item): string | null;
  /** Writes a chunk in one go; null when any item could not be decided there (the chunk then runs item by item). */
  executeChunk?(
    trx: Db,
    chunk: ReadonlyArray<{ index: number; item: Item }>,
  ): Promise<Map<number, ItemOutcome & { row: OutcomeRow }> | null>;
}

interface OutcomeRow {
  id: string;
  version: number;
  change_xid: string;
}

interface BatchOptions {
  atomic: boolean;
  validateOnly: boolean;
}

function itemRef(item: unknown): string | null {
  const ref = (item as { ref?: unknown } | null)?.ref;
  return typeof ref === 'string' && ref.length <= MAX_ITEM_REF_LENGTH ? ref : null;
}

function failed(index: number, ref: string | null, problem: ProblemBody): BatchResult {
  return {
    index,
    ref,
    status: problem.status,
    action: null,
    matchedBy: null,
    id: null,
    etag: null,
    ambiguousContactId: null,
    problem,
  };
}

/**
 * A single request names a body field `email`; inside a batch item the same field is `data.email`.
 * Problems raised by the services that name fields are renamed so; `renames` maps names that are not body
 * fields (a header) to the item's own field.
 */
export function prefixFieldErrors(error: unknown, prefix: string, renames: Record<string, string> = {}): unknown {
  if (!(error instanceof AppError)) return error;
  const errors = error.extensions.errors as FieldErrors | undefined;
  if (errors === undefined) return error;
  const renamed: FieldErrors = {};
  for (const [field, messages] of Object.entries(errors)) {
    const name = Object.hasOwn(renames, field)
      ? (renames[field] as string)
      : field === 'body'
        ? prefix
        : `${prefix}.${field}`;
    Object.defineProperty(renamed, name, { value: messages, enumerable: true, writable: true, configurable: true });
  }
  return error.code === 'validation-failed'
    ? AppError.validation(renamed)
    : new AppError(error.code, error.detail, { ...error.extensions, errors: renamed }, error.headers);
}

/** Compiles an item validator with the request validator's rules (formats, text checks, bounds). */
export function itemValidator(compiler: FastifySchemaCompiler<unknown> | undefined, schema: TSchema) {
  if (compiler === undefined) throw new Error('the app has no validator compiler');
  const validate = compiler({ schema, method: 'POST', url: '', httpPart: 'body' }) as ((data: unknown) => boolean) & {
    errors?: ErrorObject[] | null;
  };
  return (item: unknown): ErrorObject[] | null => (validate(item) ? null : (validate.errors ?? []));
}

/**
 * Runs the items in order in one transaction. Before any item, the locks of every item's keys are
 * taken in one sorted pass: two batches that share keys then take turns as wholes, instead of each
 * holding some keys the other waits for (a deadlock). Each item's own writes sit in a savepoint
 * (the services nest that way), so a failed item leaves the others' writes in place.
 *
 * A database fault (5xx) fails the whole request: the transaction is gone with it.
 */
export async function runBatch<Item>(
  db: Db,
  items: readonly unknown[],
  options: BatchOptions,
  handlers: BatchHandlers<Item>,
  context: ProblemContext,
): Promise<{ status: 200 | 207 | 422; body: { results: BatchResult[]; summary: BatchSummary } }> {
  const validated = items.map((item): { ok: true; item: Item } | { ok: false; problem: ProblemBody } => {
    const errors = handlers.validate(item);
    return errors === null
      ? { ok: true, item: item as Item }
      : { ok: false, problem: toProblem({ validation: errors, validationContext: 'item' }, context).body };
  });

  const work = async (trx: Transaction<Database>) => {
    await lockKeys(
      trx,
      validated.flatMap((entry) => (entry.ok ? handlers.lockKeys(entry.item) : [])),
    );
    // Rows this transaction changed carry its id in change_xid; a write that changed nothing leaves it older.
    const { rows } = await sql<{ xid: string }>`SELECT pg_current_xact_id()::text AS xid`.execute(trx);
    const batchXid = rows[0]?.xid;
    const versions = new Map<string, number>();
    const results: BatchResult[] = [];
    const record = (index: number, { row, ...outcome }: ItemOutcome & { row: OutcomeRow }) => {
      let action = outcome.action;
      if (action === 'updated') {
        const changedHere = String(row.change_xid) === batchXid && versions.get(row.id) !== row.version;
        if (!changedHere) action = 'unchanged';
      }
      versions.set(row.id, row.version);
      results.push({ index, ref: itemRef(items[index]), ...outcome, action, problem: null });
    };
    const runAlone = async (index: number, item: Item) => {
      try {
        record(index, await handlers.execute(trx, item, index));
      } catch (error) {
        const problem = toProblem(error, context);
        if (problem.body.status >= 500) throw error;
        results.push(failed(index, itemRef(items[index]), problem.body));
      }
    };
    // Runs of consecutive items with distinct keys go to the set form together. If it cannot
    // decide every item of a run, or the statement fails (two items claim one email), the run is
    // rolled back to its savepoint and applied item by item: the one-by-one order stays the rule.
    let chunk: Array<{ index: number; item: Item }> = [];
    const chunkKeys = new Set<string>();
    const flush = async () => {
      const run = chunk;
      chunk = [];
      chunkKeys.clear();
      let decided: Map<number, ItemOutcome & { row: OutcomeRow }> | null = null;
      if (run.length > 1 && handlers.executeChunk) {
        const executeChunk = handlers.executeChunk;
        try {
          decided = await inTransaction(trx, async (unit) => {
            const outcomes = await executeChunk(unit, run);
            if (outcomes === null || run.some(({ index }) => !outcomes.has(index))) throw new Rollback(null);
            return outcomes;
          });
        } catch (error) {
          if (!(error instanceof Rollback) && toProblem(error, context).body.status >= 500) throw error;
          decided = null;
        }
      }
      for (const { index, item } of run) {
        const outcome = decided?.get(index);
        if (outcome !== undefined) record(index, outcome);
        else await runAlone(index, item);
      }
    };
    for (const [index, entry] of validated.entries()) {
      if (!entry.ok) {
        await flush();
        results.push(failed(index, itemRef(items[index]), entry.problem));
        continue;
      }
      const key = handlers.chunkKey?.(entry.item) ?? null;
      if (key === null || chunkKeys.has(key)) await flush();
      if (key === null) {
        await runAlone(index, entry.item);
      } else {
        chunk.push({ index, item: entry.item });
        chunkKeys.add(key);
      }
    }
    await flush();
    const anyFailed = results.some((result) => result.problem !== null);
    if (options.validateOnly || (options.atomic && anyFailed)) throw new Rollback(results);
    return results;
  };

  let results: BatchResult[];
  try {
    results = await inTransaction(db, work);
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
    results = error.result as BatchResult[];
  }

  const anyFailed = results.some((result) => result.problem !== null);
  if (options.atomic && anyFailed) {
    const rolledBack = toProblem(
      new AppError('batch-rolled-back', 'Another item of this atomic batch failed, so nothing was stored.'),
      context,
    ).body;
    results = results.map((result) =>
      result.problem !== null ? result : failed(result.index, result.ref, rolledBack),
    );
  }
  const summary: BatchSummary = { total: results.length, created: 0, updated: 0, revived: 0, unchanged: 0, failed: 0 };
  for (const result of results) {
    if (result.action === null) summary.failed += 1;
    else summary[result.action] += 1;
  }
  const status = !anyFailed ? 200 : options.atomic ? 422 : 207;
  return { status, body: { results, summary } };
}

/** The envelope's flags that every batch shares, with their defaults. */
export interface BatchEnvelope {
  items: readonly unknown[];
  atomic?: boolean;
  validateOnly?: boolean;
}

/** Runs a batch request and answers it: the one route handler body of every batch route. */
export async function answerBatch<Item>(
  request: FastifyRequest,
  reply: FastifyReply,
  db: Db,
  body: BatchEnvelope,
  handlers: BatchHandlers<Item>,
) {
  const { status, body: results } = await runBatch<Item>(
    requestDb(request, db),
    body.items,
    { atomic: body.atomic ?? false, validateOnly: body.validateOnly ?? false },
    handlers,
    { instance: request.url, traceId: String(request.id) },
  );
  // A validate-only or rolled-back (422) batch wrote nothing: not an upsert to count.
  if (!(body.validateOnly ?? false) && status !== 422) request.storedBatch = results.summary;
  return reply.code(status).send(results);
}
