import type { Db } from '../db/database.js';
import { refKey } from '../db/external-refs.js';
import { lockKey } from '../db/locks.js';
import type { ExternalRefJson } from '../db/schema.js';
import { type BatchHandlers, type ItemOutcome, prefixFieldErrors } from '../http/batch.js';
import { AppError } from '../http/problem.js';
import { contactEtag } from './contact.mapper.js';
import type { ContactChanges } from './contact.model.js';
import { type BatchUpsertItem, type BatchWrittenRow, batchUpsertByRef, type ContactRow } from './contact.repository.js';
import type { ContactBatchItemInput } from './contact.schemas.js';
import {
  checkLocation,
  emailLock,
  type OrganizationContext,
  prepareChanges,
  refLock,
  upsertByExternalRef,
} from './contact.service.js';
import { upsertByMatch } from './contact-match.service.js';
import { FAST_WRITE_KEYS } from './contact-upsert.sql.js';

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
  // An item's field changes, normalized once for its keys and for the set form; null when they are
  // invalid (the item then runs alone and reports why). Connections play no part in either: keys
  // do not depend on them, and items with connections never go to the set form.
  const normalized = new WeakMap<ContactBatchItemInput, ContactChanges | null>();
  const changesOf = (item: ContactBatchItemInput): ContactChanges | null => {
    if (!normalized.has(item)) {
      let changes: ContactChanges | null;
      try {
        changes = prepareChanges({ ...item.data, connections: undefined }, settings);
        checkLocation(item.data, organizationId);
      } catch {
        changes = null;
      }
      normalized.set(item, changes);
    }
    return normalized.get(item) ?? null;
  };
  return {
    validate,

    lockKeys(item) {
      const changes = changesOf(item);
      if (changes === null) return []; // the item fails on its own; it takes no lock
      const email = changes.emailKey ? emailLock(organizationId, changes.emailKey) : null;
      if (item.externalRef !== undefined) {
        const ref = { namespace: item.externalRef.namespace.toLowerCase(), id: item.externalRef.id };
        return [refLock(organizationId, ref), ...(options.matchEmail && email ? [email] : [])];
      }
      const fields = settings.duplicateContactMatching.fields;
      return [
        ...(changes.externalRefs ?? []).map((ref) => refLock(organizationId, ref)),
        ...(fields.includes('email') && email ? [email] : []),
        ...(fields.includes('phone') && changes.phoneKey
          ? [lockKey('contact-phone', organizationId, changes.phoneKey)]
          : []),
      ];
    },

    chunkKey(item) {
      if (context.oneStatement === false) return null;
      // The set form covers the plain sync write: keyed by reference, unconditional, fields only.
      if (item.externalRef === undefined || item.ifMatch !== undefined || item.data.externalRefs !== undefined)
        return null;
      if (item.data.connections !== undefined) return null;
      // Fields settled against other rows (companyName, custom fields) need the item's own write.
      const changes = changesOf(item);
      if (changes === null || !Object.keys(changes).every((key) => FAST_WRITE_KEYS.has(key))) return null;
      return refKey({ namespace: item.externalRef.namespace.toLowerCase(), id: item.externalRef.id });
    },

    async executeChunk(trx: Db, chunk) {
      const writes: BatchUpsertItem[] = [];
      for (const { index, item } of chunk) {
        const changes = changesOf(item);
        if (changes === null) return null; // the item's own error comes from running it alone
        if (!Object.keys(changes).every((key) => FAST_WRITE_KEYS.has(key))) return null;
        const ref = item.externalRef as ExternalRefJson;
        writes.push({
          n: index,
          ref: { namespace: ref.namespace.toLowerCase(), id: ref.id },
          changes,
        });
      }
      const written = await batchUpsertByRef(trx, organizationId, writes, {
        mayCreate: !options.updateOnly,
        matchEmail: options.matchEmail,
      });
      const outcomes = new Map<number, ItemOutcome & { row: BatchWrittenRow }>();
      for (const [n, { outcome, row }] of written) {
        outcomes.set(n, {
          status: outcome === 'created' ? 201 : 200,
          action: outcome,
          matchedBy: outcome === 'created' ? 'none' : 'external_ref',
          id: row.id,
          etag: contactEtag(row),
          ambiguousContactId: null,
          row,
        });
      }
      return outcomes;
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
        checkLocation(item.data, organizationId);
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
