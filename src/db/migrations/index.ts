import type { Migration } from 'kysely';
import * as organizationsAndTokens from './0001-organizations-and-tokens.js';
import * as contactsAndCompanies from './0002-contacts-and-companies.js';
import * as idempotencyKeys from './0003-idempotency-keys.js';
import * as contactProfile from './0004-contact-profile.js';
import * as contactPhoneKey from './0005-contact-phone-key.js';
import * as eventLog from './0006-event-log.js';
import * as webhooks from './0007-webhooks.js';
import * as tokenRotationAndOrganizationList from './0008-token-rotation-and-organization-list.js';
import * as webhookHeadLeases from './0009-webhook-head-leases.js';
import * as customFieldsAndEmailKeys from './0010-custom-fields-and-email-keys.js';
import * as contactSearchIndexes from './0011-contact-search-indexes.js';
import * as contactSearchTerms from './0012-contact-search-terms.js';
import * as sequencerWorkMem from './0013-sequencer-work-mem.js';
import * as sequencerPreviousPosition from './0014-sequencer-previous-position.js';
import * as searchTermsInPlpgsql from './0015-search-terms-in-plpgsql.js';
import * as changedColumnsByComparison from './0016-changed-columns-by-comparison.js';

/**
 * Migrations are imported, not read from disk, so the same list runs from the sources (tsx) and
 * from the build. Append only; never edit one that has shipped.
 */
export const migrations: Record<string, Migration> = {
  '0001-organizations-and-tokens': organizationsAndTokens,
  '0002-contacts-and-companies': contactsAndCompanies,
  '0003-idempotency-keys': idempotencyKeys,
  '0004-contact-profile': contactProfile,
  '0005-contact-phone-key': contactPhoneKey,
  '0006-event-log': eventLog,
  '0007-webhooks': webhooks,
  '0008-token-rotation-and-organization-list': tokenRotationAndOrganizationList,
  '0009-webhook-head-leases': webhookHeadLeases,
  '0010-custom-fields-and-email-keys': customFieldsAndEmailKeys,
  '0011-contact-search-indexes': contactSearchIndexes,
  '0012-contact-search-terms': contactSearchTerms,
  '0013-sequencer-work-mem': sequencerWorkMem,
  '0014-sequencer-previous-position': sequencerPreviousPosition,
  '0015-search-terms-in-plpgsql': searchTermsInPlpgsql,
  '0016-changed-columns-by-comparison': changedColumnsByComparison,
};
