import type { BatchResult } from '../http/batch.js';
import { type Example, type ExampleRef, exampleBatchAnswer, exampleProblem, sharedExample } from '../http/schemas.js';
import type { Contact, ContactBatchItemInput, ContactInput } from './contact.schemas.js';

/**
 * The contacts and request bodies the OpenAPI document shows, taken from the seed pages where they
 * have one and from answers this API gave to those requests. Typed, so a representation field cannot
 * be forgotten; a contract test validates every one against its schema.
 */

const NORDIC_PROPERTY_ID = '14e31e96-4c3b-45b3-8cef-aebb2e98bcdc';

/** Created by `PATCH /contacts/external/hubspot/12345`, connected to a company pushed before it. */
export const janeDoe: Contact = {
  id: 'bf80341f-ed94-4202-9eab-d0f128cbb552',
  uri: '/api/v1/network/contacts/bf80341f-ed94-4202-9eab-d0f128cbb552',
  name: 'Jane Doe',
  externalRefs: [{ namespace: 'hubspot', id: '12345' }],
  firstName: 'Jane',
  lastName: 'Doe',
  email: 'jane@example.com',
  phone: null,
  linkedInUrl: null,
  emails: [{ address: 'jane@example.com', type: null, isPrimary: true }],
  phones: [],
  primaryLanguage: null,
  tags: [],
  strategy: null,
  blocked: false,
  address1: null,
  city: null,
  state: null,
  postalCode: null,
  country: null,
  website: null,
  timezone: null,
  dateOfBirth: null,
  source: null,
  assignedTo: null,
  dnd: false,
  dndSettings: null,
  customFields: {},
  companyName: 'Nordic Property Partners',
  primaryCompanyId: NORDIC_PROPERTY_ID,
  companies: [
    {
      id: NORDIC_PROPERTY_ID,
      uri: `/api/v1/network/companies/${NORDIC_PROPERTY_ID}`,
      name: 'Nordic Property Partners',
      jobTitle: 'Head of Acquisitions',
      isPrimary: true,
    },
  ],
  profilePictureUrl: null,
  createdUtc: '2026-12-01T14:04:39.884Z',
  updatedUtc: '2026-12-01T14:04:39.884Z',
  deletedUtc: null,
  etag: 'W/"zNY1utXf0CZ2AWcc5TV4qB"',
  changeType: 'created',
  changeOrigin: 'hubspot',
};

/** Jane Doe after the next sync from HubSpot gave her a mobile phone and tags. */
export const janeDoeUpdated: Contact = {
  ...janeDoe,
  phone: '+46701234567',
  phones: [{ number: '+46701234567', type: 'mobile', isPrimary: true }],
  tags: ['vip', 'enterprise', 'decision-maker'],
  updatedUtc: '2026-12-01T14:04:40.578Z',
  etag: 'W/"-3P9it5mWtngLyCCagWdzr"',
  changeType: 'updated',
};

/** The same change made by a direct PATCH: the same version, so the same ETag, another origin. */
export const janeDoePatched: Contact = { ...janeDoeUpdated, changeOrigin: 'api' };

/** Created by `POST /contacts` with a Salesforce reference. */
export const janeSmith: Contact = {
  ...janeDoe,
  id: '62ee8bb4-40ed-4e8d-97e6-1828c4404a92',
  uri: '/api/v1/network/contacts/62ee8bb4-40ed-4e8d-97e6-1828c4404a92',
  name: 'Jane Smith',
  externalRefs: [{ namespace: 'salesforce', id: '003ABC123' }],
  lastName: 'Smith',
  email: 'jane.smith@acme.com',
  phone: '+46701234567',
  emails: [{ address: 'jane.smith@acme.com', type: null, isPrimary: true }],
  phones: [{ number: '+46701234567', type: null, isPrimary: true }],
  primaryLanguage: 'en',
  tags: ['vip', 'enterprise'],
  strategy: 'Focus on commercial real estate in Stockholm',
  customFields: { budget: 125000, segment: 'enterprise' },
  companyName: null,
  primaryCompanyId: null,
  companies: [],
  createdUtc: '2026-12-01T14:04:40.340Z',
  updatedUtc: '2026-12-01T14:04:40.340Z',
  etag: 'W/"mRyl99uXHvAEkDP_LQeOJo"',
  changeType: 'created',
  changeOrigin: 'api',
};

