import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import type { Db } from '../db/database.js';
import type { AuthContext } from '../http/auth.js';
import { answerBatch, batchResponses, itemValidator } from '../http/batch.js';
import { etagMatches, parseEntityTags } from '../http/etag.js';
import { IDEMPOTENCY_PROBLEMS, IdempotencyHeaders, requestDb } from '../http/idempotency.js';
import {
  ETagHeader,
  type Examples,
  ExternalRefParams,
  emptyResponse,
  IfMatchHeader,
  IfNoneMatchHeader,
  jsonResponse,
  ListQuery,
  LocationHeader,
  problemResponses,
  UPSERT_ACTION_HEADER,
  UpsertActionHeader,
  withResponseExamples,
} from '../http/schemas.js';
import { acmeRealEstate, companyBatchResponseExamples, companyExample } from './company.examples.js';
import { COMPANIES_PATH, toCompany } from './company.mapper.js';
import type { CompanyRow } from './company.repository.js';
import {
  CompanyBatchBody,
  CompanyBatchItem,
  CompanyParams,
  CreateCompanyBody,
  PatchCompanyBody,
  UpsertCompanyQuery,
  UpsertCompanyRequestBody,
} from './company.schemas.js';
import * as service from './company.service.js';

const tags = ['Companies'];
const security = [{ bearerAuth: [] }];
const readProblems = ['unauthorized', 'insufficient-scope', 'rate-limited', 'validation-failed'] as const;
const writeProblems = [...readProblems, 'malformed-request', 'unsupported-media-type', 'payload-too-large'] as const;
const IfMatchHeaders = Type.Object({ 'if-match': Type.Optional(IfMatchHeader) });

const upsertActionHeader = { 'X-Propstreet-Upsert-Action': UpsertActionHeader() };

function contextOf(request: FastifyRequest): service.OrganizationContext {
  const { organizationId, settings, origin } = request.auth as AuthContext;
  return { organizationId, settings, origin };
}

function sendCompany(reply: FastifyReply, row: CompanyRow, status = 200) {
  const company = toCompany(row);
  return reply.code(status).header('etag', company.etag).send(company);
}

function companyResponse(description: string, examples: Examples, extraHeaders: Record<string, TSchema> = {}) {
  return jsonResponse(description, Type.Ref('Company'), examples, { ETag: ETagHeader, ...extraHeaders });
}

