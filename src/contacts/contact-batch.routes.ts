import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Db } from '../db/database.js';
import { answerBatch, batchResponses, itemValidator } from '../http/batch.js';
import { IDEMPOTENCY_PROBLEMS, IdempotencyHeaders } from '../http/idempotency.js';
import { problemResponses, withResponseExamples } from '../http/schemas.js';
import { contactBatchResponseExamples } from './contact.examples.js';
import { type ContactWriteOptions, organizationContext } from './contact.routes.js';
import { ContactBatchBody, ContactBatchItem, type ContactBatchItemInput } from './contact.schemas.js';
import { contactBatchHandlers } from './contact-batch.service.js';

export const contactBatchRoutes: FastifyPluginAsyncTypebox<{ db: Db } & ContactWriteOptions> = async (
  app,
  { db, ...options },
) => {
  const validateItem = itemValidator(app.validatorCompiler, ContactBatchItem);

  app.post(
    '/contacts/batch',
    {
      config: { scope: 'contacts.write' },
      schema: {
        operationId: 'contacts.batchUpsert',
        summary: 'Upsert up to 1,000 contacts',
        description:
          'Each item is an upsert: by external reference (as PATCH /contacts/external/{namespace}/{id}) or by email/phone (as POST /contacts/upsert). Items apply in order, as if sent one by one; two items with one key both apply, the second seeing the first. Every item gets a result with the status the single request would have answered; an invalid item fails alone (207). With `atomic`, any failure stores nothing (422). Counts as one request for rate limiting.',
        tags: ['Contacts'],
        security: [{ bearerAuth: [] }],
        headers: IdempotencyHeaders,
        body: ContactBatchBody,
        response: withResponseExamples(
          batchResponses(
            problemResponses(
              'unauthorized',
              'insufficient-scope',
              'rate-limited',
              'validation-failed',
              'malformed-request',
              'unsupported-media-type',
              'payload-too-large',
              ...IDEMPOTENCY_PROBLEMS,
            ),
          ),
          contactBatchResponseExamples,
        ),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const handlers = contactBatchHandlers(
        organizationContext(request, options),
        {
          matchEmail: (body.match ?? 'email') === 'email',
          revive: body.revive ?? true,
          updateOnly: body.updateOnly ?? false,
        },
        validateItem,
      );
      return answerBatch<ContactBatchItemInput>(request, reply, db, body, handlers);
    },
  );
};
