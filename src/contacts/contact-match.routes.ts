import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import { IDEMPOTENCY_PROBLEMS, IdempotencyHeaders, requestDb } from '../http/idempotency.js';
import { ETagHeader, jsonResponse, LocationHeader, problemResponses, UpsertActionHeader } from '../http/schemas.js';
import { johnDoe, johnDoeUpdated } from './contact.examples.js';
import { CONTACTS_PATH, toContact } from './contact.mapper.js';
import {
  type ContactWriteOptions,
  MATCHED_BY_HEADER,
  MatchedByHeader,
  organizationContext,
  UPSERT_ACTION_HEADER,
} from './contact.routes.js';
import { MatchUpsertRequestBody, ValidateOnlyQuery } from './contact.schemas.js';
import { upsertByMatch } from './contact-match.service.js';

export const AMBIGUOUS_CONTACT_HEADER = 'x-upsert-ambiguous-contact';

const MatchUpsertResponse = Type.Object(
  {
    new: Type.Boolean({ description: 'true when the contact was created, false when an existing one was updated.' }),
    contact: Type.Ref('Contact'),
  },
  { additionalProperties: false, description: 'Whether the upsert created the contact, and the contact.' },
);

const headers = {
  ETag: ETagHeader,
  'X-Propstreet-Upsert-Action': UpsertActionHeader(['created', 'updated']),
  'X-Upsert-Matched-By': MatchedByHeader(['email', 'phone', 'none']),
  'X-Upsert-Ambiguous-Contact': Type.String({
    format: 'uuid',
    description:
      'Present when another live contact matched a lower-priority field: its id. That contact was not changed.',
  }),
};

export const contactMatchRoutes: FastifyPluginAsyncTypebox<{ db: Db } & ContactWriteOptions> = async (
  app,
  { db, ...options },
) => {
  app.post(
    '/contacts/upsert',
    {
      config: { scope: 'contacts.write' },
      schema: {
        operationId: 'contacts.upsertByMatch',
        summary: 'Upsert a contact by email or phone',
        description:
          "For sources without a stable id. Matches a live contact on the fields of your organization's `duplicateContactMatching` setting, in its priority order (email compares case-insensitively, phone in E.164); the first field that finds a contact wins and the body is applied to it with PATCH semantics. No match creates a contact. `externalRefs` are attached to the contact, not replaced. When email and phone point at two different contacts, the higher-priority one is updated and `X-Upsert-Ambiguous-Contact` names the other.",
        tags: ['Contacts'],
        security: [{ bearerAuth: [] }],
        querystring: ValidateOnlyQuery,
        headers: IdempotencyHeaders,
        body: MatchUpsertRequestBody,
        response: {
          200: jsonResponse(
            'An existing contact was updated (or, with validate_only, what would happen).',
            MatchUpsertResponse,
            { updated: { summary: 'Found by its email', value: { new: false, contact: johnDoeUpdated } } },
            headers,
          ),
          201: jsonResponse(
            'A contact was created; `Location` points at it.',
            MatchUpsertResponse,
            { created: { summary: 'No contact had this email or phone', value: { new: true, contact: johnDoe } } },
            { ...headers, Location: LocationHeader },
          ),
          ...problemResponses(
            ...IDEMPOTENCY_PROBLEMS,
            'unauthorized',
            'insufficient-scope',
            'rate-limited',
            'validation-failed',
            'malformed-request',
            'unsupported-media-type',
            'payload-too-large',
            'conflict',
            'location-mismatch',
          ),
        },
      },
    },
    async (request, reply) => {
      const validateOnly = request.query.validate_only;
      const result = await upsertByMatch(requestDb(request, db), organizationContext(request, options), request.body, {
        validateOnly,
      });
      const contact = toContact(result.row);
      if (result.ambiguousContactId !== null) {
        reply.header(AMBIGUOUS_CONTACT_HEADER, result.ambiguousContactId);
        request.log.warn(
          { updatedContactId: contact.id, matchedBy: result.matchedBy, ambiguousContactId: result.ambiguousContactId },
          'upsert matched two contacts; updated the higher-priority match only',
        );
      }
      reply
        .header('etag', contact.etag)
        .header(UPSERT_ACTION_HEADER, result.action)
        .header(MATCHED_BY_HEADER, result.matchedBy);
      const created = result.action === 'created';
      if (created && !validateOnly) reply.code(201).header('location', `${CONTACTS_PATH}/${contact.id}`);
      return { new: created, contact };
    },
  );
};
