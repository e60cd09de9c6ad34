import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import type { AuthContext } from '../http/auth.js';
import { emptyResponse, jsonResponse, LocationHeader, problemResponses } from '../http/schemas.js';
import { createdWebhook, deliveryAttempts, failingWebhook, testAttempt, webhookExample } from './webhook.examples.js';
import { toCreatedWebhook, toWebhook, toWebhookAttempt, WEBHOOKS_PATH } from './webhook.mapper.js';
import {
  CreateWebhookBody,
  MAX_WEBHOOKS_PER_ORGANIZATION,
  ReplayWebhookBody,
  UpdateWebhookBody,
  WebhookAttemptListQuery,
  WebhookParams,
} from './webhook.schemas.js';
import * as service from './webhook.service.js';
import type { WebhookDelivery } from './webhook-delivery.js';

const tags = ['Webhooks'];
const security = [{ bearerAuth: [] }];
const readProblems = ['unauthorized', 'insufficient-scope', 'rate-limited', 'validation-failed'] as const;
const writeProblems = [...readProblems, 'malformed-request', 'unsupported-media-type', 'payload-too-large'] as const;

const DELIVERY_FORMAT =
  'Deliveries follow Standard Webhooks (https://www.standardwebhooks.com): a POST with `content-type: application/json`, `webhook-id` (the event id, the same on every retry: deduplicate on it), `webhook-timestamp` (unix seconds of the attempt) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded part of the secret after `whsec_`). The body is `{ "type", "timestamp", "data" }`, `data` being the event as GET /network/events shows it. Any 2xx within 10 s is a success; otherwise the delivery is retried 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later (±20 %), then dropped. 410 Gone disables the webhook at once, as do 5 days of failures without a success. Delivery is at least once; the events of one record arrive in order (a later one waits until the earlier one is delivered or dropped), different records in parallel.';

export interface WebhookRouteOptions {
  db: Db;
  delivery: WebhookDelivery;
  allowPrivateNetworks: boolean;
}

function contextOf(
  request: FastifyRequest,
  allowPrivateNetworks: boolean,
  delivery: WebhookDelivery,
): service.WebhookContext {
  return {
    organizationId: (request.auth as AuthContext).organizationId,
    allowPrivateNetworks,
    dnsServers: delivery.dnsServers,
  };
}

