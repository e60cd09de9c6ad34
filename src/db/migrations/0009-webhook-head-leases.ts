import { type Kysely, sql } from 'kysely';

/**
 * First attempts go straight from the event log: a process leases a webhook's head (the events past
 * its dispatched_through), sends them, and in one transaction advances dispatched_through and queues
 * into webhook_deliveries only what needs another attempt. Before, every event was first copied into
 * webhook_deliveries, claimed, then deleted: three writes of an indexed row per event, whose dead
 * tuples every claim then stepped over.
 *
 * The lease lives on the webhook row, in columns no index covers, so taking, renewing and releasing
 * it are HOT updates. head_lease_id tells a holder its lease is still its own when it records.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE webhooks
      ADD COLUMN head_lease_until timestamptz,
      ADD COLUMN head_lease_id uuid
  `.execute(db);
}
