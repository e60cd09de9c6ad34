import type { Db } from '../db/database.js';
import { refKey } from '../db/external-refs.js';
import { lockKey, lockKeys } from '../db/locks.js';
import type { ExternalRefJson } from '../db/schema.js';
import { inRolledBackTransaction, inTransaction } from '../db/transaction.js';
import { contactState } from './contact.mapper.js';
import { applyChanges, type ContactChanges, EMPTY_CONTACT } from './contact.model.js';
import type { ContactRow } from './contact.repository.js';
import * as repository from './contact.repository.js';
import type { ContactInput } from './contact.schemas.js';
import {
  applyToExisting,
  checkLocation,
  emailLock,
  insertNew,
  type OrganizationContext,
  prepareChanges,
  refLock,
  resolveCompanyReferences,
  settleReferences,
  tryFastWrite,
  type WriteResult,
  withEmailConflictDetails,
} from './contact.service.js';

export interface MatchUpsertResult extends WriteResult {
  /** Another live contact matched a lower-priority field; it was left untouched. */
  ambiguousContactId: string | null;
}

function attach(owned: readonly ExternalRefJson[], added: readonly ExternalRefJson[]): ExternalRefJson[] {
  const keys = new Set(owned.map(refKey));
  return [...owned, ...added.filter((ref) => !keys.has(refKey(ref)))];
}

/**
 * Upsert by email or phone (seed 003), following the organization's duplicateContactMatching: the
 * first field in its order that finds a live contact decides. Unlike the reference, a second contact
 * matched by another field is reported, not silently ignored.
 */
export async function upsertByMatch(
  db: Db,
  context: OrganizationContext,
  input: ContactInput,
  options: { validateOnly: boolean },
): Promise<MatchUpsertResult> {
  const { organizationId, settings } = context;
  checkLocation(input, organizationId);
  const requested = prepareChanges(await resolveCompanyReferences(db, organizationId, input), settings);
  const refs = requested.externalRefs ?? [];
  const fields = settings.duplicateContactMatching.fields;
  const email = fields.includes('email') ? (requested.emailKey ?? null) : null;
  // Compared by their keys: `(555) 987-6543` finds `+15559876543` (phone.ts: phoneKey).
  const phone = fields.includes('phone') && requested.phoneKey ? requested.phoneKey : null;
  // Callers sending the same new email or phone at once take turns, so the first creates and the
  // others find it; without the locks both would miss and create a duplicate.
  const locks = [
    ...refs.map((ref) => refLock(organizationId, ref)),
    ...(email ? [emailLock(organizationId, email)] : []),
    ...(phone ? [lockKey('contact-phone', organizationId, phone)] : []),
  ];
  const run = options.validateOnly ? inRolledBackTransaction : inTransaction;

  // The common call updates a contact that already has the body's email and phone. That needs none
  // of the locks below: one statement finds the match and updates it under its row lock. A miss, a
  // create, a new email or phone for the match, and anything else the statement cannot decide alone
  // go down the general path.
  if (!options.validateOnly && context.oneStatement !== false && (email !== null || phone !== null)) {
    const match = { emailKey: email, phone, phoneFirst: fields[0] === 'phone' };
    const fast = await tryFastWrite(db, organizationId, { match }, requested, context.origin, null);
    if (fast?.matchedBy) {
      return { row: fast.row, action: 'updated', matchedBy: fast.matchedBy, ambiguousContactId: fast.otherContactId };
    }
  }

  return withEmailConflictDetails(db, organizationId, email, () =>
    run(db, async (trx): Promise<MatchUpsertResult> => {
      await lockKeys(trx, locks);
      const changes = await settleReferences(trx, context, requested, context.origin);

      const matches: Array<{ field: 'email' | 'phone'; row: ContactRow }> = [];
      for (const field of fields) {
        const row =
          field === 'email'
            ? email && (await repository.findLiveContactByEmailKey(trx, organizationId, email, { lock: true }))
            : phone && (await repository.findLiveContactsByPhone(trx, organizationId, phone, { lock: true }));
        if (row) matches.push({ field, row });
      }
      const [winner, ...others] = matches;
      if (winner === undefined) {
        const row = await insertNew(trx, organizationId, applyChanges(EMPTY_CONTACT, changes), context.origin);
        return { row, action: 'created', matchedBy: 'none', ambiguousContactId: null };
      }
      const { externalRefs: _replaced, ...rest } = changes;
      const update: ContactChanges =
        refs.length > 0 ? { ...rest, externalRefs: attach(contactState(winner.row).externalRefs, refs) } : rest;
      const row = await applyToExisting(
        trx,
        organizationId,
        winner.row,
        update,
        { type: 'updated', origin: context.origin },
        refs,
      );
      const ambiguous = others.find((other) => other.row.id !== winner.row.id);
      return { row, action: 'updated', matchedBy: winner.field, ambiguousContactId: ambiguous?.row.id ?? null };
    }),
  );
}