/** Created by `POST /contacts/upsert`, which found no contact with this email or phone. */
export const johnDoe: Contact = {
  ...janeDoe,
  id: 'b841d669-0c09-4744-b4f6-69ebb84c20d5',
  uri: '/api/v1/network/contacts/b841d669-0c09-4744-b4f6-69ebb84c20d5',
  name: 'John Doe',
  externalRefs: [],
  firstName: 'John',
  email: 'john@example.com',
  phone: '+15559876543',
  emails: [{ address: 'john@example.com', type: null, isPrimary: true }],
  phones: [{ number: '+15559876543', type: null, isPrimary: true }],
  tags: ['upserted'],
  source: 'api',
  companyName: null,
  primaryCompanyId: null,
  companies: [],
  createdUtc: '2026-12-01T14:04:40.958Z',
  updatedUtc: '2026-12-01T14:04:40.958Z',
  etag: 'W/"H1n6kVoGPZNmDR7mFdtzST"',
  changeType: 'created',
  changeOrigin: 'api',
};

/** John Doe found again by his email, his tags replaced. */
export const johnDoeUpdated: Contact = {
  ...johnDoe,
  tags: ['upserted', 'newsletter'],
  updatedUtc: '2026-12-02T09:12:05.114Z',
  etag: 'W/"Lagm2KIEMn7dgcTiwe8FfJ"',
  changeType: 'updated',
};

const sharedContactExamples = {
  'contact-jane-doe': { summary: 'A contact synced from HubSpot, working at a company', value: janeDoe },
  'contact-jane-doe-updated': { summary: 'The same contact after an update', value: janeDoeUpdated },
} satisfies Record<string, Example>;

/** A contact that several answers show, listed once in the document and referenced. */
export function contactExample(name: keyof typeof sharedContactExamples): ExampleRef {
  return sharedExample(name, sharedContactExamples[name]);
}

export const createContactExamples = {
  minimal: {
    summary: 'The least a contact needs: a name or an email or a phone',
    value: { firstName: 'John', lastName: 'Doe', email: 'john@example.com' } satisfies ContactInput,
  },
  crmSync: {
    summary: 'With an external reference, for CRM sync',
    value: {
      externalRefs: [{ namespace: 'salesforce', id: '003ABC123' }],
      firstName: 'Jane',
      lastName: 'Smith',
      email: 'jane.smith@acme.com',
      phone: '+46701234567',
      primaryLanguage: 'en',
      tags: ['vip', 'enterprise'],
      strategy: 'Focus on commercial real estate in Stockholm',
      customFields: { budget: 125000, segment: 'enterprise' },
    } satisfies ContactInput,
  },
  profile: {
    summary: 'The whole profile: address, company by name, do-not-disturb and custom fields',
    value: {
      name: 'Mary Ann Smith',
      email: 'mary.smith@example.com',
      phone: '(555) 987-6543',
      companyName: 'Acme Realty',
      address1: '123 Main St',
      city: 'Springfield',
      state: 'IL',
      postalCode: '62701',
      country: 'US',
      website: 'https://example.com',
      timezone: 'America/Chicago',
      dateOfBirth: '1985-04-12',
      source: 'web form',
      assignedTo: 'owner-4711',
      dnd: false,
      dndSettings: { SMS: { status: 'active', message: 'Replied STOP', code: 'STOP' } },
      customFields: { budget: 2500000, segment: 'enterprise', interests: ['office', 'retail'] },
    } satisfies ContactInput,
  },
};

export const updateContactExamples = {
  email: {
    summary: 'Change the email (with If-Match)',
    value: { email: 'newemail@example.com' } satisfies ContactInput,
  },
  fields: {
    summary: 'Set several fields; arrays replace the whole list',
    value: { firstName: 'Jane', tags: ['vip', 'enterprise', 'decision-maker'] } satisfies ContactInput,
  },
  clear: { summary: 'Clear fields with null', value: { phone: null, primaryLanguage: null } satisfies ContactInput },
  customFields: {
    summary: 'Set one custom field and clear another; the others are kept',
    value: { customFields: { budget: 150000, segment: null } } satisfies ContactInput,
  },
};

export const upsertContactExamples = {
  basic: {
    summary: 'Create or update by the HubSpot id',
    value: { firstName: 'Jane', lastName: 'Doe', email: 'jane@example.com' } satisfies ContactInput,
  },
  emailsAndPhones: {
    summary: 'Several emails and phones; the first of each becomes the primary',
    value: {
      firstName: 'John',
      emails: [
        { address: 'john@work.com', type: 'work' },
        { address: 'john@personal.com', type: 'personal' },
      ],
      phones: [
        { number: '+46701234567', type: 'mobile' },
        { number: '+4687654321', type: 'work' },
      ],
    } satisfies ContactInput,
  },
  withCompany: {
    summary: 'Connected to a company by its HubSpot id',
    value: {
      firstName: 'Jane',
      lastName: 'Doe',
      email: 'jane@example.com',
      connections: [
        {
          company: { kind: 'external', namespace: 'hubspot', id: '9001' },
          jobTitle: 'Head of Acquisitions',
          primary: true,
        },
      ],
    } satisfies ContactInput,
  },
};

