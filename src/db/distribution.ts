import type { Database } from './schema.js';

/**
 * How every table is placed when the database runs on Citus (docs/scaling.md): distributed by
 * organization_id into one colocation group, so that all of one organization's rows live on one node
 * and every request is a single-shard query there; or a small reference table, copied to every node;
 * or a plain table left on the coordinator. A test (test/contract/citus-ready.test.ts) reads the
 * catalog and fails on a table placed nowhere or on a key that Citus could not enforce.
 *
 * Listed in the order their Citus calls must run: a table another one references comes first.
 */
export const DISTRIBUTION_COLUMN = 'organization_id';

export type Placement =
  /** Sharded by organization_id, colocated with every other distributed table. */
  | { kind: 'distributed'; why: string }
  /** One shard, replicated to every node; writes take a two-phase commit across all of them. */
  | { kind: 'reference'; why: string }
  /** Stays an ordinary table on the coordinator; no request reads it. */
  | { kind: 'coordinator'; why: string };

/** Kysely's bookkeeping tables, created by the migrator rather than by a migration. */
type MigratorTable = 'kysely_migration' | 'kysely_migration_lock';

export const TABLE_PLACEMENTS = {
  organizations: {
    kind: 'reference',
    why:
      'The tenants themselves: one row per organization, no organization_id column to shard by, and ' +
      'referenced by every distributed table (a foreign key from a distributed table to a reference ' +
      'table is allowed; the reverse is not). Authentication joins it to api_tokens on any node.',
  },
  api_tokens: {
    kind: 'reference',
    why:
      'Authentication looks a token up by its hash before the organization is known, and the hash ' +
      'is unique across all organizations: distributed, that lookup would visit every shard and the ' +
      'unique index could not exist. A few rows per organization, written rarely.',
  },
  server_secrets: {
    kind: 'reference',
    why: 'One row (the cursor signing key) shared by every organization and read on every list page.',
  },
  contacts: {
    kind: 'distributed',
    why: 'The bulk of the data; every read and write names one organization.',
  },
  contact_external_refs: {
    kind: 'distributed',
    why: 'Joined to contacts on (organization_id, contact_id) in the same statement: colocated, the join stays on one node.',
  },
  companies: {
    kind: 'distributed',
    why: 'Joined to contacts (a contact lists its companies) on (organization_id, id).',
  },
  company_external_refs: {
    kind: 'distributed',
    why: 'Joined to companies on (organization_id, company_id), like contact_external_refs.',
  },
  idempotency_keys: {
    kind: 'distributed',
    why:
      "Written in the same transaction as the request's own rows, so it lives beside them. The admin " +
      "API's keys all carry the nil organization and share one shard, which their volume allows.",
  },
  event_outbox: {
    kind: 'distributed',
    why:
      'Written by the same transaction as the contact or company it describes (a row trigger), so it ' +
      "must live on that row's node. The sequencer drains it; on Citus that pass reads every shard " +
      '(docs/scaling.md).',
  },
  events: {
    kind: 'distributed',
    why: 'Read per organization in seq order and joined to contacts and companies by the change feeds.',
  },
  feed_positions: {
    kind: 'distributed',
    why: 'One row per record, joined to contacts and companies by the change feeds on (organization_id, id).',
  },
  contact_search_terms: {
    kind: 'distributed',
    why:
      "The contacts' search terms in feed order, kept by the sequencer with feed_positions and joined " +
      'to contacts on (organization_id, contact_id) by every search.',
  },
  event_counters: {
    kind: 'distributed',
    why: "One row per organization: its last event number, advanced by the sequencer with that organization's events.",
  },
  contact_field_definitions: {
    kind: 'distributed',
    why:
      "An organization's custom contact fields, read when a write sets values and locked (FOR KEY SHARE) " +
      'in the same transaction as the contacts it validates, so they live beside those contacts.',
  },
  webhooks: {
    kind: 'distributed',
    why:
      "An organization's subscriptions; the dispatcher joins them to event_counters and events on " +
      'organization_id to fan events out.',
  },
  webhook_deliveries: {
    kind: 'distributed',
    why:
      'Pending deliveries, inserted from events and joined to webhooks on (organization_id, webhook_id). ' +
      'The delivery workers claim due rows across organizations (a multi-shard query on Citus).',
  },
  webhook_attempts: {
    kind: 'distributed',
    why: 'The attempt log of a subscription, read per organization and webhook; pruned by age.',
  },
  kysely_migration: {
    kind: 'coordinator',
    why: 'Which migrations ran. Only the migrator reads it, and migrations (DDL) run on the coordinator.',
  },
  kysely_migration_lock: {
    kind: 'coordinator',
    why: "Kysely's migration lock row, kept by databases migrated with Kysely's Migrator; migrator-only like kysely_migration.",
  },
} as const satisfies Record<keyof Database | MigratorTable, Placement>;

export type PlacedTable = keyof typeof TABLE_PLACEMENTS;

/**
 * The Citus calls that place the tables, in an order Citus accepts: reference tables first (every
 * distributed table references organizations), then the distributed ones, the first of which starts
 * a colocation group of its own that the others join. Coordinator tables need no call.
 */
export function citusDistributionSql(placements: Record<string, Placement> = TABLE_PLACEMENTS): string[] {
  const entries = Object.entries(placements);
  const reference = entries.filter(([, placement]) => placement.kind === 'reference').map(([table]) => table);
  const distributed = entries.filter(([, placement]) => placement.kind === 'distributed').map(([table]) => table);
  const [anchor] = distributed;
  return [
    ...reference.map((table) => `SELECT create_reference_table('${table}');`),
    ...distributed.map(
      (table) =>
        `SELECT create_distributed_table('${table}', '${DISTRIBUTION_COLUMN}', colocate_with => '${table === anchor ? 'none' : anchor}');`,
    ),
  ];
}
