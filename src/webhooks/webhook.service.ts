import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import { inTransaction } from '../db/transaction.js';
import { AppError } from '../http/problem.js';
import type { PublicWebhookRow, WebhookAttemptRow } from './webhook.repository.js';
import * as repository from './webhook.repository.js';
import {
  type CreateWebhookInput,
  MAX_REPLAY_RANGE,
  MAX_WEBHOOKS_PER_ORGANIZATION,
  type ReplayWebhookInput,
  type UpdateWebhookInput,
} from './webhook.schemas.js';
import type { WebhookDelivery } from './webhook-delivery.js';
import { checkWebhookUrl } from './webhook-destination.js';

const REPLAY_HEAD_POLL_MS = 50;
const REPLAY_HEAD_WAIT_MS = 2_000;

export interface WebhookContext {
  organizationId: string;
  /** Whether webhooks may target private networks (WEBHOOK_ALLOW_PRIVATE_NETWORKS). */
  allowPrivateNetworks: boolean;
  /** DNS servers that resolve webhook hosts (WebhookDeliveryOptions.dnsServers); empty: the system's. */
  dnsServers?: readonly string[];
}

function notFound(webhookId: string): AppError {
  return new AppError('not-found', `Webhook ${webhookId} does not exist in your organization.`);
}

/** Standard Webhooks secrets: `whsec_` and a base64 key; 32 random bytes. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

async function assertUrl(url: string, context: WebhookContext): Promise<void> {
  const refused = await checkWebhookUrl(url, context.allowPrivateNetworks, context.dnsServers);
  if (refused !== null) throw AppError.validation({ url: [refused] });
}

/** Origins compare like namespaces: lower-case, each once. */
function normalizeOrigins(origins: readonly string[]): string[] {
  return [...new Set(origins.map((origin) => origin.toLowerCase()))];
}

export async function createWebhook(
  db: Db,
  context: WebhookContext,
  input: CreateWebhookInput,
): Promise<{ row: PublicWebhookRow; secret: string }> {
  await assertUrl(input.url, context);
  const secret = newSecret();
  const { organizationId } = context;
  const row = await inTransaction(db, async (trx) => {
    await repository.lockOrganizationWebhooks(trx, organizationId);
    if ((await repository.countWebhooks(trx, organizationId)) >= MAX_WEBHOOKS_PER_ORGANIZATION) {
      throw new AppError(
        'webhook-limit-reached',
        `Your organization has ${MAX_WEBHOOKS_PER_ORGANIZATION} webhooks, the most it may have; delete one first.`,
        { limit: MAX_WEBHOOKS_PER_ORGANIZATION },
      );
    }
    return repository.insertWebhook(
      trx,
      organizationId,
      {
        url: input.url,
        events: input.events,
        excludeOrigins: normalizeOrigins(input.excludeOrigins ?? []),
        description: input.description ?? null,
      },
      secret,
    );
  });
  return { row, secret };
}

export async function listWebhooks(db: Db, organizationId: string): Promise<PublicWebhookRow[]> {
  return repository.listWebhooks(db, organizationId);
}

export async function getWebhook(db: Db, organizationId: string, webhookId: string): Promise<PublicWebhookRow> {
  const row = await repository.findWebhookById(db, organizationId, webhookId);
  if (row === undefined) throw notFound(webhookId);
  return row;
}

export async function updateWebhook(
  db: Db,
  context: WebhookContext,
  webhookId: string,
  input: UpdateWebhookInput,
): Promise<PublicWebhookRow> {
  if (input.url !== undefined) await assertUrl(input.url, context);
  return inTransaction(db, async (trx) => {
    const current = await repository.findWebhookById(trx, context.organizationId, webhookId, { lock: true });
    if (current === undefined) throw notFound(webhookId);
    return repository.updateWebhook(trx, current, {
      ...(input.url === undefined ? {} : { url: input.url }),
      ...(input.events === undefined ? {} : { events: input.events }),
      ...(input.excludeOrigins === undefined ? {} : { excludeOrigins: normalizeOrigins(input.excludeOrigins) }),
      ...(input.description === undefined ? {} : { description: input.description }),
      ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
    });
  });
}

export async function deleteWebhook(db: Db, organizationId: string, webhookId: string): Promise<void> {
  if (!(await repository.deleteWebhook(db, organizationId, webhookId))) throw notFound(webhookId);
}

/** A new secret, effective for every delivery signed from now on; the old one stops verifying them. */
export async function rotateSecret(
  db: Db,
  organizationId: string,
  webhookId: string,
): Promise<{ row: PublicWebhookRow; secret: string }> {
  const secret = newSecret();
  const row = await repository.replaceSecret(db, organizationId, webhookId, secret);
  if (row === undefined) throw notFound(webhookId);
  return { row, secret };
}

export async function sendTestEvent(
  db: Db,
  delivery: WebhookDelivery,
  organizationId: string,
  webhookId: string,
): Promise<WebhookAttemptRow> {
  const webhook = await repository.findWebhookWithSecret(db, organizationId, webhookId);
  if (webhook === undefined) throw notFound(webhookId);
  const attempt = await delivery.sendTest(webhook);
  // Deleted while the test was under way.
  if (attempt === undefined) throw notFound(webhookId);
  return attempt;
}

export async function listAttempts(
  db: Db,
  organizationId: string,
  webhookId: string,
  limit: number,
): Promise<WebhookAttemptRow[]> {
  await getWebhook(db, organizationId, webhookId);
  return repository.listAttempts(db, organizationId, webhookId, limit);
}

export async function replayEvents(
  db: Db,
  organizationId: string,
  webhookId: string,
  input: ReplayWebhookInput,
): Promise<number> {
  if (input.toSeq < input.fromSeq) throw AppError.validation({ toSeq: ['must not be less than fromSeq'] });
  if (input.toSeq - input.fromSeq >= MAX_REPLAY_RANGE) {
    throw AppError.validation({
      toSeq: [`must be less than fromSeq + ${MAX_REPLAY_RANGE} (one replay covers at most ${MAX_REPLAY_RANGE} events)`],
    });
  }
  // A process sending the webhook's head checked, when it read the head, that no earlier delivery
  // of each record was pending; a replay queued now could be overtaken by those sends. So the
  // replay waits for the head to be recorded (a head answers within HEAD_SPILL_MS plus its
  // recording), and past REPLAY_HEAD_WAIT_MS (a holder that died, a database that crawls) ends the
  // lease: that holder's recording then writes nothing and the head is sent again behind the replay.
  for (let waited = 0; ; waited += REPLAY_HEAD_POLL_MS) {
    const queued = await inTransaction(db, async (trx) => {
      // Locked, so the filters and dispatched_through it reads hold until the rows are queued, and no
      // process leases the head meanwhile (leaseHeads skips locked webhooks).
      const webhook = await repository.findWebhookById(trx, organizationId, webhookId, { lock: true });
      if (webhook === undefined) throw notFound(webhookId);
      if (await repository.headLeaseLive(trx, organizationId, webhookId)) {
        if (waited < REPLAY_HEAD_WAIT_MS) return null;
        await repository.endHeadLease(trx, organizationId, webhookId);
      }
      return repository.requeueEvents(trx, webhook, input.fromSeq, input.toSeq);
    });
    if (queued !== null) return queued;
    await new Promise((resolve) => setTimeout(resolve, REPLAY_HEAD_POLL_MS));
  }
}
