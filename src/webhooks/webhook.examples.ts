import { type Example, type ExampleRef, type Examples, sharedExample } from '../http/schemas.js';
import type {
  CreatedWebhook,
  CreateWebhookInput,
  ReplayWebhookInput,
  UpdateWebhookInput,
  Webhook,
  WebhookAttempt,
} from './webhook.schemas.js';

/**
 * The webhooks and request bodies the OpenAPI document shows: a CRM sync that subscribes to contact
 * changes and a company event, without its own writes. A contract test validates each against its schema.
 */

const crmSyncBody: CreateWebhookInput & Pick<Webhook, 'excludeOrigins' | 'description'> = {
  url: 'https://crm-sync.example.com/hooks/contacts',
  events: ['contact.*', 'company.created'],
  excludeOrigins: ['hubspot'],
  description: 'HubSpot two-way sync',
};

export const crmSyncWebhook: Webhook = {
  id: 'e5bc510d-f829-4fd3-8362-b61bd69ad348',
  ...crmSyncBody,
  enabled: true,
  disabledReason: null,
  failingSinceUtc: null,
  createdUtc: '2026-12-01T14:04:41.365Z',
  updatedUtc: '2026-12-01T14:04:41.365Z',
};

/** The same webhook after its endpoint failed for five days. */
export const failingWebhook: Webhook = {
  ...crmSyncWebhook,
  enabled: false,
  disabledReason: 'failing',
  failingSinceUtc: '2026-12-03T02:15:09.120Z',
  updatedUtc: '2026-12-08T02:15:11.904Z',
};

export const createdWebhook: CreatedWebhook = {
  ...crmSyncWebhook,
  secret: 'whsec_TIp6facG1v/rHRmH9SemzL0Os75GH/2S+Po7ovX8m4s=',
};

const sharedWebhookExamples = {
  'webhook-crm-sync': { summary: 'A webhook of a CRM sync', value: crmSyncWebhook },
  'webhook-created': {
    summary: 'The webhook with its signing secret, shown only in this answer',
    value: createdWebhook,
  },
} satisfies Record<string, Example>;

/** A webhook that several answers show, listed once in the document and referenced. */
export function webhookExample(name: keyof typeof sharedWebhookExamples): ExampleRef {
  return sharedExample(name, sharedWebhookExamples[name]);
}

export const createWebhookExamples: Examples = {
  crmSync: { summary: "Contact changes and new companies, without the sync's own writes", value: crmSyncBody },
};

export const updateWebhookExamples: Examples = {
  disable: { summary: 'Stop deliveries', value: { enabled: false } satisfies UpdateWebhookInput },
  moveEndpoint: {
    summary: 'Deliver to another URL, every contact and company event',
    value: { url: 'https://crm-sync.example.com/hooks/v2', events: ['*'] } satisfies UpdateWebhookInput,
  },
};

export const replayWebhookExamples: Examples = {
  range: { summary: 'Send events 1 to 500 again', value: { fromSeq: 1, toSeq: 500 } satisfies ReplayWebhookInput },
};

export const testAttempt: WebhookAttempt = {
  id: 'fe536441-6bb4-4ab3-8632-e9aecc1f64cd',
  attemptedUtc: '2026-12-01T14:04:41.372Z',
  eventId: '25b776f3-12c3-4e4f-b2db-f18c45308bb5',
  seq: null,
  eventType: 'webhook.test',
  attempt: 1,
  statusCode: 204,
  durationMs: 84,
  error: null,
  outcome: 'succeeded',
};

export const deliveryAttempts: WebhookAttempt[] = [
  {
    id: '3c0e8f51-7a2d-4b9e-9f14-62d5a8c0b7e3',
    attemptedUtc: '2026-12-01T14:04:56.702Z',
    eventId: 'ccac7c43-f6ad-4b3f-affd-a0c9d2826318',
    seq: 2,
    eventType: 'contact.created',
    attempt: 2,
    statusCode: 200,
    durationMs: 112,
    error: null,
    outcome: 'succeeded',
  },
  {
    id: '8d41b7a2-5e63-4f0c-a8d9-1b7e2c94f650',
    attemptedUtc: '2026-12-01T14:04:41.498Z',
    eventId: 'ccac7c43-f6ad-4b3f-affd-a0c9d2826318',
    seq: 2,
    eventType: 'contact.created',
    attempt: 1,
    statusCode: null,
    durationMs: 10000,
    error: 'no answer within 10000 ms',
    outcome: 'retrying',
  },
];
