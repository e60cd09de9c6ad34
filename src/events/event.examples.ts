import { nordicProperty } from '../companies/company.examples.js';
import { janeDoe } from '../contacts/contact.examples.js';
import type { Event } from './event.schemas.js';

/**
 * The event log the OpenAPI document shows: a HubSpot sync pushing a company, then a contact that
 * works there. A contract test validates it against its schema.
 */
export const companyCreated: Event = {
  id: '91f9aeb3-fbd7-492e-a090-1030038f865a',
  seq: 1,
  type: 'company.created',
  occurredUtc: nordicProperty.updatedUtc,
  origin: 'hubspot',
  resourceId: nordicProperty.id,
  changedFields: ['name', 'website', 'externalRefs'],
  data: nordicProperty,
};

export const contactCreated: Event = {
  id: 'ccac7c43-f6ad-4b3f-affd-a0c9d2826318',
  seq: 2,
  type: 'contact.created',
  occurredUtc: janeDoe.updatedUtc,
  origin: 'hubspot',
  resourceId: janeDoe.id,
  changedFields: ['externalRefs', 'firstName', 'lastName', 'email', 'emails', 'name', 'primaryCompanyId', 'companies'],
  data: janeDoe,
};

export const eventListExamples = {
  firstPage: {
    summary: 'The first two events; more follow',
    value: { data: [companyCreated, contactCreated], page: { nextAfter: 2, hasMore: true } },
  },
  caughtUp: {
    summary: 'Nothing new after `after=2`: poll again later with the same `after`',
    value: { data: [], page: { nextAfter: 2, hasMore: false } },
  },
};
