import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import type { AuthContext } from '../http/auth.js';
import { etagMatches, parseEntityTags } from '../http/etag.js';
import { IDEMPOTENCY_PROBLEMS, IdempotencyHeaders, requestDb } from '../http/idempotency.js';
import { ExternalRefParams, ListQuery, problemResponses, UPSERT_ACTION_HEADER } from '../http/schemas.js';
import { CONTACTS_PATH, toContact } from './contact.mapper.js';
import type { ContactRow } from './contact.repository.js';
import {
  ContactParams,
  CreateContactBody,
  PatchContactBody,
  UpsertContactBody,
  UpsertQuery,
} from './contact.schemas.js';
import * as service from './contact.service.js';

const tags = ['Contacts'];
const security = [{ bearerAuth: [] }];
const readProblems = ['unauthorized', 'insufficient-scope', 'rate-limited', 'validation-failed'] as const;
const writeProblems = [...readProblems, 'malformed-request', 'unsupported-media-type', 'payload-too-large'] as const;

const EtagHeader = Type.String({ description: 'The weak ETag of the returned version; send it as If-Match.' });
const IfMatchHeader = Type.String({
  description: 'Apply only if the contact still has this ETag (weak comparison; a list or `*` is accepted).',
});

export { UPSERT_ACTION_HEADER };
export const MATCHED_BY_HEADER = 'x-upsert-matched-by';

const upsertHeaders = {
  ETag: EtagHeader,
  'X-Propstreet-Upsert-Action': Type.String({ description: '`created`, `updated` or `revived`.' }),
  'X-Upsert-Matched-By': Type.String({ description: '`external_ref`, `email`, `phone` or `none`.' }),
};

/** Options of the contact write routes. */
export interface ContactWriteOptions {
  /** ONE_STATEMENT_WRITES: whether writes may take the one-statement form. */
  oneStatement: boolean;
}

/** The organization a request writes for, and how (shared by every contact write route). */
export function organizationContext(
  request: FastifyRequest,
  options: ContactWriteOptions,
): service.OrganizationContext {
  const { organizationId, settings, origin } = request.auth as AuthContext;
  return { organizationId, settings, origin, oneStatement: options.oneStatement };
}

function sendContact(reply: FastifyReply, row: ContactRow, status = 200) {
  const contact = toContact(row);
  return reply.code(status).header('etag', contact.etag).send(contact);
}

export const contactRoutes: FastifyPluginAsyncTypebox<
  { db: Db; cursorSecret: () => Promise<Buffer> } & ContactWriteOptions
