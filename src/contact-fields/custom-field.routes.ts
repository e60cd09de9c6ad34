import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import type { Db } from '../db/database.js';
import type { AuthContext } from '../http/auth.js';
import {
  ETagHeader,
  type Examples,
  emptyResponse,
  IfMatchHeader,
  jsonResponse,
  LocationHeader,
  problemResponses,
} from '../http/schemas.js';
import {
  budgetField,
  contactFieldExample,
  membershipTierChanged,
  preferredAreasArchived,
} from './custom-field.examples.js';
import { CONTACT_FIELDS_PATH, toContactField } from './custom-field.mapper.js';
import type { CustomFieldDefinition } from './custom-field.repository.js';
import {
  ContactFieldParams,
  CreateContactFieldBody,
  MAX_CONTACT_FIELDS_PER_ORGANIZATION,
  UpdateContactFieldBody,
} from './custom-field.schemas.js';
import * as service from './custom-field.service.js';

const tags = ['Custom fields'];
const security = [{ bearerAuth: [] }];
const readProblems = ['unauthorized', 'rate-limited', 'validation-failed'] as const;
const writeProblems = [
  ...readProblems,
  'insufficient-scope',
  'malformed-request',
  'unsupported-media-type',
  'payload-too-large',
] as const;
const IfMatchHeaders = Type.Object({ 'if-match': Type.Optional(IfMatchHeader) });

function organizationOf(request: FastifyRequest): string {
  return (request.auth as AuthContext).organizationId;
}

function contextOf(request: FastifyRequest): service.ContactFieldContext {
  const { organizationId, settings } = request.auth as AuthContext;
  return { organizationId, requireIfMatch: settings.requireIfMatch };
}

function sendContactField(reply: FastifyReply, definition: CustomFieldDefinition, status = 200) {
  const field = toContactField(definition);
  return reply.code(status).header('etag', field.etag).send(field);
}

function contactFieldResponse(description: string, examples: Examples, extraHeaders: Record<string, TSchema> = {}) {
  return jsonResponse(description, Type.Ref('ContactField'), examples, { ETag: ETagHeader, ...extraHeaders });
}

/** Custom contact field definitions: any token of the organization reads them, `settings.write` changes them. */
export const contactFieldRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  app.get(
    '/contact-fields',
    {
      schema: {
        operationId: 'contactFields.list',
        summary: "List your organization's custom contact fields",
        description: `All of them at once (at most ${MAX_CONTACT_FIELDS_PER_ORGANIZATION}), archived ones included, oldest first. Any token of the organization may read them.`,
        tags,
        security,
        response: {
          200: jsonResponse('The custom fields.', Type.Ref('ContactFieldList'), {
            fields: {
              summary: 'A select field, a number field and an archived one',
              value: { data: [membershipTierChanged, budgetField, preferredAreasArchived] },
            },
          }),
          ...problemResponses('unauthorized', 'rate-limited'),
        },
      },
    },
    async (request) => ({
      data: (await service.listContactFields(db, organizationOf(request))).map(toContactField),
    }),
  );

  app.post(
    '/contact-fields',
    {
      config: { scope: 'settings.write' },
      schema: {
        operationId: 'contactFields.create',
        summary: 'Define a custom contact field',
        description: `Needs the \`settings.write\` scope. Contacts can then hold a value of the field's type under its \`key\`; the key and the type never change. \`single_select\` and \`multi_select\` fields need their \`options\`. At most ${MAX_CONTACT_FIELDS_PER_ORGANIZATION} fields per organization, archived ones included; a key already defined answers 409.`,
        tags,
        security,
        body: CreateContactFieldBody,
        response: {
          201: contactFieldResponse(
            'Created; `Location` points at the field.',
            { created: contactFieldExample('contact-field-membership-tier') },
            { Location: LocationHeader },
          ),
          ...problemResponses(...writeProblems, 'conflict', 'contact-field-limit-reached'),
        },
      },
    },
    async (request, reply) => {
      const definition = await service.createContactField(db, organizationOf(request), request.body);
      reply.header('location', `${CONTACT_FIELDS_PATH}/${definition.key}`);
      return sendContactField(reply, definition, 201);
    },
  );

  app.get(
    '/contact-fields/:key',
    {
      schema: {
        operationId: 'contactFields.get',
        summary: 'Read a custom contact field',
        description: 'Any token of the organization may read it.',
        tags,
        security,
        params: ContactFieldParams,
        response: {
          200: contactFieldResponse('The field.', { field: contactFieldExample('contact-field-membership-tier') }),
          ...problemResponses(...readProblems, 'not-found'),
        },
      },
    },
    async (request, reply) =>
      sendContactField(reply, await service.getContactField(db, organizationOf(request), request.params.key)),
  );

  app.patch(
    '/contact-fields/:key',
    {
      config: { scope: 'settings.write' },
      schema: {
        operationId: 'contactFields.update',
        summary: 'Change a custom contact field',
        description:
          "Needs the `settings.write` scope. Fields present are set, omitted fields are kept: the label, a select field's options (an option whose value contacts still hold cannot be removed: 409; its label can change), and `archived`. `key` and `type` never change; sent with their current value they are accepted. A body that changes nothing changes nothing, ETag included. Send `If-Match` to avoid overwriting a concurrent change (412).",
        tags,
        security,
        params: ContactFieldParams,
        headers: IfMatchHeaders,
        body: UpdateContactFieldBody,
        response: {
          200: contactFieldResponse(
            'The field after the change; unchanged, with the same ETag, when the body changed nothing.',
            { changed: { summary: 'An option added, the field renamed', value: membershipTierChanged } },
          ),
          ...problemResponses(
            ...writeProblems,
            'not-found',
            'contact-field-in-use',
            'precondition-failed',
            'precondition-required',
          ),
        },
      },
    },
    async (request, reply) => {
      const definition = await service.updateContactField(
        db,
        contextOf(request),
        request.params.key,
        request.body,
        request.headers['if-match'],
      );
      return sendContactField(reply, definition);
    },
  );

  app.delete(
    '/contact-fields/:key',
    {
      config: { scope: 'settings.write' },
      schema: {
        operationId: 'contactFields.delete',
        summary: 'Delete a custom contact field',
        description:
          'Needs the `settings.write` scope. Only a field no contact holds a value of, deleted contacts included (409 otherwise: archive it instead, or clear those values first). Its key can then be defined again.',
        tags,
        security,
        params: ContactFieldParams,
        headers: IfMatchHeaders,
        response: {
          204: emptyResponse('Deleted.'),
          ...problemResponses(
            ...readProblems,
            'insufficient-scope',
            'not-found',
            'contact-field-in-use',
            'precondition-failed',
            'precondition-required',
          ),
        },
      },
    },
    async (request, reply) => {
      await service.deleteContactField(db, contextOf(request), request.params.key, request.headers['if-match']);
      return reply.code(204).send(null);
    },
  );
};
