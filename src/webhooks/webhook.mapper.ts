import type { PublicWebhookRow, WebhookAttemptRow } from './webhook.repository.js';
import type { CreatedWebhook, Webhook, WebhookAttempt } from './webhook.schemas.js';

export const WEBHOOKS_PATH = '/api/v1/webhooks';

/** A webhook as the API shows it: never its secret. */
export function toWebhook(row: PublicWebhookRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    events: row.event_types,
    excludeOrigins: row.exclude_origins,
    description: row.description,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    failingSinceUtc: row.failing_since?.toISOString() ?? null,
    createdUtc: row.created_at.toISOString(),
    updatedUtc: row.updated_at.toISOString(),
  };
}

/** The answers to create and rotate-secret: the only ones that carry the secret. */
export function toCreatedWebhook(row: PublicWebhookRow, secret: string): CreatedWebhook {
  return { ...toWebhook(row), secret };
}

export function toWebhookAttempt(row: WebhookAttemptRow): WebhookAttempt {
  return {
    id: row.id,
    attemptedUtc: row.attempted_at.toISOString(),
    eventId: row.event_id,
    seq: row.seq,
    eventType: row.event_type,
    attempt: row.attempt,
    statusCode: row.status_code,
    durationMs: row.duration_ms,
    error: row.error,
    outcome: row.outcome,
  };
}
