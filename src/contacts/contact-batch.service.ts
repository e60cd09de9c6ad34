import type { Db } from '../db/database.js';
import { lockKey } from '../db/locks.js';
import { type BatchHandlers, type ItemOutcome, prefixFieldErrors } from '../http/batch.js';
import { AppError } from '../http/problem.js';
import { contactEtag } from './contact.mapper.js';
import type { ContactRow } from './contact.repository.js';
import type { ContactBatchItemInput } from './contact.schemas.js';
import {
  emailLock,
  type OrganizationContext,
  prepareChanges,
  refLock,
  upsertByExternalRef,
} from './contact.service.js';
import { upsertByMatch } from './contact-match.service.js';
import { emailKey } from './email.js';

export interface ContactBatchOptions {
  matchEmail: boolean;
  revive: boolean;
  updateOnly: boolean;
}

/**
 * How one contact batch item runs: exactly as the single upsert it stands for, on the batch's
 * transaction. Field errors name the item's fields (`data.email`), as its schema errors do.
 */
export function contactBatchHandlers(
  context: OrganizationContext,
  options: ContactBatchOptions,
  validate: BatchHandlers<ContactBatchItemInput>['validate'],
): BatchHandlers<ContactBatchItemInput> {
  const { organizationId, settings } = context;
  return {
    validate,

    lockKeys(item) {
      let changes: ReturnType<typeof prepareChanges>;
      try {
        // Connections play no part in the keys; companies named by reference are only resolved later.
        changes = prepareChanges({ ...item.data, connections: undefined }, settings);
      } catch {
        return []; // the item fails on its own; it takes no lock
      }
      const email = changes.email ? emailLock(organizationId, emailKey(changes.email)) : null;
      if (item.externalRef !== undefined) {
        const ref = { namespace: item.externalRef.namespace.toLowerCase(), id: item.externalRef.id };
        return [refLock(organizationId, ref), ...(options.matchEmail && email ? [email] : [])];
      }
      const fields = settings.duplicateContactMatching.fields;
      return [
        ...(changes.externalRefs ?? []).map((ref) => refLock(organizationId, ref)),
        ...(fields.includes('email') && email ? [email] : []),
        ...(fields.includes('phone') && changes.phone ? [lockKey('contact-phone', organizationId, changes.phone)] : []),
      ];
    },

    async execute(trx: Db, item) {
      const outcome = (
        row: ContactRow,
        action: ItemOutcome['action'],
        matchedBy: string,
        ambiguousContactId: string | null = null,
      ) => ({
        status: action === 'created' ? (201 as const) : (200 as const),
        action,
        matchedBy,
        id: row.id,
        etag: contactEtag(row),
        ambiguousContactId,
        row,
      });
      try {
        if (item.externalRef !== undefined) {
          if (item.data.externalRefs !== undefined) {
            throw AppError.validation({ externalRefs: ['is not accepted on an item keyed by externalRef'] });
          }
          const result = await upsertByExternalRef(
            trx,
            context,
            item.externalRef,
            item.data,
            { ...options, validateOnly: false },
            item.ifMatch,
          );
          return outcome(result.row, result.action, result.matchedBy);
        }
        if (item.ifMatch !== undefined) {
          throw AppError.validation({ ifMatch: ['only an item with externalRef can be conditional'] });
        }
        const result = await upsertByMatch(trx, context, item.data, { validateOnly: false });
        return outcome(result.row, result.action, result.matchedBy, result.ambiguousContactId);
      } catch (error) {
        throw prefixFieldErrors(error, 'data', { ifMatch: 'ifMatch', 'If-Match': 'ifMatch' });
      }
    },
  };
}
