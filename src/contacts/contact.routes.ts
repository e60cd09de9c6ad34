import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../db/database.js';
import type { AuthContext } from '../http/auth.js';
import { etagMatches, parseEntityTags } from '../http/etag.js';
import { IDEMPOTENCY_PROBLEMS, IdempotencyHeaders, requestDb } from '../http/idempotency.js';
import {
  ETagHeader,
  ExternalRefParams,
  emptyResponse,
  IfMatchHeader,
  IfNoneMatchHeader,
  jsonResponse,
  LocationHeader,
  problemResponses,
  UPSERT_ACTION_HEADER,
  UpsertActionHeader,
} from '../http/schemas.js';
import { contactExample, janeDoe, janeDoePatched, janeSmith } from './contact.examples.js';
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
import { CONTACT_SEARCH_DESCRIPTION, ContactListQuery } from './contact-search.js';

const tags = ['Contacts'];
const security = [{ bearerAuth: [] }];
const readProblems = ['unauthorized', 'insufficient-scope', 'rate-limited', 'validation-failed'] as const;
const writeProblems = [...readProblems, 'malformed-request', 'unsupported-media-type', 'payload-too-large'] as const;

const IfMatchHeaders = Type.Object({ 'if-match': Type.Optional(IfMatchHeader) });

export { UPSERT_ACTION_HEADER };
export const MATCHED_BY_HEADER = 'x-upsert-matched-by';

/** How an upsert found the contact it changed; `none` when it created one. */
export function MatchedByHeader(ways: ReadonlyArray<'external_ref' | 'email' | 'phone' | 'none'>) {
  return Type.Unsafe<string>({
    type: 'string',
    enum: [...ways],
    description: `How the contact was found: ${ways.map((way) => `\`${way}\``).join(', ')} (\`none\`: it was created).`,
  });
}

const upsertHeaders = {
  ETag: ETagHeader,
  'X-Propstreet-Upsert-Action': UpsertActionHeader(),
  'X-Upsert-Matched-By': MatchedByHeader(['external_ref', 'email', 'none']),
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
          201: jsonResponse(
            'Created; `Location` points at the contact.',
            Type.Ref('Contact'),
            { created: { summary: 'The contact created from the CRM sync example', value: janeSmith } },
            { ETag: ETagHeader, Location: LocationHeader },
          ),
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
        summary: 'List and search contacts in the order they changed',
        description: `A change feed: each page lists contacts in the order of their last change, so following \`nextCursor\` never skips or repeats a record, even when many share a timestamp. When \`hasMore\` is false, \`nextCursor\` is a resume point: fetching it later returns only contacts changed since.\n\n${CONTACT_SEARCH_DESCRIPTION}`,
        tags,
        security,
        querystring: ContactListQuery,
        response: {
          200: jsonResponse('A page of contacts, the least recently changed first.', Type.Ref('ContactList'), {
            page: {
              summary: 'A page with more to follow',
              value: {
                data: [janeDoe],
                page: {
                  nextCursor:
                    '-IkanXjruc1uzbU_zT8gY2Xzn7MhqhZ6fvt6HVluTlSZ-b6kvMAE5IBpbjcuqPRUkvg2ZBWzVgzGCWj-fHoRQFU8sRVILVyEjqz9grpCYoFy_N7y7zun6lFmvD9uCJY5_qsLqDFuW2iuITSZzUbyJw',
                  hasMore: true,
                  pageSize: 1,
                },
              },
            },
          }),
          ...problemResponses(...readProblems, 'invalid-cursor'),
        },
      },
    },
    async (request) => {
      const page = await service.listContacts(db, request.auth as AuthContext, request.query, cursorSecret);
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
        headers: Type.Object({ 'if-none-match': Type.Optional(IfNoneMatchHeader) }),
        response: {
          200: jsonResponse(
            'The contact.',
            Type.Ref('Contact'),
            { contact: contactExample('contact-jane-doe-updated') },
            { ETag: ETagHeader },
          ),
          304: emptyResponse('Not modified: your copy (If-None-Match) is current.', { ETag: ETagHeader }),
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
        headers: IfMatchHeaders,
        body: PatchContactBody,
        response: {
          200: jsonResponse(
            'The contact after the change; unchanged, with the same ETag, when the body changed nothing.',
            Type.Ref('Contact'),
            { updated: { summary: 'Tags and a phone added', value: janeDoePatched } },
            { ETag: ETagHeader },
          ),
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
        headers: IfMatchHeaders,
        response: {
          204: emptyResponse('Deleted.'),
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
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/contacts/external/:namespace/:id',
    {
      config: { scope: 'contacts.read' },
      schema: {
        operationId: 'contacts.getByExternalRef',
        summary: 'Read a contact by external reference',
        description:
          'The live contact that holds this reference (the namespace compares case-insensitively, the id exactly): what a sync calls with the only id it knows.',
        tags,
        security,
        params: ExternalRefParams,
        response: {
          200: jsonResponse(
            'The contact.',
            Type.Ref('Contact'),
            { contact: contactExample('contact-jane-doe-updated') },
            { ETag: ETagHeader },
          ),
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
        headers: IfMatchHeaders,
        body: UpsertContactBody,
        response: {
          200: jsonResponse(
            'Updated or revived (or, with validate_only, what would happen).',
            Type.Ref('Contact'),
            { updated: contactExample('contact-jane-doe-updated') },
            upsertHeaders,
          ),
          201: jsonResponse(
            'Created; `Location` points at the contact.',
            Type.Ref('Contact'),
            { created: contactExample('contact-jane-doe') },
            { ...upsertHeaders, Location: LocationHeader },
          ),
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