export const matchUpsertContactExamples = {
  byEmailAndPhone: {
    summary: 'Matched on email or phone, in the order your organization set',
    value: {
      firstName: 'John',
      lastName: 'Doe',
      email: 'john@example.com',
      phone: '+15559876543',
      tags: ['upserted'],
      source: 'api',
    } satisfies ContactInput,
  },
  listForm: {
    summary: 'Custom fields in the list form, the company by name, and your organization id as locationId',
    value: {
      firstName: 'John',
      lastName: 'Doe',
      email: 'john@example.com',
      locationId: 'b0c5e1a4-4f1d-4c55-9a51-2d0f4e8f6d11',
      companyName: 'Acme Realty',
      customFields: [
        { key: 'segment', field_value: 'enterprise' },
        { id: 'budget', value: 125000 },
      ],
    } satisfies ContactInput,
  },
};

const BATCH_PATH = '/api/v1/network/contacts/batch';
const olaNordmann = { id: '114d8715-1508-4c4f-83e8-4f62a69937fe', etag: 'W/"QgE4-J7dUm2DbT6WTGInsZ"' };

const batchItems = {
  byReference: {
    ref: 'row-1',
    externalRef: { namespace: 'hubspot', id: '12346' },
    data: { firstName: 'Ola', lastName: 'Nordmann', email: 'ola@example.no' },
  },
  byEmail: { ref: 'row-2', data: { email: 'john@example.com', tags: ['upserted', 'newsletter'] } },
  // Jane Doe has this email and already another HubSpot id: the item cannot attach this one to her.
  conflicting: { ref: 'row-3', externalRef: { namespace: 'hubspot', id: '12347' }, data: { email: janeDoe.email } },
} satisfies Record<string, ContactBatchItemInput>;

export const contactBatchExamples = {
  mixed: {
    summary: 'By external reference and by email; one item conflicts',
    value: { items: [batchItems.byReference, batchItems.byEmail, batchItems.conflicting] },
  },
  atomic: {
    summary: 'All or nothing',
    value: { atomic: true, items: [batchItems.byReference, batchItems.conflicting] },
  },
};

const created: BatchResult = {
  index: 0,
  ref: 'row-1',
  status: 201,
  action: 'created',
  matchedBy: 'none',
  ...olaNordmann,
  ambiguousContactId: null,
  problem: null,
};
const updatedByEmail: BatchResult = {
  index: 1,
  ref: 'row-2',
  status: 200,
  action: 'updated',
  matchedBy: 'email',
  id: johnDoeUpdated.id,
  etag: johnDoeUpdated.etag,
  ambiguousContactId: null,
  problem: null,
};
const emailTaken = exampleProblem('conflict', {
  instance: BATCH_PATH,
  detail: `The contact with this email (${janeDoe.id}) already has the reference hubspot/12345 in namespace "hubspot".`,
  extensions: { conflictField: 'externalRefs', conflictingContactId: janeDoe.id },
});
const failedItem = { action: null, matchedBy: null, id: null, etag: null, ambiguousContactId: null };

export const contactBatchResponseExamples = {
  200: { allApplied: { summary: 'Every item applied', value: exampleBatchAnswer([created, updatedByEmail]) } },
  207: {
    oneFailed: {
      summary: 'The conflicting item failed alone',
      value: exampleBatchAnswer([
        created,
        updatedByEmail,
        { index: 2, ref: 'row-3', status: 409, ...failedItem, problem: emailTaken },
      ]),
    },
  },
  422: {
    rolledBack: {
      summary: 'An atomic batch with a failing item stored nothing',
      value: exampleBatchAnswer([
        {
          index: 0,
          ref: 'row-1',
          status: 424,
          ...failedItem,
          problem: exampleProblem('batch-rolled-back', {
            instance: BATCH_PATH,
            detail: 'Another item of this atomic batch failed, so nothing was stored.',
          }),
        },
        { index: 1, ref: 'row-3', status: 409, ...failedItem, problem: emailTaken },
      ]),
    },
  },
};