> = async (app, { db, cursorSecret, ...options }) => {
  app.post(
    '/contacts',
    {
      config: { scope: 'contacts.write' },
      schema: {
        operationId: 'contacts.create',
        summary: 'Create a contact',
        description:
          'Needs at least one identifier (a name, an email or a phone). External references and the primary email must be unique in your organization (409 otherwise).',
        tags,
        security,
        headers: IdempotencyHeaders,
        body: CreateContactBody,
        response: {
          201: {
            description: 'Created; `Location` points at the contact.',
            headers: { ETag: EtagHeader, Location: Type.String() },
            content: { 'application/json': { schema: Type.Ref('Contact') } },
          },
          ...problemResponses(...writeProblems, 'conflict', ...IDEMPOTENCY_PROBLEMS),
        },
      },
    },
    async (request, reply) => {
      const row = await service.createContact(
        requestDb(request, db),
        organizationContext(request, options),
        request.body,
      );
      reply.header('location', `${CONTACTS_PATH}/${row.id}`);
      return sendContact(reply, row, 201);
    },
  );

  app.get(
    '/contacts',
    {
      config: { scope: 'contacts.read' },
      schema: {
        operationId: 'contacts.list',
        summary: 'List contacts in the order they changed',
        description:
          'A change feed: each page lists contacts in the order of their last change, so following `nextCursor` never skips or repeats a record, even when many share a timestamp. When `hasMore` is false, `nextCursor` is a resume point: fetching it later returns only contacts changed since.',
        tags,
        security,
        querystring: ListQuery,
        response: { 200: Type.Ref('ContactList'), ...problemResponses(...readProblems, 'invalid-cursor') },
      },
    },
    async (request) => {
      const { organizationId } = request.auth as AuthContext;
      const page = await service.listContacts(db, organizationId, request.query, cursorSecret);
      return {
        data: page.rows.map(toContact),
        page: { nextCursor: page.nextCursor, hasMore: page.hasMore, pageSize: page.rows.length },
      };
    },
  );

  app.get(
    '/contacts/:id',
    {
      config: { scope: 'contacts.read' },
      schema: {
        operationId: 'contacts.get',
        summary: 'Read a contact',
        description: 'With `If-None-Match` set to the current ETag, answers 304 without a body.',
        tags,
        security,
        params: ContactParams,
        headers: Type.Object({ 'if-none-match': Type.Optional(Type.String()) }),
        response: {
          200: {
            description: 'The contact.',
            headers: { ETag: EtagHeader },
            content: { 'application/json': { schema: Type.Ref('Contact') } },
          },
          304: { description: 'Not modified: your copy (If-None-Match) is current.' },
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request, reply) => {
      const row = await service.getContact(db, (request.auth as AuthContext).organizationId, request.params.id);
      const contact = toContact(row);
      const ifNoneMatch = request.headers['if-none-match'];
      const tags = ifNoneMatch === undefined ? null : parseEntityTags(ifNoneMatch);
      if (tags !== null && etagMatches(tags, contact.etag)) {
        return reply.code(304).header('etag', contact.etag).send();
      }
      return reply.header('etag', contact.etag).send(contact);
    },
  );

  app.patch(
    '/contacts/:id',
    {
      config: { scope: 'contacts.write' },
      schema: {
        operationId: 'contacts.update',
        summary: 'Update a contact (partial)',
        description:
          'True PATCH: fields present are set, omitted fields are kept, `null` clears; arrays replace the whole list. A PATCH that changes nothing returns the contact unchanged (same ETag and updatedUtc). Send `If-Match` to avoid overwriting a concurrent change (412).',
        tags,
        security,
        params: ContactParams,
        headers: Type.Object({ 'if-match': Type.Optional(IfMatchHeader) }),
        body: PatchContactBody,
        response: {
          200: {
            description: 'The updated contact.',
            headers: { ETag: EtagHeader },
            content: { 'application/json': { schema: Type.Ref('Contact') } },
          },
          ...problemResponses(
            ...writeProblems,
            'not-found',
            'conflict',
            'precondition-failed',
            'precondition-required',
          ),
        },
      },
    },
    async (request, reply) => {
      const row = await service.updateContact(
        db,
        organizationContext(request, options),
        request.params.id,
        request.body,
        request.headers['if-match'],
      );
      return sendContact(reply, row);
    },
  );

  app.delete(
    '/contacts/:id',
    {
      config: { scope: 'contacts.write' },
      schema: {
        operationId: 'contacts.delete',
        summary: 'Delete a contact (soft)',
        description:
          'The contact disappears from reads and lists (`include_deleted=true` shows it), its email is free for other contacts, and its external references keep pointing at it so an upsert can revive it.',
        tags,
        security,
        params: ContactParams,
        headers: Type.Object({ 'if-match': Type.Optional(IfMatchHeader) }),
        response: {
          204: { description: 'Deleted.' },
          ...problemResponses(...readProblems, 'not-found', 'precondition-failed', 'precondition-required'),
        },
      },
    },
    async (request, reply) => {
      await service.deleteContact(
        db,
        organizationContext(request, options),
        request.params.id,
        request.headers['if-match'],
      );
      return reply.code(204).send();
    },
  );

  app.get(
    '/contacts/external/:namespace/:id',
    {
      config: { scope: 'contacts.read' },
      schema: {
        operationId: 'contacts.getByExternalRef',
        summary: 'Read a contact by external reference',
        tags,
        security,
        params: ExternalRefParams,
        response: {
          200: {
            description: 'The contact.',
            headers: { ETag: EtagHeader },
            content: { 'application/json': { schema: Type.Ref('Contact') } },
          },
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request, reply) => {
      const row = await service.getContactByExternalRef(
        db,
        (request.auth as AuthContext).organizationId,
        request.params,
      );
      return sendContact(reply, row);
    },
  );

  app.patch(
    '/contacts/external/:namespace/:id',
    {
      config: { scope: 'contacts.write' },
      schema: {
        operationId: 'contacts.upsertByExternalRef',
        summary: 'Upsert a contact by external reference',
        description:
          'Creates the contact (201) or applies the body to the one with this reference (200, PATCH semantics); idempotent and safe under concurrency. A deleted contact is revived unless `revive=false`. `X-Propstreet-Upsert-Action` says what happened and `X-Upsert-Matched-By` how the contact was found.',
        tags,
        security,
        params: ExternalRefParams,
        querystring: UpsertQuery,
        headers: Type.Object({ 'if-match': Type.Optional(IfMatchHeader) }),
        body: UpsertContactBody,
        response: {
          200: {
            description: 'Updated or revived (or, with validate_only, what would happen).',
            headers: upsertHeaders,
            content: { 'application/json': { schema: Type.Ref('Contact') } },
          },
          201: {
            description: 'Created.',
            headers: { ...upsertHeaders, Location: Type.String() },
            content: { 'application/json': { schema: Type.Ref('Contact') } },
          },
          ...problemResponses(...writeProblems, 'not-found', 'conflict', 'precondition-failed'),
        },
      },
    },
    async (request, reply) => {
      const { query } = request;
      const result = await service.upsertByExternalRef(
        db,
        organizationContext(request, options),
        request.params,
        request.body,
        {
          matchEmail: query.match === 'email',
          revive: query.revive,
          updateOnly: query.create_only || query.update_only,
          validateOnly: query.validate_only,
        },
        request.headers['if-match'],
      );
      reply.header(UPSERT_ACTION_HEADER, result.action).header(MATCHED_BY_HEADER, result.matchedBy);
      if (result.action === 'created' && !query.validate_only) {
        reply.header('location', `${CONTACTS_PATH}/${result.row.id}`);
        return sendContact(reply, result.row, 201);
      }
      return sendContact(reply, result.row);
    },
  );
};
