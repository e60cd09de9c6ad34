export {
  type Answer,
  type CallMethod,
  type ContactsClient,
  type ContactsClientOptions,
  createContactsClient,
} from './client.js';
export type { ContactSearchQuery, FeedArgs, FeedQuery } from './feeds.js';
export { type Problem, ProblemError } from './problem-error.js';
export { DEFAULT_RETRY, type Fetch, type RetryOptions } from './retry.js';
export type { components, operations, paths } from './schema.js';

import type { components } from './schema.js';

export type Contact = components['schemas']['Contact'];
export type ContactList = components['schemas']['ContactList'];
export type Company = components['schemas']['Company'];
export type CompanyList = components['schemas']['CompanyList'];
export type Event = components['schemas']['Event'];
export type EventList = components['schemas']['EventList'];
