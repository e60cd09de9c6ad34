import type { Transaction } from 'kysely';
import { normalizeExternalRefs } from '../contacts/contact.model.js';
import type { Db } from '../db/database.js';
import { COMPANY_REFS, findExternalRefOwner, moveExternalRef, replaceExternalRefs } from '../db/external-refs.js';
import { lockKey, lockKeys } from '../db/locks.js';
import type { Database, ExternalRefJson, OrganizationSettingsRow } from '../db/schema.js';
import { inRolledBackTransaction, inTransaction } from '../db/transaction.js';
import { type BatchHandlers, prefixFieldErrors } from '../http/batch.js';
import { type FeedPage, feedFilter, feedPage } from '../http/feed.js';
import { assertIfMatch, readIfMatch } from '../http/preconditions.js';
import { AppError, type FieldErrors } from '../http/problem.js';
import type { ListQueryInput } from '../http/schemas.js';
import { companyEtag, companyState } from './company.mapper.js';
import type { CompanyRow, CompanyState } from './company.repository.js';
import * as repository from './company.repository.js';
import type { CompanyBatchItemInput, CompanyInput } from './company.schemas.js';

export interface OrganizationContext {
  organizationId: string;
  settings: OrganizationSettingsRow;
  /** Recorded with the request's changes (events) unless the write names its own (an upsert's namespace). */
  origin: string;
}

function notFound(companyId: string): AppError {
  return new AppError('not-found', `Company ${companyId} does not exist in your organization.`);
}

function normalizeRefs(refs: ReadonlyArray<ExternalRefJson>): ExternalRefJson[] {
  const errors: FieldErrors = {};
  const normalized = normalizeExternalRefs(refs, 'externalRefs', errors);
  if (Object.keys(errors).length > 0) throw AppError.validation(errors);
  return normalized;
}

function applyInput(current: CompanyState, input: CompanyInput): CompanyState {
  const name = input.name === undefined ? current.name : input.name.trim();
  if (name === '') throw AppError.validation({ name: ['must not be blank'] });
  return {
    name,
    website: input.website === undefined ? current.website : input.website,
    externalRefs: input.externalRefs === undefined ? current.externalRefs : normalizeRefs(input.externalRefs ?? []),
  };
}

