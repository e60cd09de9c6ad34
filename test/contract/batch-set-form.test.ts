/**
 * A batch writes runs of plain reference upserts with one set statement (contact-upsert.sql.ts) and
 * everything else item by item. Whatever the form, the outcome must be what the items sent one by
 * one as single requests give. Each sequence runs both ways, in two fresh organizations, and the
 * statuses, actions, matches and stored contacts are compared (ids and ETags differ by construction,
 * so they are compared by shape: which items share a contact).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { CONTACTS, client, type Json, refPath } from '../helpers/contacts.js';
import { newOrganization } from '../helpers/factories.js';

interface Item {
  externalRef: { namespace: string; id: string };
  data: Record<string, unknown>;
}

const FIELDS = ['firstName', 'lastName', 'email', 'phone', 'tags', 'strategy'] as const;

/** The stored contacts of an organization by reference, without ids, versions or timestamps. */
async function storedByRef(api: ReturnType<typeof client>, refs: string[]): Promise<Record<string, Json>> {
  const stored: Record<string, Json> = {};
  for (const ref of refs) {
    const response = await api.get(refPath('hubspot', ref));
    stored[ref] =
      response.statusCode === 200
        ? Object.fromEntries(FIELDS.map((field) => [field, response.json()[field]]))
        : response.statusCode;
  }
  return stored;
}

describe('batch set form against items sent one by one', () => {
  let test: TestApp;

  before(async () => {
    test = await createTestApp();
  });
  after(() => test.close());

  async function compare(items: Item[], setup: Item[] = [], deleted: string[] = []) {
    const [batchOrg, singleOrg] = [await newOrganization(test.app), await newOrganization(test.app)];
    const [batchApi, singleApi] = [client(test.app, batchOrg), client(test.app, singleOrg)];
    for (const api of [batchApi, singleApi]) {
      for (const item of setup) {
        await api.patch(refPath(item.externalRef.namespace, item.externalRef.id), item.data);
      }
      for (const ref of deleted) {
        const contact = (await api.get(refPath('hubspot', ref))).json();
        await api.delete(`${CONTACTS}/${contact.id}`);
      }
    }
    const batch = (await batchApi.post(`${CONTACTS}/batch`, { items })).json();
    const singles: Array<{ status: number; action: string | null; matchedBy: string | null; id: string | null }> = [];
    for (const item of items) {
      const response = await singleApi.patch(
        `${refPath(item.externalRef.namespace, item.externalRef.id)}?match=email`,
        item.data,
      );
      const ok = response.statusCode < 300;
      singles.push({
        status: response.statusCode,
        action: ok ? String(response.headers['x-propstreet-upsert-action']) : null,
        matchedBy: ok ? String(response.headers['x-upsert-matched-by']) : null,
        id: ok ? response.json().id : null,
      });
    }
    const sameContact = (ids: Array<string | null>) => ids.map((id) => (id === null ? -1 : ids.indexOf(id)));
    const context = JSON.stringify({ items, batch: batch.results, singles });
    assert.deepEqual(
      batch.results.map((r: Json) => r.status),
      singles.map((s) => s.status),
      context,
    );
    // A single request says `updated` for a write that changed nothing; the batch says `unchanged`.
    assert.deepEqual(
      batch.results.map((r: Json) => (r.action === 'unchanged' ? 'updated' : r.action)),
      singles.map((s) => s.action),
      context,
    );
    assert.deepEqual(
      batch.results.map((r: Json) => r.matchedBy),
      singles.map((s) => s.matchedBy),
      context,
    );
    assert.deepEqual(sameContact(batch.results.map((r: Json) => r.id)), sameContact(singles.map((s) => s.id)), context);
    const refs = [...new Set([...setup, ...items].map((item) => item.externalRef.id))];
    assert.deepEqual(await storedByRef(batchApi, refs), await storedByRef(singleApi, refs), context);
  }

  const item = (id: string, data: Record<string, unknown>): Item => ({
    externalRef: { namespace: 'hubspot', id },
    data,
  });

  it('agrees on a run of creates and updates', () =>
    compare(
      [item('a', { firstName: 'A2' }), item('b', { firstName: 'B', email: 'b@x.se' }), item('c', { lastName: 'C' })],
      [item('a', { firstName: 'A' })],
    ));

  it('agrees when one item of a run takes an email another contact has (the run falls back)', () =>
    compare(
      [
        item('n1', { firstName: 'N1' }),
        item('n2', { firstName: 'N2', email: 'owned@x.se' }),
        item('n3', { firstName: 'N3' }),
      ],
      [item('owner', { firstName: 'Owner', email: 'owned@x.se' })],
    ));

  it('agrees when a run meets a deleted contact, a result without identifier and an email match', () =>
    compare(
      [
        item('alive', { strategy: 'S' }),
        item('gone', { firstName: 'Back' }),
        item('alive', { firstName: null, lastName: null, email: null, phone: null }),
        item('fresh', { firstName: 'Fresh', email: 'match@x.se' }),
        item('other', { lastName: 'O' }),
      ],
      [item('alive', { firstName: 'Alive' }), item('gone', { firstName: 'Gone' }), item('m', { email: 'match@x.se' })],
      ['gone'],
    ));

  it('agrees on generated sequences', async () => {
    const ref = fc.constantFrom('r1', 'r2', 'r3', 'r4');
    const value = {
      firstName: fc.option(fc.constantFrom('Ann', 'Bo', ' Cy '), { nil: null }),
      lastName: fc.option(fc.constantFrom('Lund', 'Berg'), { nil: null }),
      email: fc.option(fc.constantFrom('one@x.se', 'two@x.se', 'ONE@x.se'), { nil: null }),
      tags: fc.constantFrom(['a'], ['a', 'b'], []),
      strategy: fc.option(fc.constantFrom('S1', 'S2'), { nil: null }),
    };
    const data = fc.record(value, { requiredKeys: [] });
    const sequence = fc.tuple(
      fc.array(fc.tuple(ref, data), { minLength: 0, maxLength: 3 }),
      fc.array(fc.tuple(ref, data), { minLength: 1, maxLength: 8 }),
    );
    await fc.assert(
      fc.asyncProperty(sequence, async ([setup, items]) => {
        await compare(
          items.map(([id, fields]) => item(id, fields)),
          setup.map(([id, fields]) => item(id, fields)),
        );
      }),
      { numRuns: 25, seed: 20261201 },
    );
  });
});
