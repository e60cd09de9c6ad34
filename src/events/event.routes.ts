import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import type { AuthContext } from '../http/auth.js';
import { jsonResponse, problemResponses } from '../http/schemas.js';
import { eventListExamples } from './event.examples.js';
import { toEvent } from './event.mapper.js';
import { EventListQuery } from './event.schemas.js';
import { readEvents } from './event.service.js';

export const eventRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  app.get(
    '/events',
    {
      schema: {
        operationId: 'events.list',
        summary: 'Read the event log',
        description:
          "Every committed change to a contact or a company, in `seq` order, which is commit order: a client that keeps the last `seq` it processed and asks for `after` it never misses or reorders a change. A write that changes nothing records no event. `exclude_origin` leaves out a sync's own changes, so two-way syncs do not echo. Events are kept at least EVENT_RETENTION_DAYS (30 by default); asking from before that answers 410.",
        tags: ['Events'],
        security: [{ bearerAuth: [] }],
        querystring: EventListQuery,
        response: {
          200: jsonResponse('A page of events, in `seq` order.', Type.Ref('EventList'), eventListExamples),
          ...problemResponses(
            'unauthorized',
            'insufficient-scope',
            'rate-limited',
            'validation-failed',
            'events-expired',
          ),
        },
      },
    },
    async (request) => {
      const page = await readEvents(db, request.auth as AuthContext, request.query);
      return { data: page.rows.map(toEvent), page: { nextAfter: page.nextAfter, hasMore: page.hasMore } };
    },
  );
};
