import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type onSendHookHandler } from 'fastify';
import { companyRoutes } from './companies/company.routes.js';
import { CompanyListSchema, CompanySchema, UpsertCompanyBody } from './companies/company.schemas.js';
import type { Config } from './config.js';
import { contactFieldRoutes } from './contact-fields/custom-field.routes.js';
import { ContactFieldListSchema, ContactFieldSchema } from './contact-fields/custom-field.schemas.js';
import { contactRoutes } from './contacts/contact.routes.js';
import {
  ConnectionRequestSchema,
  ContactListSchema,
  ContactSchema,
  DndSettingsSchema,
  MatchUpsertContactBody,
} from './contacts/contact.schemas.js';
import { lazyCursorSecret } from './contacts/contact.service.js';
import { contactBatchRoutes } from './contacts/contact-batch.routes.js';
import { contactMatchRoutes } from './contacts/contact-match.routes.js';
import type { Db } from './db/database.js';
import { eventRoutes } from './events/event.routes.js';
import { EventListSchema, EventSchema } from './events/event.schemas.js';
import { EventLog } from './events/event-log.js';
import { useOrganizationAuth } from './http/auth.js';
import type { AuthCache } from './http/auth-cache.js';
import { FailedAuthLimiter } from './http/auth-failures.js';
import { BatchResponseSchema, BatchResultSchema } from './http/batch.js';
import { handleClientError, handleFrameworkError, registerErrorHandling } from './http/error-handler.js';
import { healthRoutes } from './http/health.js';
import { registerIdempotency } from './http/idempotency.js';
import { registerJsonBodyParser } from './http/json-body.js';
import { type DatabasePoolStatistics, registerMetrics } from './http/metrics.js';
import { registerOpenApi } from './http/openapi.js';
import { problemTypeRoutes } from './http/problem.routes.js';
import { registerRateLimit } from './http/rate-limit.js';
import { ExternalRefSchema, PageSchema, ProblemSchema } from './http/schemas.js';
import { createValidatorCompiler } from './http/validation.js';
import { createLogger } from './logger.js';
import { adminRoutes } from './organizations/organization.routes.js';
import {
  ApiTokenListSchema,
  ApiTokenSchema,
  CreatedApiTokenSchema,
  OrganizationSchema,
  OrganizationSettingsSchema,
} from './organizations/organization.schemas.js';
import { settingsRoutes } from './organizations/settings.routes.js';
import { webhookRoutes } from './webhooks/webhook.routes.js';
import {
  CreatedWebhookSchema,
  WebhookAttemptListSchema,
  WebhookAttemptSchema,
  WebhookListSchema,
  WebhookReplaySchema,
  WebhookSchema,
} from './webhooks/webhook.schemas.js';
import { WebhookDelivery, type WebhookDeliveryOptions } from './webhooks/webhook-delivery.js';

export interface AppDependencies {
  config: Config;
  db: Db;
  /** The process logger, so startup and request lines share one stream; built from config when absent. */
  logger?: FastifyBaseLogger;
  /** Cached authentication, kept coherent by server.ts's invalidation listener; absent, every request asks the database. */
  authCache?: AuthCache | null;
  /** The database pool (pg.Pool), for the pool gauges at /metrics; absent, they are left out. */
  databasePool?: DatabasePoolStatistics | null;
  /** The webhook delivery worker's settings (webhooks/webhook-delivery.ts); absent, the production ones. */
  webhookDelivery?: WebhookDeliveryOptions;
}

/** Schemas that routes and other schemas refer to by `$id`; the validator and the OpenAPI document share them. */
export const SHARED_SCHEMAS = [
  ProblemSchema,
  ExternalRefSchema,
  ConnectionRequestSchema,
  DndSettingsSchema,
  MatchUpsertContactBody,
  UpsertCompanyBody,
  BatchResultSchema,
  BatchResponseSchema,
  ContactSchema,
  PageSchema,
  ContactListSchema,
  CompanySchema,
  CompanyListSchema,
  ContactFieldSchema,
  ContactFieldListSchema,
  EventSchema,
  EventListSchema,
  OrganizationSettingsSchema,
  OrganizationSchema,
  ApiTokenSchema,
  CreatedApiTokenSchema,
  ApiTokenListSchema,
  WebhookSchema,
  CreatedWebhookSchema,
  WebhookListSchema,
  WebhookAttemptSchema,
  WebhookAttemptListSchema,
  WebhookReplaySchema,
] as const;

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** How long a write's answer waits for its events to be numbered at most. */
const FLUSH_WAIT_MS = 2_000;