function organizationOf(request: FastifyRequest): string {
  return (request.auth as AuthContext).organizationId;
}

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRouteOptions> = async (
  app,
  { db, delivery, allowPrivateNetworks },
) => {
  app.post(
    '/webhooks',
    {
      config: { scope: 'webhooks.write' },
      schema: {
        operationId: 'webhooks.create',
        summary: 'Subscribe an endpoint to events',
        description: `Events that happen from now on and match \`events\` (and no origin of \`excludeOrigins\`) are POSTed to \`url\`. The answer carries the signing \`secret\`, shown only here. At most ${MAX_WEBHOOKS_PER_ORGANIZATION} webhooks per organization. ${DELIVERY_FORMAT}`,
        tags,
        security,
        body: CreateWebhookBody,
        response: {
          201: jsonResponse(
            'Created; `Location` points at the webhook. Keep the secret: it is not shown again.',
            Type.Ref('CreatedWebhook'),
            { created: webhookExample('webhook-created') },
            { Location: LocationHeader },
          ),
          ...problemResponses(...writeProblems, 'webhook-limit-reached'),
        },
      },
    },
    async (request, reply) => {
      const { row, secret } = await service.createWebhook(
        db,
        contextOf(request, allowPrivateNetworks, delivery),
        request.body,
      );
      reply.header('location', `${WEBHOOKS_PATH}/${row.id}`);
      return reply.code(201).send(toCreatedWebhook(row, secret));
    },
  );

  app.get(
    '/webhooks',
    {
      config: { scope: 'webhooks.read' },
      schema: {
        operationId: 'webhooks.list',
        summary: "List your organization's webhooks",
        description: `All of them at once (at most ${MAX_WEBHOOKS_PER_ORGANIZATION}), oldest first, without their secrets.`,
        tags,
        security,
        response: {
          200: jsonResponse('The webhooks.', Type.Ref('WebhookList'), {
            webhooks: {
              summary: 'One webhook, disabled after its endpoint failed for days',
              value: { data: [failingWebhook] },
            },
          }),
          ...problemResponses(...readProblems),
        },
      },
    },
    async (request) => ({ data: (await service.listWebhooks(db, organizationOf(request))).map(toWebhook) }),
  );

  app.get(
    '/webhooks/:id',
    {
      config: { scope: 'webhooks.read' },
      schema: {
        operationId: 'webhooks.get',
        summary: 'Read a webhook',
        description:
          'Its settings and state: whether it delivers, and since when its endpoint fails. The secret is not shown.',
        tags,
        security,
        params: WebhookParams,
        response: {
          200: jsonResponse('The webhook.', Type.Ref('Webhook'), { webhook: webhookExample('webhook-crm-sync') }),
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request) => toWebhook(await service.getWebhook(db, organizationOf(request), request.params.id)),
  );

  app.patch(
    '/webhooks/:id',
    {
      config: { scope: 'webhooks.write' },
      schema: {
        operationId: 'webhooks.update',
        summary: 'Change a webhook, or disable and enable it',
        description:
          'Fields present are set. `enabled: false` stops deliveries (pending ones wait); `enabled: true` resumes them, with the events that happen from then on: replay sends what happened in between.',
        tags,
        security,
        params: WebhookParams,
        body: UpdateWebhookBody,
        response: {
          200: jsonResponse('The webhook after the change.', Type.Ref('Webhook'), {
            disabled: {
              summary: 'Disabled by `enabled: false`',
              value: { ...failingWebhook, disabledReason: 'manual', failingSinceUtc: null },
            },
          }),
          ...problemResponses(...writeProblems, 'not-found'),
        },
      },
    },
    async (request) => {
      const row = await service.updateWebhook(
        db,
        contextOf(request, allowPrivateNetworks, delivery),
        request.params.id,
        request.body,
      );
      if (row.enabled) delivery.wake();
      return toWebhook(row);
    },
  );

  app.delete(
    '/webhooks/:id',
    {
      config: { scope: 'webhooks.write' },
      schema: {
        operationId: 'webhooks.delete',
        summary: 'Delete a webhook',
        description: 'Pending deliveries and the attempt log go with it.',
        tags,
        security,
        params: WebhookParams,
        response: { 204: emptyResponse('Deleted.'), ...problemResponses(...readProblems, 'not-found') },
      },
    },
    async (request, reply) => {
      await service.deleteWebhook(db, organizationOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/rotate-secret',
    {
      config: { scope: 'webhooks.write' },
      schema: {
        operationId: 'webhooks.rotateSecret',
        summary: "Replace a webhook's signing secret",
        description:
          'Every delivery signed from now on uses the new secret, shown only in this answer; the old one stops verifying them.',
        tags,
        security,
        params: WebhookParams,
        response: {
          200: jsonResponse(
            'The webhook with its new secret; keep it, it is not shown again.',
            Type.Ref('CreatedWebhook'),
            {
              rotated: {
                summary: 'A new secret',
                value: {
                  ...createdWebhook,
                  secret: 'whsec_0Jq2m7TnB8yVZ1xR4cK9pL3sD6fH5gW2eA7uN1oQ8iE=',
                  updatedUtc: '2026-12-02T10:00:00.000Z',
                },
              },
            },
          ),
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request) => {
      const { row, secret } = await service.rotateSecret(db, organizationOf(request), request.params.id);
      return toCreatedWebhook(row, secret);
    },
  );

  app.post(
    '/webhooks/:id/test',
    {
      config: { scope: 'webhooks.write' },
      schema: {
        operationId: 'webhooks.test',
        summary: 'Send a test event now',
        description:
          'POSTs a `webhook.test` message, signed like every delivery, and answers with the attempt (also in the deliveries log). It is not retried and does not count toward disabling; it is sent to disabled webhooks too.',
        tags,
        security,
        params: WebhookParams,
        response: {
          200: jsonResponse(
            'The attempt, whatever the endpoint answered: `statusCode` and `error` tell how it went.',
            Type.Ref('WebhookAttempt'),
            { delivered: { summary: 'The endpoint answered 204', value: testAttempt } },
          ),
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request) =>
      toWebhookAttempt(await service.sendTestEvent(db, delivery, organizationOf(request), request.params.id)),
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: { scope: 'webhooks.read' },
      schema: {
        operationId: 'webhooks.listDeliveries',
        summary: "A webhook's delivery attempts, newest first",
        description: 'Each attempt with its event, status code, duration and error. Kept EVENT_RETENTION_DAYS.',
        tags,
        security,
        params: WebhookParams,
        querystring: WebhookAttemptListQuery,
        response: {
          200: jsonResponse('Attempts, newest first.', Type.Ref('WebhookAttemptList'), {
            retried: {
              summary: 'An event delivered on its second attempt, after a timeout',
              value: { data: deliveryAttempts },
            },
          }),
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request) => ({
      data: (await service.listAttempts(db, organizationOf(request), request.params.id, request.query.limit)).map(
        toWebhookAttempt,
      ),
    }),
  );

  app.post(
    '/webhooks/:id/replay',
    {
      config: { scope: 'webhooks.write' },
      schema: {
        operationId: 'webhooks.replay',
        summary: 'Send a range of events again',
        description:
          "Queues again the events with `fromSeq` ≤ seq ≤ `toSeq` that are still kept and match the webhook's `events` and `excludeOrigins` (as they are now), up to the last event the webhook has been given. They are delivered like new ones, with their original `webhook-id`.",
        tags,
        security,
        params: WebhookParams,
        body: ReplayWebhookBody,
        response: {
          202: jsonResponse('Queued; the events are delivered in the background.', Type.Ref('WebhookReplay'), {
            queued: { summary: 'The events of the range that matched the filters', value: { queued: 312 } },
          }),
          ...problemResponses(...writeProblems, 'not-found'),
        },
      },
    },
    async (request, reply) => {
      const queued = await service.replayEvents(db, organizationOf(request), request.params.id, request.body);
      if (queued > 0) delivery.wake();
      return reply.code(202).send({ queued });
    },
  );
};