function sameState(a: CompanyState, b: CompanyState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function syncRefs(
  trx: Transaction<Database>,
  organizationId: string,
  companyId: string,
  previous: ExternalRefJson[],
  next: ExternalRefJson[],
): Promise<void> {
  const taken = await replaceExternalRefs(trx, COMPANY_REFS, organizationId, companyId, previous, next);
  const first = taken[0];
  if (first === undefined) return;
  const owner = await findExternalRefOwner(trx, COMPANY_REFS, organizationId, first);
  const index = next.findIndex((ref) => ref.namespace === first.namespace && ref.id === first.id);
  throw new AppError(
    'conflict',
    `The external reference ${first.namespace}/${first.id} already belongs to another company${owner ? ` (${owner})` : ''}.`,
    { conflictField: `externalRefs[${index}]`, conflictingCompanyId: owner },
  );
}

function refLocks(organizationId: string, refs: readonly ExternalRefJson[] | undefined): string[] {
  return (refs ?? []).map((ref) => lockKey('company-ref', organizationId, ref.namespace, ref.id));
}

export async function createCompany(db: Db, context: OrganizationContext, input: CompanyInput): Promise<CompanyRow> {
  const state = applyInput({ name: '', website: null, externalRefs: [] }, input);
  const { organizationId } = context;
  return inTransaction(db, async (trx) => {
    await lockKeys(trx, refLocks(organizationId, state.externalRefs));
    const row = await repository.insertCompany(trx, organizationId, state, context.origin);
    await syncRefs(trx, organizationId, row.id, [], state.externalRefs);
    return row;
  });
}

export type CompanyUpsertAction = 'created' | 'updated' | 'revived';

export interface CompanyUpsertOptions {
  revive: boolean;
  updateOnly: boolean;
  validateOnly: boolean;
}

/**
 * Upsert by external reference, as for contacts: a sync pushes its companies keyed by its own ids.
 * The reference's lock makes concurrent upserts of one reference take turns, so the first creates
 * and the others update.
 */
export async function upsertCompanyByExternalRef(
  db: Db,
  context: OrganizationContext,
  rawRef: ExternalRefJson,
  input: CompanyInput,
  options: CompanyUpsertOptions,
  ifMatchHeader: string | undefined,
): Promise<{ row: CompanyRow; action: CompanyUpsertAction }> {
  const ref = { namespace: rawRef.namespace.toLowerCase(), id: rawRef.id };
  const ifMatch = readIfMatch(ifMatchHeader, false);
  const { organizationId } = context;
  const origin = ref.namespace;
  const run = options.validateOnly ? inRolledBackTransaction : inTransaction;
  return run(db, async (trx) => {
    await lockKeys(trx, refLocks(organizationId, [ref]));
    const existing = await repository.findCompanyByExternalRef(trx, organizationId, ref, { lock: true });
    if (existing !== undefined && (existing.deleted_at === null || options.revive)) {
      assertIfMatch(ifMatch, companyEtag(existing), 'company');
      const revive = existing.deleted_at !== null;
      const before = companyState(existing);
      const next = applyInput(before, input);
      if (!revive && sameState(before, next)) return { row: existing, action: 'updated' };
      const row = await repository.updateCompany(trx, organizationId, existing.id, next, origin, { revive });
      return { row, action: revive ? 'revived' : 'updated' };
    }
    if (options.updateOnly) {
      throw new AppError(
        'not-found',
        `A company with the external reference ${ref.namespace}/${ref.id} does not exist.`,
      );
    }
    // If-Match asserts a current representation; there is none to create over.
    assertIfMatch(ifMatch, null, 'company');
    if (input.name === undefined) throw AppError.validation({ name: ['is required to create a company'] });
    const state = { ...applyInput({ name: '', website: null, externalRefs: [] }, input), externalRefs: [ref] };
    const row = await repository.insertCompany(trx, organizationId, state, origin);
    if (existing === undefined) {
      await syncRefs(trx, organizationId, row.id, [], state.externalRefs);
    } else {
      // revive=false on a deleted company: a new company, and the reference moves over to it.
      await moveExternalRef(trx, COMPANY_REFS, organizationId, ref, existing.id, row.id, origin);
    }
    return { row, action: 'created' };
  });
}

export async function getCompanyByExternalRef(db: Db, organizationId: string, rawRef: ExternalRefJson) {
  const ref = { namespace: rawRef.namespace.toLowerCase(), id: rawRef.id };
  const row = await repository.findCompanyByExternalRef(db, organizationId, ref);
  if (row === undefined || row.deleted_at !== null) {
    throw new AppError('not-found', `A company with the external reference ${ref.namespace}/${ref.id} does not exist.`);
  }
  return row;
}

export async function getCompany(db: Db, organizationId: string, companyId: string): Promise<CompanyRow> {
  const row = await repository.findCompanyById(db, organizationId, companyId);
  if (row === undefined || row.deleted_at !== null) throw notFound(companyId);
  return row;
}

export async function updateCompany(
  db: Db,
  context: OrganizationContext,
  companyId: string,
  input: CompanyInput,
  ifMatchHeader: string | undefined,
): Promise<CompanyRow> {
  const ifMatch = readIfMatch(ifMatchHeader, context.settings.requireIfMatch);
  const { organizationId } = context;
  const refs = input.externalRefs === undefined ? undefined : normalizeRefs(input.externalRefs ?? []);
  return inTransaction(db, async (trx) => {
    await lockKeys(trx, refLocks(organizationId, refs));
    const current = await repository.findCompanyById(trx, organizationId, companyId, { lock: true });
    if (current === undefined || current.deleted_at !== null) throw notFound(companyId);
    assertIfMatch(ifMatch, companyEtag(current), 'company');
    const before = companyState(current);
    const next = applyInput(before, input);
    if (sameState(before, next)) return current;
    const row = await repository.updateCompany(trx, organizationId, companyId, next, context.origin);
    await syncRefs(trx, organizationId, companyId, before.externalRefs, next.externalRefs);
    return row;
  });
}

export async function deleteCompany(
  db: Db,
  context: OrganizationContext,
  companyId: string,
  ifMatchHeader: string | undefined,
): Promise<void> {
  const ifMatch = readIfMatch(ifMatchHeader, context.settings.requireIfMatch);
  await inTransaction(db, async (trx) => {
    const current = await repository.findCompanyById(trx, context.organizationId, companyId, { lock: true });
    if (current === undefined || current.deleted_at !== null) throw notFound(companyId);
    assertIfMatch(ifMatch, companyEtag(current), 'company');
    await repository.softDeleteCompany(trx, context.organizationId, companyId, context.origin);
  });
}

export async function listCompanies(
  db: Db,
  organizationId: string,
  query: ListQueryInput,
  cursorSecret: () => Promise<Buffer>,
): Promise<FeedPage<CompanyRow>> {
  const secret = await cursorSecret();
  const filter = feedFilter(query, organizationId, secret, 'companies');
  const rows = await repository.listCompanies(db, organizationId, filter);
  return feedPage(rows, query, filter, organizationId, secret, 'companies');
}

/** How one company batch item runs: exactly as PATCH /companies/external/{namespace}/{id}, on the batch's transaction. */
export function companyBatchHandlers(
  context: OrganizationContext,
  options: { revive: boolean; updateOnly: boolean },
  validate: BatchHandlers<CompanyBatchItemInput>['validate'],
): BatchHandlers<CompanyBatchItemInput> {
  return {
    validate,
    lockKeys: (item) =>
      refLocks(context.organizationId, [
        { namespace: item.externalRef.namespace.toLowerCase(), id: item.externalRef.id },
      ]),
    async execute(trx, item) {
      try {
        const { row, action } = await upsertCompanyByExternalRef(
          trx,
          context,
          item.externalRef,
          item.data,
          { ...options, validateOnly: false },
          item.ifMatch,
        );
        return {
          status: action === 'created' ? 201 : 200,
          action,
          matchedBy: action === 'created' ? 'none' : 'external_ref',
          id: row.id,
          etag: companyEtag(row),
          ambiguousContactId: null,
          row,
        };
      } catch (error) {
        throw prefixFieldErrors(error, 'data', { 'If-Match': 'ifMatch' });
      }
    },
  };
}
