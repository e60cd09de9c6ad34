import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type {
  Database,
  WebhookAttemptOutcome,
  WebhookAttemptsTable,
  WebhookDisabledReason,
  WebhooksTable,
} from '../db/schema.js';
import type { EventRow } from '../events/event.repository.js';
import { typeMatchesSql } from '../events/event-types.js';

type Executor = Kysely<Database> | Transaction<Database>;

export type WebhookRow = Selectable<WebhooksTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>;

// Every column but the secret: reads for the API never load it.
const PUBLIC_COLUMNS = [
  'organization_id',
  'id',
  'url',
  'event_types',
  'exclude_origins',
  'description',
  'enabled',
  'disabled_reason',
  'created_at',
  'updated_at',
  'failing_since',
  'dispatched_through',
] as const;
export type PublicWebhookRow = Omit<WebhookRow, 'secret'>;

export async function findWebhookById(
  db: Executor,
  organizationId: string,
  webhookId: string,
  options: { lock?: boolean } = {},
): Promise<PublicWebhookRow | undefined> {
  let query = db
    .selectFrom('webhooks')
    .select(PUBLIC_COLUMNS)
    .where('organization_id', '=', organizationId)
    .where('id', '=', webhookId);
  if (options.lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** The webhook with its secret, for signing a test delivery. */
export async function findWebhookWithSecret(
  db: Executor,
  organizationId: string,
  webhookId: string,
): Promise<WebhookRow | undefined> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('id', '=', webhookId)
    .executeTakeFirst();
}

export async function listWebhooks(db: Executor, organizationId: string): Promise<PublicWebhookRow[]> {
  return db
    .selectFrom('webhooks')
    .select(PUBLIC_COLUMNS)
    .where('organization_id', '=', organizationId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/**
 * Makes concurrent creations in one organization take turns, so that counting and inserting
 * cannot interleave and overshoot the limit; other organizations are not held up.
 */
export async function lockOrganizationWebhooks(trx: Transaction<Database>, organizationId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`contacts-api:webhooks:${organizationId}`}, 0))`.execute(
    trx,
  );
}

export async function countWebhooks(trx: Transaction<Database>, organizationId: string): Promise<number> {
  const row = await trx
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('organization_id', '=', organizationId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface WebhookValues {
  url: string;
  events: string[];
  excludeOrigins: string[];
  description: string | null;
}

/** A new webhook starts after the organization's last numbered event: it gets only what happens from now. */
export async function insertWebhook(
  trx: Transaction<Database>,
  organizationId: string,
  values: WebhookValues,
  secret: string,
): Promise<PublicWebhookRow> {
  return trx
    .insertInto('webhooks')
    .values({
      organization_id: organizationId,
      url: values.url,
      event_types: values.events,
      exclude_origins: values.excludeOrigins,
      description: values.description,
      secret,
      dispatched_through: sql<number>`coalesce((
        SELECT c.last_seq FROM event_counters c WHERE c.organization_id = ${organizationId}), 0)`,
    })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

export interface WebhookChanges extends Partial<WebhookValues> {
  enabled?: boolean;
}

/**
 * Applies a PATCH to a locked row. Disabling parks its pending deliveries; enabling again skips
 * what happened while it was disabled (dispatch resumes at the organization's last event) and
 * makes the parked deliveries due.
 */
export async function updateWebhook(
  trx: Transaction<Database>,
  current: PublicWebhookRow,
  changes: WebhookChanges,
): Promise<PublicWebhookRow> {
  const { organization_id: organizationId, id } = current;
  const disabling = changes.enabled === false && current.enabled;
  const enabling = changes.enabled === true && !current.enabled;
  const row = await trx
    .updateTable('webhooks')
    .set({
      ...(changes.url === undefined ? {} : { url: changes.url }),
      ...(changes.events === undefined ? {} : { event_types: changes.events }),
      ...(changes.excludeOrigins === undefined ? {} : { exclude_origins: changes.excludeOrigins }),
      ...(changes.description === undefined ? {} : { description: changes.description }),
      ...(disabling ? { enabled: false, disabled_reason: 'manual' as const } : {}),
      ...(enabling
        ? {
            enabled: true,
            disabled_reason: null,
            failing_since: null,
            dispatched_through: sql<number>`greatest(dispatched_through, coalesce((
              SELECT c.last_seq FROM event_counters c WHERE c.organization_id = ${organizationId}), 0))`,
          }
        : {}),
      updated_at: sql`now()`,
    })
    .where('organization_id', '=', organizationId)
    .where('id', '=', id)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
  if (disabling) await parkDeliveries(trx, organizationId, [id]);
  if (enabling) {
    await trx
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: sql`now()` })
      .where('organization_id', '=', organizationId)
      .where('webhook_id', '=', id)
      .where('next_attempt_at', '=', sql<Date>`'infinity'`)
      .execute();
  }
  return row;
}

/** Pending deliveries of disabled webhooks wait at 'infinity', out of the workers' due scan. */
async function parkDeliveries(db: Executor, organizationId: string, webhookIds: readonly string[]): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ next_attempt_at: sql`'infinity'` })
    .where('organization_id', '=', organizationId)
    .where('webhook_id', 'in', webhookIds)
    .execute();
}

export async function replaceSecret(
  db: Executor,
  organizationId: string,
  webhookId: string,
  secret: string,
): Promise<PublicWebhookRow | undefined> {
  return db
    .updateTable('webhooks')
    .set({ secret, updated_at: sql`now()` })
    .where('organization_id', '=', organizationId)
    .where('id', '=', webhookId)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
}

/** Deletes the webhook with its pending deliveries and its attempt log (foreign keys cascade). */
export async function deleteWebhook(db: Executor, organizationId: string, webhookId: string): Promise<boolean> {
  const result = await db
    .deleteFrom('webhooks')
    .where('organization_id', '=', organizationId)
    .where('id', '=', webhookId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function listAttempts(
  db: Executor,
  organizationId: string,
  webhookId: string,
  limit: number,
): Promise<WebhookAttemptRow[]> {
  return db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('webhook_id', '=', webhookId)
    .orderBy('attempted_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/**
 * Queues again the kept events of [fromSeq, toSeq] that the webhook's filters match, up to what it
 * has dispatched (later events are on their way anyway). A delivery of one of them still pending
 * and not in flight starts over, due now. Returns how many were queued.
 */
export async function requeueEvents(
  trx: Transaction<Database>,
  webhook: PublicWebhookRow,
  fromSeq: number,
  toSeq: number,
): Promise<number> {
  const { rows } = await sql<{ queued: string }>`
    WITH queued AS (
      INSERT INTO webhook_deliveries (organization_id, webhook_id, seq, event_id, event_type, resource_id, next_attempt_at)
      SELECT w.organization_id, w.id, e.seq, e.id, e.type, e.resource_id,
             CASE WHEN w.enabled THEN now() ELSE 'infinity' END
      FROM webhooks w
      JOIN events e ON e.organization_id = w.organization_id
      WHERE w.organization_id = ${webhook.organization_id} AND w.id = ${webhook.id}
        AND e.seq BETWEEN ${fromSeq} AND least(${toSeq}::bigint, w.dispatched_through)
        AND ${typeMatchesSql(sql.ref('e.type'), sql.ref('w.event_types'))}
        AND NOT (e.origin = ANY(w.exclude_origins))
      ON CONFLICT (organization_id, webhook_id, seq) DO UPDATE
        SET attempts = 0, next_attempt_at = excluded.next_attempt_at, lease_until = NULL, lease_id = NULL
        WHERE webhook_deliveries.lease_until IS NULL OR webhook_deliveries.lease_until < now()
      RETURNING 1
    )
    SELECT count(*) AS queued FROM queued
  `.execute(trx);
  return Number(rows[0]?.queued ?? 0);
}

export interface AttemptRecord {
  organizationId: string;
  webhookId: string;
  eventId: string;
  seq: number | null;
  eventType: string;
  attempt: number;
  attemptedAt: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  outcome: WebhookAttemptOutcome;
}

/** Appends a test delivery's attempt to its webhook's log; undefined when the webhook was deleted meanwhile. */
export async function insertTestAttempt(db: Executor, attempt: AttemptRecord): Promise<WebhookAttemptRow | undefined> {
  const { rows } = await sql<WebhookAttemptRow>`
    INSERT INTO webhook_attempts
      (organization_id, webhook_id, event_id, seq, event_type, attempt, attempted_at, status_code, duration_ms, error,
       outcome)
    SELECT w.organization_id, w.id, ${attempt.eventId}, ${attempt.seq}, ${attempt.eventType}, ${attempt.attempt},
           ${attempt.attemptedAt}, ${attempt.statusCode}, ${attempt.durationMs}, ${attempt.error}, ${attempt.outcome}
    FROM webhooks w
    WHERE w.organization_id = ${attempt.organizationId} AND w.id = ${attempt.webhookId}
    RETURNING *
  `.execute(db);
  return rows[0];
}

/** Appends attempts to the logs of their webhooks (any organizations); those of webhooks deleted meanwhile are left out. */
export async function insertAttempts(db: Executor, attempts: readonly AttemptRecord[]): Promise<WebhookAttemptRow[]> {
  if (attempts.length === 0) return [];
  const column = <T>(pick: (attempt: AttemptRecord) => T) => attempts.map(pick);
  const { rows } = await sql<WebhookAttemptRow>`
    INSERT INTO webhook_attempts
      (organization_id, webhook_id, event_id, seq, event_type, attempt, attempted_at, status_code, duration_ms, error,
       outcome)
    SELECT r.organization_id, r.webhook_id, r.event_id, r.seq, r.event_type, r.attempt, r.attempted_at, r.status_code,
           r.duration_ms, r.error, r.outcome
    FROM unnest(
      ${column((a) => a.organizationId)}::uuid[], ${column((a) => a.webhookId)}::uuid[],
      ${column((a) => a.eventId)}::uuid[], ${column((a) => a.seq)}::bigint[], ${column((a) => a.eventType)}::text[],
      ${column((a) => a.attempt)}::integer[], ${column((a) => a.attemptedAt.toISOString())}::timestamptz[],
      ${column((a) => a.statusCode)}::integer[], ${column((a) => a.durationMs)}::integer[],
      ${column((a) => a.error)}::text[], ${column((a) => a.outcome)}::text[]
    ) AS r(organization_id, webhook_id, event_id, seq, event_type, attempt, attempted_at, status_code, duration_ms,
           error, outcome)
    JOIN webhooks w ON w.organization_id = r.organization_id AND w.id = r.webhook_id
    RETURNING webhook_attempts.*
  `.execute(db);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The delivery worker's statements (webhook-delivery.ts). They work across organizations: each
// process takes whatever is due, whoever it belongs to.
// ---------------------------------------------------------------------------------------------

/**
 * One dispatcher pass: for up to `maxWebhooks` enabled webhooks behind their organization's last
 * event, inserts a delivery (due after `firstDelayMs`) for each following event, up to `maxEvents`
 * per webhook, that their filters match, and advances dispatched_through past those events. The
 * webhook rows are locked (SKIP LOCKED: another process dispatching them, or a PATCH, is left
 * alone), so each event is fanned out once. Every event at or below a counter's last_seq is
 * committed and visible in the same snapshot (the sequencer writes both in one transaction), so
 * none is skipped. Returns how many webhooks it advanced.
 */
export async function dispatchEvents(
  db: Executor,
  options: { maxWebhooks: number; maxEvents: number; firstDelayMs: number },
): Promise<number> {
  const { rows } = await sql<{ advanced: string }>`
    WITH locked AS (
      SELECT w.organization_id, w.id, w.event_types, w.exclude_origins, w.dispatched_through AS after_seq,
             least(c.last_seq, w.dispatched_through + ${options.maxEvents}) AS through_seq
      FROM webhooks w
      JOIN event_counters c ON c.organization_id = w.organization_id
      WHERE w.enabled AND c.last_seq > w.dispatched_through
      LIMIT ${options.maxWebhooks}
      FOR UPDATE OF w SKIP LOCKED
    ), inserted AS (
      INSERT INTO webhook_deliveries (organization_id, webhook_id, seq, event_id, event_type, resource_id, next_attempt_at)
      SELECT l.organization_id, l.id, e.seq, e.id, e.type, e.resource_id,
             now() + ${options.firstDelayMs} * interval '1 millisecond'
      FROM locked l
      JOIN events e ON e.organization_id = l.organization_id AND e.seq > l.after_seq AND e.seq <= l.through_seq
      WHERE ${typeMatchesSql(sql.ref('e.type'), sql.ref('l.event_types'))}
        AND NOT (e.origin = ANY(l.exclude_origins))
      ON CONFLICT (organization_id, webhook_id, seq) DO NOTHING
      RETURNING 1
    ), advanced AS (
      UPDATE webhooks w SET dispatched_through = l.through_seq
      FROM locked l
      WHERE w.organization_id = l.organization_id AND w.id = l.id AND l.through_seq > w.dispatched_through
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM advanced) AS advanced, (SELECT count(*) FROM inserted) AS inserted
  `.execute(db);
  return Number(rows[0]?.advanced ?? 0);
}

export interface ClaimedDelivery {
  organization_id: string;
  webhook_id: string;
  seq: number;
  event_id: string;
  event_type: string;
  attempts: number;
  lease_id: string;
  url: string;
  secret: string;
}

export interface ClaimOptions {
  limit: number;
  /** In flight per webhook in this process is capped at this many. */
  perWebhook: number;
  /** Deliveries this process has in flight, per webhook. */
  inFlight: ReadonlyMap<string, number>;
  leaseMs: number;
}

/**
 * Leases up to `limit` due deliveries of enabled webhooks and counts the attempt. A delivery is
 * due when its time has come and no lease holds it (an expired lease is a crashed worker's: taken
 * again). Per webhook and resource only the earliest pending delivery is eligible, so a later
 * event of a contact never overtakes an earlier one that is not delivered yet; different
 * resources go in parallel, up to `perWebhook` at a time for each webhook. SKIP LOCKED lets
 * several processes claim at once without taking the same rows.
 */
export async function claimDeliveries(db: Executor, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  const busyIds = [...options.inFlight.keys()];
  const busyCounts = busyIds.map((id) => options.inFlight.get(id) ?? 0);
  const { rows } = await sql<ClaimedDelivery>`
    WITH eligible AS (
      SELECT d.organization_id, d.webhook_id, d.seq, d.next_attempt_at,
             row_number() OVER (PARTITION BY d.organization_id, d.webhook_id ORDER BY d.next_attempt_at, d.seq) AS rank
      FROM webhook_deliveries d
      JOIN webhooks w ON w.organization_id = d.organization_id AND w.id = d.webhook_id
      WHERE w.enabled
        AND d.next_attempt_at <= now()
        AND (d.lease_until IS NULL OR d.lease_until < now())
        AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries p
          WHERE p.organization_id = d.organization_id AND p.webhook_id = d.webhook_id
            AND p.resource_id = d.resource_id AND p.seq < d.seq
        )
    ), wanted AS (
      SELECT e.organization_id, e.webhook_id, e.seq
      FROM eligible e
      LEFT JOIN unnest(${busyIds}::uuid[], ${busyCounts}::integer[]) AS b(webhook_id, in_flight)
        ON b.webhook_id = e.webhook_id
      WHERE e.rank <= ${options.perWebhook} - coalesce(b.in_flight, 0)
      ORDER BY e.next_attempt_at, e.seq
      LIMIT ${options.limit}
    ), claimed AS (
      SELECT d.organization_id, d.webhook_id, d.seq
      FROM webhook_deliveries d
      JOIN wanted x ON x.organization_id = d.organization_id AND x.webhook_id = d.webhook_id AND x.seq = d.seq
      WHERE d.lease_until IS NULL OR d.lease_until < now()
      FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1,
        lease_until = now() + ${options.leaseMs} * interval '1 millisecond',
        lease_id = gen_random_uuid()
    FROM claimed c, webhooks w
    WHERE d.organization_id = c.organization_id AND d.webhook_id = c.webhook_id AND d.seq = c.seq
      AND w.organization_id = d.organization_id AND w.id = d.webhook_id
    RETURNING d.organization_id, d.webhook_id, d.seq, d.event_id, d.event_type, d.attempts, d.lease_id, w.url, w.secret
  `.execute(db);
  return rows;
}

/** The events of claimed deliveries, by `organization/seq`; an event pruned meanwhile is absent. */
export async function findEventsBySeq(
  db: Executor,
  deliveries: ReadonlyArray<{ organization_id: string; seq: number }>,
): Promise<Map<string, EventRow>> {
  if (deliveries.length === 0) return new Map();
  const { rows } = await sql<EventRow>`
    SELECT e.* FROM events e
    JOIN unnest(${deliveries.map((d) => d.organization_id)}::uuid[], ${deliveries.map((d) => d.seq)}::bigint[])
      AS k(organization_id, seq)
      ON e.organization_id = k.organization_id AND e.seq = k.seq
  `.execute(db);
  return new Map(rows.map((row) => [`${row.organization_id}/${row.seq}`, row]));
}

export interface DeliveryResult {
  organizationId: string;
  webhookId: string;
  seq: number;
  leaseId: string;
  /** Null: the delivery is done (delivered, or given up) and its row goes. */
  nextAttemptAt: Date | null;
}

/**
 * Settles claimed deliveries: done ones are deleted, the others get their next attempt time and
 * lose their lease. Only while the claim still holds the lease: a delivery replayed meanwhile, or
 * taken by another process after the lease expired, is not this claim's to settle.
 */
export async function settleDeliveries(db: Executor, results: readonly DeliveryResult[]): Promise<void> {
  const done = results.filter((result) => result.nextAttemptAt === null);
  const retried = results.filter((result) => result.nextAttemptAt !== null);
  if (done.length > 0) {
    await sql`
      DELETE FROM webhook_deliveries d
      USING unnest(${done.map((r) => r.organizationId)}::uuid[], ${done.map((r) => r.webhookId)}::uuid[],
                   ${done.map((r) => r.seq)}::bigint[], ${done.map((r) => r.leaseId)}::uuid[])
            AS r(organization_id, webhook_id, seq, lease_id)
      WHERE d.organization_id = r.organization_id AND d.webhook_id = r.webhook_id AND d.seq = r.seq
        AND d.lease_id = r.lease_id
    `.execute(db);
  }
  if (retried.length > 0) {
    await sql`
      UPDATE webhook_deliveries d
      SET next_attempt_at = CASE WHEN w.enabled THEN r.next_attempt_at ELSE 'infinity' END,
          lease_until = NULL, lease_id = NULL
      FROM unnest(${retried.map((r) => r.organizationId)}::uuid[], ${retried.map((r) => r.webhookId)}::uuid[],
                  ${retried.map((r) => r.seq)}::bigint[], ${retried.map((r) => r.leaseId)}::uuid[],
                  ${retried.map((r) => (r.nextAttemptAt as Date).toISOString())}::timestamptz[])
           AS r(organization_id, webhook_id, seq, lease_id, next_attempt_at),
           webhooks w
      WHERE d.organization_id = r.organization_id AND d.webhook_id = r.webhook_id AND d.seq = r.seq
        AND d.lease_id = r.lease_id AND w.organization_id = d.organization_id AND w.id = d.webhook_id
    `.execute(db);
  }
}

export interface WebhookHealth {
  organizationId: string;
  webhookId: string;
  /** Null: the batch's last attempt succeeded (or it had only successes). Else its first failure after the last success. */
  failingSince: Date | null;
  /** The batch had a success: failing_since is replaced rather than kept. */
  succeeded: boolean;
  /** The endpoint answered 410 Gone. */
  gone: boolean;
}

/**
 * Updates failing_since from a batch of results and disables webhooks whose endpoint is gone or
 * that have failed for `disableAfterMs` without a success. Their pending deliveries are parked.
 * Returns the webhooks disabled, with why.
 */
export async function recordWebhookHealth(
  trx: Transaction<Database>,
  health: readonly WebhookHealth[],
  disableAfterMs: number,
): Promise<Array<{ organization_id: string; id: string; disabled_reason: WebhookDisabledReason }>> {
  if (health.length === 0) return [];
  // Decided from the locked rows first: one statement must not update a row twice.
  const { rows } = await sql<{
    organization_id: string;
    id: string;
    disabled_reason: WebhookDisabledReason;
    disabling: boolean;
  }>`
    WITH input AS (
      SELECT * FROM unnest(
        ${health.map((h) => h.organizationId)}::uuid[], ${health.map((h) => h.webhookId)}::uuid[],
        ${health.map((h) => h.failingSince?.toISOString() ?? null)}::timestamptz[],
        ${health.map((h) => h.succeeded)}::boolean[], ${health.map((h) => h.gone)}::boolean[]
      ) AS r(organization_id, webhook_id, failing_since, succeeded, gone)
    ), current AS (
      SELECT w.organization_id, w.id, w.enabled, r.gone,
             CASE WHEN r.succeeded THEN r.failing_since ELSE coalesce(w.failing_since, r.failing_since) END
               AS failing_since
      FROM webhooks w
      JOIN input r ON r.organization_id = w.organization_id AND r.webhook_id = w.id
      FOR UPDATE OF w
    ), decided AS (
      SELECT c.*,
             c.enabled AND (c.gone OR coalesce(c.failing_since < now() - ${disableAfterMs} * interval '1 millisecond', false))
               AS disabling
      FROM current c
    )
    UPDATE webhooks w
    SET failing_since = d.failing_since,
        enabled = w.enabled AND NOT d.disabling,
        disabled_reason = CASE WHEN NOT d.disabling THEN w.disabled_reason
                               WHEN d.gone THEN 'endpoint-gone' ELSE 'failing' END,
        updated_at = CASE WHEN d.disabling THEN now() ELSE w.updated_at END
    FROM decided d
    WHERE w.organization_id = d.organization_id AND w.id = d.id
    RETURNING w.organization_id, w.id, w.disabled_reason, d.disabling
  `.execute(trx);
  const disabled = rows.filter((row) => row.disabling);
  for (const row of disabled) await parkDeliveries(trx, row.organization_id, [row.id]);
  return disabled.map(({ organization_id, id, disabled_reason }) => ({ organization_id, id, disabled_reason }));
}

/**
 * Removes attempts older than `before`, up to `max`, across organizations; returns how many. The
 * lock keeps one process at a time at it.
 */
export async function pruneAttempts(trx: Transaction<Database>, before: Date, max: number): Promise<number> {
  const { rows: locked } = await sql<{ locked: boolean }>`
    SELECT pg_try_advisory_xact_lock(hashtextextended('contacts-api:prune-webhook-attempts', 0)) AS locked
  `.execute(trx);
  if (!locked[0]?.locked) return 0;
  const result = await sql`
    DELETE FROM webhook_attempts a
    USING (
      SELECT organization_id, webhook_id, id FROM webhook_attempts WHERE attempted_at < ${before} LIMIT ${max}
    ) old
    WHERE a.organization_id = old.organization_id AND a.webhook_id = old.webhook_id AND a.id = old.id
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}
