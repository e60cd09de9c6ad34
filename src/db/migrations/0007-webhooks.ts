import { type Kysely, sql } from 'kysely';

/**
 * Webhooks: subscriptions to the event log (migration 0006), delivered over HTTP by every server
 * process together (src/webhooks/webhook-delivery.ts), with the work shared through these tables.
 *
 * - webhooks: a subscription. `dispatched_through` is the last seq its dispatcher has considered;
 *   events above it are fanned out into pending deliveries, in seq order, and it never goes back.
 *   Seq is commit ordered, so nothing below it can still appear.
 * - webhook_deliveries: what is still to be sent, one row per (subscription, event); deleted once
 *   delivered or given up. A worker leases a row (lease_until, lease_id) while it sends, renewing
 *   the lease until the result is recorded, so other processes leave it alone; next_attempt_at
 *   follows the lease's end, so a lease that expires (a killed process) makes the row due again.
 * - webhook_attempts: the log of every attempt, shown by GET /webhooks/{id}/deliveries, pruned after
 *   EVENT_RETENTION_DAYS.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE webhooks (
      organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      url text NOT NULL CHECK (char_length(url) <= 2048),
      -- Event type patterns (event-types.ts), matched with typeMatchesSql. Not named "events": a
      -- column named like a table confuses the textual organization check of citus-ready.test.ts.
      event_types text[] NOT NULL,
      -- Lower-case origins whose events are not delivered.
      exclude_origins text[] NOT NULL DEFAULT '{}',
      description text,
      enabled boolean NOT NULL DEFAULT true,
      disabled_reason text CHECK (disabled_reason IN ('manual', 'endpoint-gone', 'failing')),
      -- whsec_ + base64 key: needed in clear to sign; never returned after creation or rotation.
      secret text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- The first failure since the last success; null while deliveries succeed.
      failing_since timestamptz,
      dispatched_through bigint NOT NULL,
      PRIMARY KEY (organization_id, id)
    )
  `.execute(db);

  await sql`
    CREATE TABLE webhook_deliveries (
      organization_id uuid NOT NULL,
      webhook_id uuid NOT NULL,
      seq bigint NOT NULL,
      event_id uuid NOT NULL,
      event_type text NOT NULL,
      -- Deliveries of one resource go in seq order: a later one waits while an earlier one is pending.
      resource_id uuid NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      -- 'infinity' while the subscription is disabled (parked, out of the due index's range).
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      lease_until timestamptz,
      -- Which claim holds the lease: a worker records its result only while it still holds it.
      lease_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (organization_id, webhook_id, seq),
      FOREIGN KEY (organization_id, webhook_id) REFERENCES webhooks (organization_id, id) ON DELETE CASCADE
    )
  `.execute(db);
  // Workers claim through this: a skip scan reads each subscription's earliest next_attempt_at (one
  // entry per subscription with pending deliveries, whatever their number), then the due deliveries
  // of the subscriptions taken, in due order. Claims cost what they take, not what is due.
  await sql`
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (organization_id, webhook_id, next_attempt_at, seq)
  `.execute(db);
  // The ordering check: an earlier pending delivery of the same subscription and resource.
  await sql`
    CREATE INDEX webhook_deliveries_resource ON webhook_deliveries (organization_id, webhook_id, resource_id, seq)
  `.execute(db);

  await sql`
    CREATE TABLE webhook_attempts (
      organization_id uuid NOT NULL,
      webhook_id uuid NOT NULL,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      event_id uuid NOT NULL,
      -- Null for a test event, which is not in the log.
      seq bigint,
      event_type text NOT NULL,
      attempt integer NOT NULL,
      attempted_at timestamptz NOT NULL,
      status_code integer,
      duration_ms integer NOT NULL,
      error text,
      outcome text NOT NULL CHECK (outcome IN ('succeeded', 'retrying', 'failed')),
      PRIMARY KEY (organization_id, webhook_id, id),
      FOREIGN KEY (organization_id, webhook_id) REFERENCES webhooks (organization_id, id) ON DELETE CASCADE
    )
  `.execute(db);
  await sql`
    CREATE INDEX webhook_attempts_recent ON webhook_attempts (organization_id, webhook_id, attempted_at DESC, id DESC)
  `.execute(db);
  // Retention prunes by age across organizations.
  await sql`CREATE INDEX webhook_attempts_attempted_at ON webhook_attempts (attempted_at)`.execute(db);
}
