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

// Every column but the secret and the delivery worker's head lease: reads for the API never load them.
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
export type PublicWebhookRow = Omit<WebhookRow, 'secret' | 'head_lease_until' | 'head_lease_id'>;

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
 * Whether a process holds the webhook's head lease now: it is sending events past
 * dispatched_through, whose `blocked` check (findHeadEvents) did not see deliveries queued since.
 */
export async function headLeaseLive(trx: Transaction<Database>, organizationId: string, webhookId: string) {
  const row = await trx
    .selectFrom('webhooks')
    .select(sql<boolean>`head_lease_until > now()`.as('live'))
    .where('organization_id', '=', organizationId)
    .where('id', '=', webhookId)
    .executeTakeFirst();
  return row?.live ?? false;
}

/** Ends a head lease whatever its holder: its recording then finds the lease lost and writes nothing. */
export async function endHeadLease(trx: Transaction<Database>, organizationId: string, webhookId: string) {
  await trx
    .updateTable('webhooks')
    .set({ head_lease_until: null, head_lease_id: null })
    .where('organization_id', '=', organizationId)
    .where('id', '=', webhookId)
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

/** A webhook whose head (the events in (after_seq, through_seq]) this process leased to send. */
export interface LeasedHead {
  organization_id: string;
  webhook_id: string;
  url: string;
  secret: string;
  lease_id: string;
  after_seq: number;
  through_seq: number;
}

/**
 * Leases the heads of up to `maxWebhooks` enabled webhooks behind their organization's last event:
 * the next `maxEvents` events past dispatched_through, whose first attempts the holder makes. The
 * webhooks whose next event is the oldest go first, so that one behind is not passed over turn
 * after turn. A head is held by one process at a time (head_lease_id); an expired lease is a dead
 * or cut-off process's, and its head is taken again (at least once: its sends may be repeated).
 * SKIP LOCKED leaves a webhook that a PATCH or another process's lease statement holds for the next
 * pass. Every event at or below a counter's last_seq is committed and visible in the same snapshot
 * (the sequencer writes both in one transaction), so none is skipped.
 */
export async function leaseHeads(
  db: Executor,
  options: {
    maxWebhooks: number;
    maxEvents: number;
    leaseMs: number;
    /** Webhooks this process may not start more sends to (at their in-flight cap). */
    full: readonly string[];
  },
): Promise<LeasedHead[]> {
  const { rows } = await sql<LeasedHead>`
    WITH taken AS (
      SELECT w.organization_id, w.id, least(c.last_seq, w.dispatched_through + ${options.maxEvents}) AS through_seq
      FROM webhooks w
      JOIN event_counters c ON c.organization_id = w.organization_id
      WHERE w.enabled AND c.last_seq > w.dispatched_through
        AND (w.head_lease_until IS NULL OR w.head_lease_until < now())
        AND NOT (w.id = ANY(${options.full}::uuid[]))
      ORDER BY (
        SELECT e.occurred_at FROM events e
        WHERE e.organization_id = w.organization_id AND e.seq = w.dispatched_through + 1
      ) NULLS FIRST, w.organization_id, w.id
      LIMIT ${options.maxWebhooks}
      FOR NO KEY UPDATE OF w SKIP LOCKED
    )
    UPDATE webhooks w
    SET head_lease_until = now() + ${options.leaseMs} * interval '1 millisecond', head_lease_id = gen_random_uuid()
    FROM taken t
    WHERE w.organization_id = t.organization_id AND w.id = t.id
    RETURNING w.organization_id, w.id AS webhook_id, w.url, w.secret, w.head_lease_id AS lease_id,
              w.dispatched_through AS after_seq, t.through_seq
  `.execute(db);
  return rows.map((row) => ({ ...row, after_seq: Number(row.after_seq), through_seq: Number(row.through_seq) }));
}

/** An event of a leased head that the webhook's filters match. */
export interface HeadEvent {
  event: EventRow;
  /**
   * Its record has an earlier delivery pending (a retry, a replay): it must not overtake it, so it
   * is queued behind it rather than sent now.
   */
  blocked: boolean;
}

/** The events of leased heads that their webhooks' filters match, in seq order, by `organization/webhook`. */
export async function findHeadEvents(db: Executor, heads: readonly LeasedHead[]): Promise<Map<string, HeadEvent[]>> {
  const byHead = new Map<string, HeadEvent[]>();
  if (heads.length === 0) return byHead;
  const column = <T>(pick: (head: LeasedHead) => T) => heads.map(pick);
  const { rows } = await sql<EventRow & { head_webhook_id: string; blocked: boolean }>`
    SELECT e.*, h.webhook_id AS head_webhook_id, EXISTS (
             SELECT 1 FROM webhook_deliveries d
             WHERE d.organization_id = e.organization_id AND d.webhook_id = h.webhook_id
               AND d.resource_id = e.resource_id
           ) AS blocked
    FROM unnest(${column((h) => h.organization_id)}::uuid[], ${column((h) => h.webhook_id)}::uuid[],
                ${column((h) => h.after_seq)}::bigint[], ${column((h) => h.through_seq)}::bigint[])
      AS h(organization_id, webhook_id, after_seq, through_seq)
    JOIN webhooks w ON w.organization_id = h.organization_id AND w.id = h.webhook_id
    -- Lateral, so the seq range is the index scan's bound whatever the planner's statistics say: as
    -- a plain join condition it was once applied as a filter over every event of the organization.
    CROSS JOIN LATERAL (
      SELECT * FROM events e
      WHERE e.organization_id = h.organization_id AND e.seq > h.after_seq AND e.seq <= h.through_seq
      ORDER BY e.seq
      LIMIT h.through_seq - h.after_seq
    ) e
    WHERE ${typeMatchesSql(sql.ref('e.type'), sql.ref('w.event_types'))}
      AND NOT (e.origin = ANY(w.exclude_origins))
    ORDER BY e.organization_id, h.webhook_id, e.seq
  `.execute(db);
  for (const { head_webhook_id: webhookId, blocked, ...event } of rows) {
    const key = `${event.organization_id}/${webhookId}`;
    const list = byHead.get(key) ?? [];
    list.push({ event: { ...event, seq: Number(event.seq) }, blocked });
    byHead.set(key, list);
  }
  return byHead;
}

/** An event of a head that leaves it as a pending delivery instead of done. */
export interface QueuedDelivery {
  seq: number;
  eventId: string;
  eventType: string;
  resourceId: string;
  /** Attempts made already: 1 for a failed first attempt, 0 for one not attempted. */
  attempts: number;
  /** Null: due when its record's earliest pending delivery is (now, if that one is in flight or parked). */
  nextAttemptAt: Date | null;
  /**
   * Set for an event whose first attempt is still in flight when its head is recorded: the row is
   * inserted leased to the sender under this id, as if claimed, and settled like a claimed delivery.
   */
  leaseId?: string;
}

/**
 * Ends a head lease: advances dispatched_through to the head's end, releases the lease and queues
 * what needs another attempt, in one transaction with the attempts; returns the webhook's
 * failing_since. Null when the lease is no
 * longer this process's (it expired and another took the head, or the webhook was deleted): nothing
 * is written, and the head's new holder sends it again.
 */
export async function settleHead(
  trx: Transaction<Database>,
  head: LeasedHead,
  queued: readonly QueuedDelivery[],
  leaseMs: number,
): Promise<{ failingSince: Date | null } | null> {
  const released = await trx
    .updateTable('webhooks')
    .set({
      dispatched_through: sql<number>`greatest(dispatched_through, ${head.through_seq}::bigint)`,
      head_lease_until: null,
      head_lease_id: null,
    })
    .where('organization_id', '=', head.organization_id)
    .where('id', '=', head.webhook_id)
    .where('head_lease_id', '=', head.lease_id)
    .returning(['enabled', 'failing_since'])
    .executeTakeFirst();
  if (released === undefined) return null;
  const settled = { failingSince: released.failing_since };
  if (queued.length === 0) return settled;
  const column = <T>(pick: (delivery: QueuedDelivery) => T) => queued.map(pick);
  // A webhook disabled meanwhile keeps them parked, as updateWebhook parks its other deliveries.
  await sql`
    INSERT INTO webhook_deliveries
      (organization_id, webhook_id, seq, event_id, event_type, resource_id, attempts, next_attempt_at, lease_until,
       lease_id)
    SELECT ${head.organization_id}::uuid, ${head.webhook_id}::uuid, r.seq, r.event_id, r.event_type, r.resource_id,
           r.attempts,
           CASE WHEN r.lease_id IS NOT NULL THEN now() + ${leaseMs} * interval '1 millisecond'
                WHEN NOT ${released.enabled} THEN 'infinity'::timestamptz
                ELSE coalesce(r.next_attempt_at, greatest(now(), (
                  SELECT CASE WHEN p.lease_until IS NULL AND p.next_attempt_at < 'infinity' THEN p.next_attempt_at END
                  FROM webhook_deliveries p
                  WHERE p.organization_id = ${head.organization_id} AND p.webhook_id = ${head.webhook_id}
                    AND p.resource_id = r.resource_id
                  ORDER BY p.seq
                  LIMIT 1
                )))
           END,
           CASE WHEN r.lease_id IS NOT NULL THEN now() + ${leaseMs} * interval '1 millisecond' END,
           r.lease_id
    FROM unnest(${column((d) => d.seq)}::bigint[], ${column((d) => d.eventId)}::uuid[],
                ${column((d) => d.eventType)}::text[], ${column((d) => d.resourceId)}::uuid[],
                ${column((d) => d.attempts)}::integer[],
                ${column((d) => d.nextAttemptAt?.toISOString() ?? null)}::timestamptz[],
                ${column((d) => d.leaseId ?? null)}::uuid[])
      AS r(seq, event_id, event_type, resource_id, attempts, next_attempt_at, lease_id)
    ON CONFLICT (organization_id, webhook_id, seq) DO NOTHING
  `.execute(trx);
  return settled;
}

/** Gives head leases back unused (nothing was sent), so the heads are taken again at once. */
export async function releaseHeadLeases(db: Executor, heads: readonly LeasedHead[]): Promise<void> {
  if (heads.length === 0) return;
  await sql`
    UPDATE webhooks w
    SET head_lease_until = NULL, head_lease_id = NULL
    FROM unnest(${heads.map((h) => h.organization_id)}::uuid[], ${heads.map((h) => h.webhook_id)}::uuid[],
                ${heads.map((h) => h.lease_id)}::uuid[]) AS r(organization_id, webhook_id, lease_id)
    WHERE w.organization_id = r.organization_id AND w.id = r.webhook_id AND w.head_lease_id = r.lease_id
  `.execute(db);
}

/**
 * Locks the webhooks of a batch of results in key order, before their delivery rows: every path that
 * changes both (a head's recording, PATCH, replay, delete) takes the webhook row first, so two
 * recordings, or a recording and a PATCH, take turns instead of deadlocking.
 */
export async function lockWebhooksInOrder(
  trx: Transaction<Database>,
  webhooks: ReadonlyArray<{ organizationId: string; webhookId: string }>,
): Promise<void> {
  if (webhooks.length === 0) return;
  await sql`
    SELECT 1 FROM webhooks w
    JOIN unnest(${webhooks.map((w) => w.organizationId)}::uuid[], ${webhooks.map((w) => w.webhookId)}::uuid[])
      AS r(organization_id, webhook_id)
      ON w.organization_id = r.organization_id AND w.id = r.webhook_id
    ORDER BY w.organization_id, w.id
    FOR NO KEY UPDATE OF w
  `.execute(trx);
}

/** Extends the head leases a process still holds to `leaseMs` from now; returns the webhook ids extended. */
export async function renewHeadLeases(
  db: Executor,
  heads: readonly LeasedHead[],
  leaseMs: number,
): Promise<Array<{ organization_id: string; id: string; head_lease_id: string }>> {
  if (heads.length === 0) return [];
  // Locked in key order and skipping rows another statement holds (a recording ending the lease, a
  // health update), so it neither waits for nor deadlocks with them.
  const { rows } = await sql<{ organization_id: string; id: string; head_lease_id: string }>`
    WITH held AS (
      SELECT w.organization_id, w.id
      FROM webhooks w
      JOIN unnest(${heads.map((h) => h.organization_id)}::uuid[], ${heads.map((h) => h.webhook_id)}::uuid[],
                  ${heads.map((h) => h.lease_id)}::uuid[]) AS r(organization_id, webhook_id, lease_id)
        ON w.organization_id = r.organization_id AND w.id = r.webhook_id AND w.head_lease_id = r.lease_id
      ORDER BY w.organization_id, w.id
      FOR NO KEY UPDATE OF w SKIP LOCKED
    )
    UPDATE webhooks w
    SET head_lease_until = now() + ${leaseMs} * interval '1 millisecond'
    FROM held h
    WHERE w.organization_id = h.organization_id AND w.id = h.id
    RETURNING w.organization_id, w.id, w.head_lease_id
  `.execute(db);
  return rows;
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
 *
 * What it costs follows what it takes, not how much is due: a skip scan of webhook_deliveries_due
 * reads one index entry per webhook with pending deliveries (its earliest), the webhooks with due
 * work are taken oldest due first (a backlog at one webhook does not hold the others back), and
 * per webhook an index scan in due order stops after the few it may take. A claimed delivery's
 * next_attempt_at moves to its lease's end: in flight, it is out of the due range, and due again by
 * itself if its process dies.
 */
export async function claimDeliveries(db: Executor, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  const busyIds = [...options.inFlight.keys()];
  const busyCounts = busyIds.map((id) => options.inFlight.get(id) ?? 0);
  // Webhooks looked at: some may turn out to have nothing to take (their due deliveries wait behind
  // one in flight), so more than one claim's worth.
  const candidates = Math.max(options.limit * 4, 16);
  const { rows } = await sql<ClaimedDelivery>`
    WITH RECURSIVE pending AS (
      (SELECT d.organization_id, d.webhook_id, d.next_attempt_at
       FROM webhook_deliveries d
       ORDER BY d.organization_id, d.webhook_id, d.next_attempt_at
       LIMIT 1)
      UNION ALL
      SELECT n.organization_id, n.webhook_id, n.next_attempt_at
      FROM pending p
      CROSS JOIN LATERAL (
        SELECT d.organization_id, d.webhook_id, d.next_attempt_at
        FROM webhook_deliveries d
        WHERE (d.organization_id, d.webhook_id, d.next_attempt_at) > (p.organization_id, p.webhook_id, 'infinity'::timestamptz)
        ORDER BY d.organization_id, d.webhook_id, d.next_attempt_at
        LIMIT 1
      ) n
    ), candidates AS (
      SELECT p.organization_id, p.webhook_id, ${options.perWebhook} - coalesce(b.in_flight, 0) AS room
      FROM pending p
      JOIN webhooks w ON w.organization_id = p.organization_id AND w.id = p.webhook_id
      LEFT JOIN unnest(${busyIds}::uuid[], ${busyCounts}::integer[]) AS b(webhook_id, in_flight)
        ON b.webhook_id = p.webhook_id
      WHERE w.enabled AND p.next_attempt_at <= now() AND coalesce(b.in_flight, 0) < ${options.perWebhook}
      ORDER BY p.next_attempt_at, p.organization_id, p.webhook_id
      LIMIT ${candidates}
    ), wanted AS (
      SELECT x.organization_id, x.webhook_id, x.seq
      FROM candidates c
      CROSS JOIN LATERAL (
        SELECT d.organization_id, d.webhook_id, d.seq, d.next_attempt_at
        FROM webhook_deliveries d
        WHERE d.organization_id = c.organization_id AND d.webhook_id = c.webhook_id
          AND d.next_attempt_at <= now()
          AND (d.lease_until IS NULL OR d.lease_until < now())
          -- The earliest pending delivery of its resource. A subquery per row, one index probe
          -- each: as NOT EXISTS the planner may turn it into a join over the webhook's every row.
          AND d.seq = (
            SELECT earliest.seq FROM webhook_deliveries earliest
            WHERE earliest.organization_id = d.organization_id AND earliest.webhook_id = d.webhook_id
              AND earliest.resource_id = d.resource_id
            ORDER BY earliest.seq
            LIMIT 1
          )
        ORDER BY d.next_attempt_at, d.seq
        LIMIT c.room
      ) x
      ORDER BY x.next_attempt_at, x.seq
      LIMIT ${options.limit}
    ), claimed AS (
      SELECT d.organization_id, d.webhook_id, d.seq
      FROM webhook_deliveries d
      JOIN wanted x ON x.organization_id = d.organization_id AND x.webhook_id = d.webhook_id AND x.seq = d.seq
      WHERE d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())
      FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1,
        lease_until = now() + ${options.leaseMs} * interval '1 millisecond',
        next_attempt_at = now() + ${options.leaseMs} * interval '1 millisecond',
        lease_id = gen_random_uuid()
    FROM claimed c, webhooks w
    WHERE d.organization_id = c.organization_id AND d.webhook_id = c.webhook_id AND d.seq = c.seq
      AND w.organization_id = d.organization_id AND w.id = d.webhook_id
    RETURNING d.organization_id, d.webhook_id, d.seq, d.event_id, d.event_type, d.attempts, d.lease_id, w.url, w.secret
  `.execute(db);
  return rows;
}

/**
 * Extends the leases a process still holds (deliveries it is sending, or whose results it has not
 * recorded yet) to `leaseMs` from now, with next_attempt_at, where they are still its own; returns
 * those extended. Rows another statement has locked (a recording settling them) are skipped.
 */
export async function renewLeases(
  db: Executor,
  held: readonly DeliveryKey[],
  leaseMs: number,
): Promise<Array<{ organization_id: string; webhook_id: string; seq: number; lease_id: string }>> {
  if (held.length === 0) return [];
  const sorted = [...held].sort(byKey);
  const { rows } = await sql<{ organization_id: string; webhook_id: string; seq: number; lease_id: string }>`
    WITH held AS (
      SELECT d.organization_id, d.webhook_id, d.seq
      FROM webhook_deliveries d
      JOIN unnest(${sorted.map((r) => r.organizationId)}::uuid[], ${sorted.map((r) => r.webhookId)}::uuid[],
                  ${sorted.map((r) => r.seq)}::bigint[], ${sorted.map((r) => r.leaseId)}::uuid[])
        AS r(organization_id, webhook_id, seq, lease_id)
        ON d.organization_id = r.organization_id AND d.webhook_id = r.webhook_id AND d.seq = r.seq
       AND d.lease_id = r.lease_id
      FOR NO KEY UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries d
    SET lease_until = now() + ${leaseMs} * interval '1 millisecond',
        next_attempt_at = CASE WHEN d.next_attempt_at = 'infinity' THEN d.next_attempt_at
                               ELSE now() + ${leaseMs} * interval '1 millisecond' END
    FROM held h
    WHERE d.organization_id = h.organization_id AND d.webhook_id = h.webhook_id AND d.seq = h.seq
    RETURNING d.organization_id, d.webhook_id, d.seq, d.lease_id
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

export interface DeliveryKey {
  organizationId: string;
  webhookId: string;
  seq: number;
  leaseId: string;
}

/**
 * How a claimed delivery ends: `done` (delivered, or given up: its row goes), `retry` (attempted,
 * next attempt at `nextAttemptAt`), or `release` (not attempted, as too little of its lease was left
 * to send it: the attempt is not counted and it is due again at once).
 */
export type DeliveryResult = DeliveryKey &
  ({ kind: 'done' } | { kind: 'retry'; nextAttemptAt: Date } | { kind: 'release' });

function byKey(a: DeliveryKey, b: DeliveryKey): number {
  if (a.organizationId !== b.organizationId) return a.organizationId < b.organizationId ? -1 : 1;
  if (a.webhookId !== b.webhookId) return a.webhookId < b.webhookId ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * Settles claimed deliveries: done ones are deleted, the others get their next attempt time and
 * lose their lease. Only while the claim still holds the lease: a delivery replayed meanwhile, or
 * taken by another process after the lease expired, is not this claim's to settle. A retried
 * delivery's followers (later pending deliveries of its record, which wait for it) become due no
 * earlier than it, so claims do not step over them until then. Rows are taken in key order.
 */
export async function settleDeliveries(db: Executor, results: readonly DeliveryResult[]): Promise<void> {
  const sorted = [...results].sort(byKey);
  const done = sorted.filter((result) => result.kind === 'done');
  const retried = sorted.filter((result) => result.kind === 'retry');
  const released = sorted.filter((result) => result.kind === 'release');
  const keys = (list: readonly DeliveryKey[]) => sql`
    unnest(${list.map((r) => r.organizationId)}::uuid[], ${list.map((r) => r.webhookId)}::uuid[],
           ${list.map((r) => r.seq)}::bigint[], ${list.map((r) => r.leaseId)}::uuid[])`;
  if (done.length > 0) {
    await sql`
      DELETE FROM webhook_deliveries d
      USING ${keys(done)} AS r(organization_id, webhook_id, seq, lease_id)
      WHERE d.organization_id = r.organization_id AND d.webhook_id = r.webhook_id AND d.seq = r.seq
        AND d.lease_id = r.lease_id
    `.execute(db);
  }
  if (retried.length > 0) {
    const { rows: settled } = await sql<{ organization_id: string; webhook_id: string; seq: number }>`
      UPDATE webhook_deliveries d
      SET next_attempt_at = CASE WHEN w.enabled THEN r.next_attempt_at ELSE 'infinity' END,
          lease_until = NULL, lease_id = NULL
      FROM unnest(${retried.map((r) => r.organizationId)}::uuid[], ${retried.map((r) => r.webhookId)}::uuid[],
                  ${retried.map((r) => r.seq)}::bigint[], ${retried.map((r) => r.leaseId)}::uuid[],
                  ${retried.map((r) => r.nextAttemptAt.toISOString())}::timestamptz[])
           AS r(organization_id, webhook_id, seq, lease_id, next_attempt_at),
           webhooks w
      WHERE d.organization_id = r.organization_id AND d.webhook_id = r.webhook_id AND d.seq = r.seq
        AND d.lease_id = r.lease_id AND w.organization_id = d.organization_id AND w.id = d.webhook_id
      RETURNING d.organization_id, d.webhook_id, d.seq
    `.execute(db);
    if (settled.length > 0) {
      await sql`
        UPDATE webhook_deliveries f
        SET next_attempt_at = h.next_attempt_at
        FROM unnest(${settled.map((r) => r.organization_id)}::uuid[], ${settled.map((r) => r.webhook_id)}::uuid[],
                    ${settled.map((r) => r.seq)}::bigint[]) AS r(organization_id, webhook_id, seq)
        JOIN webhook_deliveries h
          ON h.organization_id = r.organization_id AND h.webhook_id = r.webhook_id AND h.seq = r.seq
        WHERE f.organization_id = h.organization_id AND f.webhook_id = h.webhook_id
          AND f.resource_id = h.resource_id AND f.seq > h.seq
          AND f.next_attempt_at < h.next_attempt_at AND f.lease_until IS NULL
      `.execute(db);
    }
  }
  if (released.length > 0) {
    await sql`
      UPDATE webhook_deliveries d
      SET attempts = d.attempts - 1,
          next_attempt_at = CASE WHEN w.enabled THEN now() ELSE 'infinity' END,
          lease_until = NULL, lease_id = NULL
      FROM ${keys(released)} AS r(organization_id, webhook_id, seq, lease_id), webhooks w
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
 *
 * The rows are locked FOR NO KEY UPDATE (what the update needs: it changes no key), which does not
 * conflict with the FOR KEY SHARE that inserting their attempts took earlier in the transaction, and
 * in key order, so two processes recording results of the same webhooks take turns instead of
 * deadlocking.
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
      ORDER BY w.organization_id, w.id
      FOR NO KEY UPDATE OF w
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
  const result = await sql`
    DELETE FROM webhook_attempts a
    USING (
      SELECT organization_id, webhook_id, id FROM webhook_attempts WHERE attempted_at < ${before} LIMIT ${max}
    ) old
    WHERE a.organization_id = old.organization_id AND a.webhook_id = old.webhook_id AND a.id = old.id
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}
