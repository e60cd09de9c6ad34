import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import { AppError } from './problem.js';
import { jsonResponse, PUBLIC_SECURITY, problemResponses, TRANSPORT_PROBLEMS } from './schemas.js';

const Status = Type.Object(
  { status: Type.String({ description: '`ok` from /healthz, `ready` from /readyz.' }) },
  { additionalProperties: false },
);
const READINESS_TIMEOUT_MS = 2_000;

export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  app.get(
    '/healthz',
    {
      config: { rateLimit: false },
      schema: {
        operationId: 'health.live',
        summary: 'Liveness: the process answers',
        description:
          'Answers as long as the process serves HTTP, whatever the database does: restart the process when this fails. Needs no token and is not rate-limited.',
        tags: ['Operations'],
        security: PUBLIC_SECURITY,
        response: {
          200: jsonResponse('The process is alive.', Status, { ok: { summary: 'Alive', value: { status: 'ok' } } }),
          ...problemResponses(...TRANSPORT_PROBLEMS),
        },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      config: { rateLimit: false },
      schema: {
        operationId: 'health.ready',
        summary: 'Readiness: the database answers',
        description: `Answers 200 once the database answers a query within ${READINESS_TIMEOUT_MS / 1000} s, else 503: route traffic to this process only while it is ready. Needs no token and is not rate-limited.`,
        tags: ['Operations'],
        security: PUBLIC_SECURITY,
        response: {
          200: jsonResponse('The database answers; the process can serve requests.', Status, {
            ready: { summary: 'Ready', value: { status: 'ready' } },
          }),
          ...problemResponses(...TRANSPORT_PROBLEMS, 'service-unavailable'),
        },
      },
    },
    async () => {
      // A load balancer polls this; a hung database must fail the probe quickly, not hang it.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), READINESS_TIMEOUT_MS);
      });
      try {
        await Promise.race([sql`SELECT 1`.execute(db), timeout]);
        return { status: 'ready' };
      } catch {
        throw new AppError('service-unavailable', 'The database does not answer.', {}, { 'retry-after': '5' });
      } finally {
        clearTimeout(timer);
      }
    },
  );
};
