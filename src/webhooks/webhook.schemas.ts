import { type Static, Type } from 'typebox';
import { EVENT_TYPE_PATTERN, EVENT_TYPES } from '../events/event-types.js';
import { bodyExamples, Nullable, QueryString, SystemName, Timestamp, Uuid } from '../http/schemas.js';
import { createWebhookExamples, replayWebhookExamples, updateWebhookExamples } from './webhook.examples.js';

/** Webhooks an organization may have at once. */
export const MAX_WEBHOOKS_PER_ORGANIZATION = 20;
/** Events one replay may cover, so a request queues a bounded amount of work. */
export const MAX_REPLAY_RANGE = 100_000;

const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
  description:
    'Where deliveries are POSTed: http or https, no credentials. Private, loopback and link-local destinations are refused (unless the server allows private networks).',
});

const Events = Type.Array(Type.String({ pattern: EVENT_TYPE_PATTERN }), {
  minItems: 1,
  maxItems: 20,
  uniqueItems: true,
  description: `Event types to deliver: ${EVENT_TYPES.join(', ')}, a resource's \`contact.*\` or \`company.*\`, or \`*\`.`,
});

const ExcludeOrigins = Type.Array(SystemName(), {
  maxItems: 20,
  description:
    "Changes of these origins are not delivered (compared case-insensitively, stored lower-case): a sync subscribes without getting its own writes back. An upsert by external reference has its namespace as origin; other writes X-Change-Origin, the token's origin, or `api`.",
});

const Description = Nullable(
  Type.String({ maxLength: 500, description: 'A note for people, e.g. what the endpoint is.' }),
);

export const CreateWebhookBody = Type.Object(
  {
    url: Url,
    events: Events,
    excludeOrigins: Type.Optional(ExcludeOrigins),
    description: Type.Optional(Description),
  },
  {
    $id: 'CreateWebhookRequest',
    additionalProperties: false,
    description: 'Where to deliver which events.',
    ...bodyExamples(createWebhookExamples),
  },
);
export type CreateWebhookInput = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    excludeOrigins: Type.Optional(ExcludeOrigins),
    description: Type.Optional(Description),
    enabled: Type.Optional(
      Type.Boolean({
        description:
          'false stops deliveries; true resumes them with the events that occur from then on (queued retries continue too). Use replay for what happened in between.',
      }),
    ),
  },
  {
    $id: 'UpdateWebhookRequest',
    additionalProperties: false,
    description: 'Fields present are set, omitted fields are kept.',
    ...bodyExamples(updateWebhookExamples),
  },
);
export type UpdateWebhookInput = Static<typeof UpdateWebhookBody>;

export const WebhookParams = Type.Object(
  {
    id: Type.String({
      format: 'uuid',
      description: "The webhook's id.",
      examples: ['e5bc510d-f829-4fd3-8362-b61bd69ad348'],
    }),
  },
  { additionalProperties: false },
);

export const WebhookSchema = Type.Object(
  {
    id: Uuid,
    url: Type.String({ description: 'Where deliveries are POSTed.' }),
    events: Type.Array(Type.String(), { description: 'The event types (or patterns) delivered.' }),
    excludeOrigins: Type.Array(Type.String(), { description: 'Changes of these origins are not delivered.' }),
    description: Nullable(Type.String()),
    enabled: Type.Boolean({ description: 'Whether events are delivered.' }),
    // One enum that lists null too: with `type` alone allowing null, the enum would still refuse it.
    disabledReason: Type.Unsafe<'manual' | 'endpoint-gone' | 'failing' | null>({
      type: ['string', 'null'],
      enum: ['manual', 'endpoint-gone', 'failing', null],
      description:
        'Why deliveries stopped: `manual` (PATCH enabled false), `endpoint-gone` (the endpoint answered 410 Gone), `failing` (every delivery failed for 5 days); null while enabled.',
    }),
    failingSinceUtc: Nullable(
      Type.String({
        format: 'date-time',
        description:
          'The first failed attempt since the last success; after 5 days of failures the webhook is disabled.',
      }),
    ),
    createdUtc: Timestamp,
    updatedUtc: Timestamp,
  },
  { $id: 'Webhook', additionalProperties: false, description: 'A subscription to events. The secret is not shown.' },
);
export type Webhook = Static<typeof WebhookSchema>;

export const CreatedWebhookSchema = Type.Object(
  {
    ...WebhookSchema.properties,
    secret: Type.String({
      description:
        'Signs deliveries (Standard Webhooks: `whsec_` + base64 key). Shown only in this answer; keep it, or rotate it to get a new one.',
    }),
  },
  {
    $id: 'CreatedWebhook',
    additionalProperties: false,
    description: 'A webhook with its signing secret: the answer to creating it or rotating its secret.',
  },
);
export type CreatedWebhook = Static<typeof CreatedWebhookSchema>;

export const WebhookListSchema = Type.Object(
  { data: Type.Array(Type.Ref('Webhook')) },
  { $id: 'WebhookList', additionalProperties: false, description: "Your organization's webhooks." },
);

export const WebhookAttemptSchema = Type.Object(
  {
    id: Uuid,
    attemptedUtc: Timestamp,
    eventId: Type.String({ format: 'uuid', description: 'Sent as `webhook-id`, the same on every attempt.' }),
    seq: Nullable(Type.Integer({ description: "The event's seq; null for a test event." })),
    eventType: Type.String({ description: 'The event type, or `webhook.test`.' }),
    attempt: Type.Integer({ minimum: 1, description: "This event's attempt number at this webhook." }),
    statusCode: Nullable(Type.Integer({ description: "The endpoint's HTTP status; null when none came back." })),
    durationMs: Type.Integer({ minimum: 0, description: 'How long the attempt took.' }),
    error: Nullable(Type.String({ description: 'Why no status came back (timeout, connection refused, …).' })),
    outcome: Type.Unsafe<'succeeded' | 'retrying' | 'failed'>({
      type: 'string',
      enum: ['succeeded', 'retrying', 'failed'],
      description:
        '`succeeded` (2xx), `retrying` (another attempt is scheduled), `failed` (no attempt follows: the last of the schedule, 410 Gone, or a test).',
    }),
  },
  { $id: 'WebhookAttempt', additionalProperties: false, description: 'One attempt to deliver an event.' },
);
export type WebhookAttempt = Static<typeof WebhookAttemptSchema>;

export const WebhookAttemptListSchema = Type.Object(
  { data: Type.Array(Type.Ref('WebhookAttempt')) },
  { $id: 'WebhookAttemptList', additionalProperties: false, description: 'Delivery attempts, newest first.' },
);

export const WebhookAttemptListQuery = QueryString({
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'How many attempts, newest first.' }),
});

export const ReplayWebhookBody = Type.Object(
  {
    fromSeq: Type.Integer({
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'First event (seq) to send again.',
    }),
    toSeq: Type.Integer({
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      description: `Last event (seq) to send again; at most ${MAX_REPLAY_RANGE} events.`,
    }),
  },
  {
    $id: 'ReplayWebhookRequest',
    additionalProperties: false,
    description: 'The range of events to send again, by `seq`.',
    ...bodyExamples(replayWebhookExamples),
  },
);
export type ReplayWebhookInput = Static<typeof ReplayWebhookBody>;

export const WebhookReplaySchema = Type.Object(
  {
    queued: Type.Integer({
      minimum: 0,
      description: "Events of the range that are still kept and match the webhook's filters, now queued.",
    }),
  },
  { $id: 'WebhookReplay', additionalProperties: false, description: 'How many events were queued again.' },
);