export const companyRoutes: FastifyPluginAsyncTypebox<{ db: Db; cursorSecret: () => Promise<Buffer> }> = async (
  app,
  { db, cursorSecret },
) => {
  app.post(
    '/companies',
    {
      config: { scope: 'companies.write' },
      schema: {
        operationId: 'companies.create',
        summary: 'Create a company',
        description:
          'A company needs a name. Its external references must be unique in your organization (409 otherwise); contacts then connect to it by its id or by one of those references.',
        tags,
        security,
        headers: IdempotencyHeaders,
        body: CreateCompanyBody,
        response: {
          201: companyResponse(
            'Created; `Location` points at the company.',
            { created: { summary: 'The new company', value: acmeRealEstate } },
            { Location: LocationHeader },
          ),
          ...problemResponses(...writeProblems, 'conflict', ...IDEMPOTENCY_PROBLEMS),
        },
      },
    },
    async (request, reply) => {
      const row = await service.createCompany(requestDb(request, db), contextOf(request), request.body);
      reply.header('location', `${COMPANIES_PATH}/${row.id}`);
      return sendCompany(reply, row, 201);
    },
  );

  app.get(
    '/companies',
    {
      config: { scope: 'companies.read' },
      schema: {
        operationId: 'companies.list',
        summary: 'List companies in the order they changed',
        description: 'A change feed paged by `nextCursor`, like the contact list.',
        tags,
        security,
        querystring: ListQuery,
        response: {
          200: jsonResponse('A page of companies, the least recently changed first.', Type.Ref('CompanyList'), {
            lastPage: {
              summary: 'The last page for now; its cursor resumes the feed later',
              value: {
                data: [acmeRealEstate],
                page: {
                  nextCursor:
                    'KEKhkjxciXC7Jkcjfn81hJjYkLzRQdA7YaPS_G4Pj6DJiCrFWEG6UZjZovBSaMr9SqylwwwfxhYlAHqQ85fsXK-IS0PGtEyn8OMZy28qchphcX9SrQY6fx8vhjFxX8h7hGDYZ-5mIMNtGnNDgQMG_Q',
                  hasMore: false,
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
      const { organizationId } = request.auth as AuthContext;
      const page = await service.listCompanies(db, organizationId, request.query, cursorSecret);
      return {
        data: page.rows.map(toCompany),
        page: { nextCursor: page.nextCursor, hasMore: page.hasMore, pageSize: page.rows.length },
      };
    },
  );

  app.get(
    '/companies/:id',
    {
      config: { scope: 'companies.read' },
      schema: {
        operationId: 'companies.get',
        summary: 'Read a company',
        description: 'With `If-None-Match` set to the current ETag, answers 304 without a body.',
        tags,
        security,
        params: CompanyParams,
        headers: Type.Object({ 'if-none-match': Type.Optional(IfNoneMatchHeader) }),
        response: {
          200: companyResponse('The company.', { company: companyExample('company-nordic-property') }),
          304: emptyResponse('Not modified: your copy (If-None-Match) is current.', { ETag: ETagHeader }),
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request, reply) => {
      const row = await service.getCompany(db, (request.auth as AuthContext).organizationId, request.params.id);
      const company = toCompany(row);
      const ifNoneMatch = request.headers['if-none-match'];
      const etags = ifNoneMatch === undefined ? null : parseEntityTags(ifNoneMatch);
      if (etags !== null && etagMatches(etags, company.etag)) {
        return reply.code(304).header('etag', company.etag).send();
      }
      return reply.header('etag', company.etag).send(company);
    },
  );

  app.get(
    '/companies/external/:namespace/:id',
    {
      config: { scope: 'companies.read' },
      schema: {
        operationId: 'companies.getByExternalRef',
        summary: 'Read a company by external reference',
        description:
          'The live company that holds this reference (the namespace compares case-insensitively, the id exactly).',
        tags,
        security,
        params: ExternalRefParams,
        response: {
          200: companyResponse('The company.', { company: companyExample('company-nordic-property') }),
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request, reply) =>
      sendCompany(
        reply,
        await service.getCompanyByExternalRef(db, (request.auth as AuthContext).organizationId, request.params),
      ),
  );

  app.patch(
    '/companies/external/:namespace/:id',
    {
      config: { scope: 'companies.write' },
      schema: {
        operationId: 'companies.upsertByExternalRef',
        summary: 'Upsert a company by external reference',
        description:
          'Creates the company (201; `name` is required then) or applies the body to the one with this reference (200, PATCH semantics); safe to repeat and under concurrency. A deleted company is revived unless `revive=false`, which creates a new one and moves the reference to it. `X-Propstreet-Upsert-Action` says what happened.',
        tags,
        security,
        params: ExternalRefParams,
        querystring: UpsertCompanyQuery,
        headers: IfMatchHeaders,
        body: UpsertCompanyRequestBody,
        response: {
          200: companyResponse(
            'Updated or revived (or, with validate_only, what would happen).',
            { updated: companyExample('company-nordic-property-updated') },
            upsertActionHeader,
          ),
          201: companyResponse(
            'Created; `Location` points at the company.',
            { created: companyExample('company-nordic-property') },
            { ...upsertActionHeader, Location: LocationHeader },
          ),
          ...problemResponses(...writeProblems, 'not-found', 'precondition-failed'),
        },
      },
    },
    async (request, reply) => {
      const { query } = request;
      const { row, action } = await service.upsertCompanyByExternalRef(
        db,
        contextOf(request),
        request.params,
        request.body,
        { revive: query.revive, updateOnly: query.update_only, validateOnly: query.validate_only },
        request.headers['if-match'],
      );
      reply.header(UPSERT_ACTION_HEADER, action);
      if (action === 'created' && !query.validate_only) {
        reply.header('location', `${COMPANIES_PATH}/${row.id}`);
        return sendCompany(reply, row, 201);
      }
      return sendCompany(reply, row);
    },
  );

  const validateBatchItem = itemValidator(app.validatorCompiler, CompanyBatchItem);

  app.post(
    '/companies/batch',
    {
      config: { scope: 'companies.write' },
      schema: {
        operationId: 'companies.batchUpsert',
        summary: 'Upsert up to 1,000 companies by external reference',
        description:
          'Each item is PATCH /companies/external/{namespace}/{id} with its `data`. Items apply in order, as if sent one by one; every item gets a result with the status the single request would have answered; an invalid item fails alone (207). With `atomic`, any failure stores nothing (422). Push companies first, then link contacts to them by reference.',
        tags,
        security,
        headers: IdempotencyHeaders,
        body: CompanyBatchBody,
        response: withResponseExamples(
          batchResponses(problemResponses(...writeProblems, ...IDEMPOTENCY_PROBLEMS)),
          companyBatchResponseExamples,
        ),
      },
    },
    async (request, reply) => {
      const { body } = request;
      const handlers = service.companyBatchHandlers(
        contextOf(request),
        { revive: body.revive ?? true, updateOnly: body.updateOnly ?? false },
        validateBatchItem,
      );
      return answerBatch(request, reply, db, body, handlers);
    },
  );

  app.patch(
    '/companies/:id',
    {
      config: { scope: 'companies.write' },
      schema: {
        operationId: 'companies.update',
        summary: 'Update a company (partial)',
        description:
          'Fields present are set, omitted fields are kept, null clears. Contacts show the new name at once. Send `If-Match` to avoid overwriting a concurrent change (412).',
        tags,
        security,
        params: CompanyParams,
        headers: IfMatchHeaders,
        body: PatchCompanyBody,
        response: {
          200: companyResponse(
            'The company after the change; unchanged, with the same ETag, when the body changed nothing.',
            { updated: companyExample('company-nordic-property-updated') },
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
      const row = await service.updateCompany(
        db,
        contextOf(request),
        request.params.id,
        request.body,
        request.headers['if-match'],
      );
      return sendCompany(reply, row);
    },
  );

  app.delete(
    '/companies/:id',
    {
      config: { scope: 'companies.write' },
      schema: {
        operationId: 'companies.delete',
        summary: 'Delete a company (soft)',
        description: "The company disappears from reads, lists and contacts' `companies`.",
        tags,
        security,
        params: CompanyParams,
        headers: IfMatchHeaders,
        response: {
          204: emptyResponse('Deleted.'),
          ...problemResponses(...readProblems, 'not-found', 'precondition-failed', 'precondition-required'),
        },
      },
    },
    async (request, reply) => {
      await service.deleteCompany(db, contextOf(request), request.params.id, request.headers['if-match']);
      return reply.code(204).send(null);
    },
  );
};