declare module 'fastify' {
  interface FastifyInstance {
    /** Numbers committed events (events/event-log.ts); tests flush and prune through it. */
    eventLog: EventLog;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Builds the HTTP application. Never reads the environment and never listens: server.ts and tests do that. */
export async function buildApp({
  config,
  db,
  logger,
  authCache = null,
  databasePool = null,
  webhookDelivery: webhookDeliveryOptions = {},
}: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger ?? createLogger(config),
    bodyLimit: config.bodyLimitBytes,
    // A client's X-Request-Id ties our logs to theirs; anything odd is replaced, never echoed raw.
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Slow or stalled clients must not hold sockets open indefinitely.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    // Above the idle timeout of common load balancers (60 s), so they never reuse a socket we just closed.
    keepAliveTimeout: 65_000,
    ajv: { customOptions: { removeAdditional: false, allErrors: true } },
    // External reference ids are up to 255 characters (more once URL-encoded); the default of 100 answers 414.
    routerOptions: { maxParamLength: 1024 },
    // Malformed URLs and similar errors raised before routing still leave as problem+json.
    frameworkErrors: handleFrameworkError,
    // Requests Node's parser refuses (408, 431, malformed HTTP) are answered as problem+json too.
    clientErrorHandler: handleClientError,
    // server.ts closes idle connections on shutdown; requests arriving meanwhile are still answered.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Fastify accepts text/plain by default; this API takes JSON only, so anything else is a 415.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);

  registerErrorHandling(app);
  // Before any route, so that its onRoute hook sees the routes that declare Idempotency-Key.
  registerIdempotency(app, db);
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  const cursorSecret = lazyCursorSecret(db);
  const organizationAuth = {
    db,
    cache: authCache,
    failures: config.rateLimitPerMinute > 0 ? new FailedAuthLimiter(config.rateLimitPerMinute) : null,
  };
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  // After the shared schemas, which the compiler needs to resolve $refs.
  app.setValidatorCompiler(createValidatorCompiler(app.getSchemas()));

  // Before every route, so that its hooks observe them all.
  const metrics =
    config.metricsToken === null ? null : registerMetrics(app, { token: config.metricsToken, pool: databasePool });
  await registerOpenApi(app);
  if (config.rateLimitPerMinute > 0) {
    registerRateLimit(app, { perMinute: config.rateLimitPerMinute, redisUrl: config.redisUrl, events: metrics });
  }

  const eventLog = new EventLog(db, app.log, { retentionDays: config.eventRetentionDays });
  app.decorate('eventLog', eventLog);
  app.addHook('onReady', async () => eventLog.start());
  app.addHook('onClose', async () => eventLog.close());
  const webhookDelivery = new WebhookDelivery(db, app.log, {
    allowPrivateNetworks: config.webhookAllowPrivateNetworks,
    retentionDays: config.eventRetentionDays,
    enabled: config.webhookDelivery,
    ...(metrics === null ? {} : { onAttempt: metrics.webhookAttempt }),
    ...webhookDeliveryOptions,
  });
  // Newly numbered events are dispatched at once rather than at the next poll.
  eventLog.onSequenced(() => webhookDelivery.wake());
  if (metrics !== null) eventLog.onSequenced(metrics.eventsNumbered);
  app.addHook('onReady', async () => webhookDelivery.start());
  app.addHook('onClose', async () => webhookDelivery.close());
  // A request that wrote answers once its events are numbered: its client then finds the change in
  // GET /events and in the change feeds right away (read-your-writes). A failure here does not undo
  // a committed write; the background pass numbers the events moments later. A route-level hook,
  // added after registerIdempotency's: a request with an Idempotency-Key commits in that hook's
  // onSend, and route hooks run after app-wide ones, in the order they were added.
  const numberWrites: onSendHookHandler = async (request, reply, payload) => {
    if (reply.statusCode >= 300) return payload;
    try {
      // Bounded: with the database struggling, the answer goes out and the background pass numbers later.
      await eventLog.flushWithin(FLUSH_WAIT_MS);
    } catch (error) {
      request.log.warn({ err: error }, 'numbering events after a write failed; the background pass will');
    }
    return payload;
  };
  app.addHook('onRoute', (route) => {
    if (![route.method].flat().some((method) => WRITE_METHODS.has(method))) return;
    route.onSend = [...[route.onSend ?? []].flat(), numberWrites];
  });

  await app.register(healthRoutes, { db });
  await app.register(problemTypeRoutes);
  if (config.adminToken !== null) {
    await app.register(adminRoutes, { prefix: '/api/v1/admin', db, adminToken: config.adminToken, authCache });
  }
  await app.register(settingsRoutes, { prefix: '/api/v1/organization', db, authCache, organizationAuth });
  await app.register(
    async (network) => {
      useOrganizationAuth(network, organizationAuth);
      const oneStatement = config.oneStatementWrites;
      await network.register(contactRoutes, { db, cursorSecret, oneStatement });
      await network.register(contactMatchRoutes, { db, oneStatement });
      await network.register(contactBatchRoutes, { db, oneStatement });
      await network.register(companyRoutes, { db, cursorSecret });
      await network.register(eventRoutes, { db });
      await network.register(contactFieldRoutes, { db });
    },
    { prefix: '/api/v1/network' },
  );
  await app.register(
    async (api) => {
      useOrganizationAuth(api, organizationAuth);
      await api.register(webhookRoutes, {
        db,
        delivery: webhookDelivery,
        allowPrivateNetworks: config.webhookAllowPrivateNetworks,
      });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
