import type { BatchResult } from '../http/batch.js';
import { type Example, type ExampleRef, exampleBatchAnswer, exampleProblem, sharedExample } from '../http/schemas.js';
import type { Company, CompanyBatchItemInput, CompanyInput } from './company.schemas.js';

/**
 * The companies and request bodies the OpenAPI document shows, from answers this API gave to these
 * requests. Typed, so a field cannot be forgotten; a contract test validates every one against its schema.
 */

/** Pushed by `PATCH /companies/external/hubspot/9001` before the contacts that work there. */
export const nordicProperty: Company = {
  id: '14e31e96-4c3b-45b3-8cef-aebb2e98bcdc',
  uri: '/api/v1/network/companies/14e31e96-4c3b-45b3-8cef-aebb2e98bcdc',
  name: 'Nordic Property Partners',
  website: 'https://nordicproperty.example',
  externalRefs: [{ namespace: 'hubspot', id: '9001' }],
  createdUtc: '2026-12-01T14:04:39.678Z',
  updatedUtc: '2026-12-01T14:04:39.678Z',
  deletedUtc: null,
  etag: 'W/"1tdNcvhbKWIuvelMZ-puSO"',
};

/** Nordic Property Partners after it moved to another website. */
export const nordicPropertyUpdated: Company = {
  ...nordicProperty,
  website: 'https://nordicpropertypartners.example',
  updatedUtc: '2026-12-02T08:30:12.402Z',
  etag: 'W/"q3Xy0b2hG5mVtN8kL1pRwA"',
};

/** Created by `POST /companies` with a Salesforce reference. */
export const acmeRealEstate: Company = {
  id: '9831ab43-5d5c-4075-a13c-fac6b4c3bf36',
  uri: '/api/v1/network/companies/9831ab43-5d5c-4075-a13c-fac6b4c3bf36',
  name: 'Acme Real Estate',
  website: 'https://acme.example',
  externalRefs: [{ namespace: 'salesforce', id: '001XYZ789' }],
  createdUtc: '2026-12-01T14:04:39.805Z',
  updatedUtc: '2026-12-01T14:04:39.805Z',
  deletedUtc: null,
  etag: 'W/"3AKSoGFXwVjyzpCSFoBaLO"',
};

const sharedCompanyExamples = {
  'company-nordic-property': { summary: 'A company synced from HubSpot', value: nordicProperty },
  'company-nordic-property-updated': { summary: 'The same company after an update', value: nordicPropertyUpdated },
} satisfies Record<string, Example>;

/** A company that several answers show, listed once in the document and referenced. */
export function companyExample(name: keyof typeof sharedCompanyExamples): ExampleRef {
  return sharedExample(name, sharedCompanyExamples[name]);
}

export const createCompanyExamples = {
  withReference: {
    summary: 'With its id in Salesforce',
    value: {
      name: 'Acme Real Estate',
      website: 'https://acme.example',
      externalRefs: [{ namespace: 'salesforce', id: '001XYZ789' }],
    } satisfies CompanyInput,
  },
};

export const updateCompanyExamples = {
  website: {
    summary: 'Change the website (with If-Match)',
    value: { website: 'https://nordicpropertypartners.example' } satisfies CompanyInput,
  },
  clear: { summary: 'Clear the website with null', value: { website: null } satisfies CompanyInput },
};

export const upsertCompanyExamples = {
  create: {
    summary: 'Create or update by the HubSpot id (`name` is needed to create)',
    value: { name: 'Nordic Property Partners', website: 'https://nordicproperty.example' } satisfies CompanyInput,
  },
};

const batchItems = {
  nordic: {
    ref: 'company-9001',
    externalRef: { namespace: 'hubspot', id: '9001' },
    data: { name: 'Nordic Property Partners', website: 'https://nordicproperty.example' },
  },
  baltic: {
    ref: 'company-9002',
    externalRef: { namespace: 'hubspot', id: '9002' },
    data: { name: 'Baltic Logistics Park AB', website: 'https://balticlogistics.example' },
  },
  nameless: { ref: 'company-9003', externalRef: { namespace: 'hubspot', id: '9003' }, data: {} },
} satisfies Record<string, CompanyBatchItemInput>;

export const companyBatchExamples = {
  push: {
    summary: 'Push companies by their HubSpot ids, before the contacts that work there',
    value: { items: [batchItems.nordic, batchItems.baltic] },
  },
  oneInvalid: {
    summary: 'The last item cannot be created: it has no name',
    value: { items: [batchItems.nordic, batchItems.baltic, batchItems.nameless] },
  },
  atomic: {
    summary: 'All or nothing',
    value: { atomic: true, items: [batchItems.baltic, batchItems.nameless] },
  },
};

const unchangedNordic: BatchResult = {
  index: 0,
  ref: 'company-9001',
  status: 200,
  action: 'unchanged',
  matchedBy: 'external_ref',
  id: nordicProperty.id,
  etag: nordicProperty.etag,
  ambiguousContactId: null,
  problem: null,
};
const createdBaltic: BatchResult = {
  index: 1,
  ref: 'company-9002',
  status: 201,
  action: 'created',
  matchedBy: 'none',
  id: 'dbf43413-a4dd-48cd-8c58-dcfda7b0a0f4',
  etag: 'W/"r4tdJiy5URxtXVLShEPpkz"',
  ambiguousContactId: null,
  problem: null,
};

const BATCH_PATH = '/api/v1/network/companies/batch';

const failedItem = { action: null, matchedBy: null, id: null, etag: null, ambiguousContactId: null };
const nameMissing = exampleProblem('validation-failed', {
  instance: BATCH_PATH,
  detail: 'data.name: is required to create a company',
  extensions: { errors: { 'data.name': ['is required to create a company'] } },
});

export const companyBatchResponseExamples = {
  200: { allApplied: { summary: 'Every item applied', value: exampleBatchAnswer([unchangedNordic, createdBaltic]) } },
  207: {
    oneFailed: {
      summary: 'The item without a name failed alone',
      value: exampleBatchAnswer([
        unchangedNordic,
        createdBaltic,
        { index: 2, ref: 'company-9003', status: 400, ...failedItem, problem: nameMissing },
      ]),
    },
  },
  422: {
    rolledBack: {
      summary: 'An atomic batch with a failing item stored nothing',
      value: exampleBatchAnswer([
        {
          index: 0,
          ref: 'company-9002',
          status: 424,
          ...failedItem,
          problem: exampleProblem('batch-rolled-back', {
            instance: BATCH_PATH,
            detail: 'Another item of this atomic batch failed, so nothing was stored.',
          }),
        },
        { index: 1, ref: 'company-9003', status: 400, ...failedItem, problem: nameMissing },
      ]),
    },
  },
};
