import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import { AppError } from './problem.js';
import { problemResponses } from './schemas.js';

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });
const READINESS_TIMEOUT_MS = 2_000;

export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  app.get(
    '/healthz',
    {
      config: { rateLimit: false },
      schema: {
        operationId: 'health.live',
        summary: 'Liveness: the process answers',
        tags: ['Operations'],
        response: { 200: Status },
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
        tags: ['Operations'],
        response: { 200: Status, ...problemResponses('service-unavailable') },
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
