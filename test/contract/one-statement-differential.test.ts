/**
 * The one-statement form re-states the contact rules in SQL (contact-upsert.sql.ts), so it is held to
 * the general path by comparison: generated sequences of single requests run against an app that
 * uses it and one that does not (ONE_STATEMENT_WRITES=false), each in a fresh organization, and
 * every answer (status, body, upsert headers, whether the ETag moved) and every stored contact must
 * be the same. Ids differ by construction and are compared by order of first appearance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { CONTACTS, client, type Json, refPath } from '../helpers/contacts.js';
import { newOrganization } from '../helpers/factories.js';

type Api = ReturnType<typeof client>;

type Operation =
  | { kind: 'ref'; ref: string; body: Json; matchEmail: boolean; ifMatch: 'current' | 'stale' | null }
  | { kind: 'patch'; ref: string; body: Json; ifMatch: 'current' | 'stale' | null }
  | { kind: 'match'; body: Json };

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** One app's side of a run: ids numbered by first appearance, ETags remembered per contact. */
class Side {
  readonly ids = new Map<string, number>();
  readonly etags = new Map<string, string>();
  readonly refIds = new Map<string, string>();
  constructor(readonly api: Api) {}

  ordinal(id: string): string {
    if (!this.ids.has(id)) this.ids.set(id, this.ids.size);
    return `#${this.ids.get(id)}`;
  }

  /** A body or header with ids as ordinals and without what differs by construction. */
  normalize(value: unknown): unknown {
    if (typeof value === 'string') return value.replace(UUID, (id) => this.ordinal(id));
    if (Array.isArray(value)) return value.map((item) => this.normalize(item));
    if (typeof value !== 'object' || value === null) return value;
    const result: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      if (key === 'etag' || key === 'traceId' || key === 'instance' || key === 'currentEtag') continue;
      if (key === 'createdUtc' || key === 'updatedUtc' || key === 'deletedUtc')
        result[key] = field === null ? null : 'set';
      else result[key] = this.normalize(field);
    }
    return result;
  }

  async run(operation: Operation) {
    const ifMatch = (ref: string, which: 'current' | 'stale' | null): Record<string, string> =>
      which === null ? {} : { 'if-match': which === 'stale' ? 'W/"stale"' : (this.etags.get(ref) ?? 'W/"none"') };
    let response: Awaited<ReturnType<Api['get']>>;
    if (operation.kind === 'ref') {
      const url = `${refPath('hubspot', operation.ref)}${operation.matchEmail ? '?match=email' : ''}`;
      response = await this.api.patch(url, operation.body, ifMatch(operation.ref, operation.ifMatch));
    } else if (operation.kind === 'patch') {
      const id = this.refIds.get(operation.ref);
      if (id === undefined) return { skipped: true };
      response = await this.api.patch(`${CONTACTS}/${id}`, operation.body, ifMatch(operation.ref, operation.ifMatch));
    } else {
      response = await this.api.post(`${CONTACTS}/upsert`, operation.body);
    }
    const body = response.json();
    const contact = operation.kind === 'match' ? body.contact : body;
    let etagMoved: boolean | null = null;
    if (response.statusCode < 300 && contact?.id) {
      const key = operation.kind === 'match' ? contact.id : operation.ref;
      if (operation.kind !== 'match') this.refIds.set(operation.ref, contact.id);
      etagMoved = this.etags.get(key) !== contact.etag;
      this.etags.set(key, contact.etag);
    }
    const header = (name: string) => {
      const value = response.headers[name];
      return value === undefined ? null : this.normalize(String(value));
    };
    return {
      status: response.statusCode,
      body: this.normalize(body),
      action: header('x-propstreet-upsert-action'),
      matchedBy: header('x-upsert-matched-by'),
      ambiguous: header('x-upsert-ambiguous-contact'),
      etagMoved,
    };
  }

  /** Every contact this side has seen, as stored now. */
  async stored() {
    const contacts: unknown[] = [];
    for (const id of [...this.ids.keys()].sort((a, b) => (this.ids.get(a) ?? 0) - (this.ids.get(b) ?? 0))) {
      const response = await this.api.get(`${CONTACTS}/${id}`);
      contacts.push(response.statusCode === 200 ? this.normalize(response.json()) : response.statusCode);
    }
    return contacts;
  }
}

const email = fc.constantFrom('a@x.se', 'b@x.se', 'A@x.se');
const phone = fc.constantFrom('+46701234567', '+46709876543');
const fields = fc.record(
  {
    firstName: fc.option(fc.constantFrom('Ann', ' Bo ', ''), { nil: null }),
    lastName: fc.option(fc.constantFrom('Lund', 'Berg'), { nil: null }),
    email: fc.option(email, { nil: null }),
    phone: fc.option(phone, { nil: null }),
    tags: fc.option(fc.constantFrom(['a'], ['a', 'b'], []), { nil: null }),
    strategy: fc.option(fc.constantFrom('S1', 'S2'), { nil: null }),
    // One field of each remaining storage kind: normalized text, a date, a flag, a JSON object
    // (sent in different key orders, which must compare equal).
    country: fc.option(fc.constantFrom('se', 'SE', 'no'), { nil: null }),
    dateOfBirth: fc.option(fc.constantFrom('1990-04-15', '2001-12-31'), { nil: null }),
    dnd: fc.option(fc.boolean(), { nil: null }),
    dndSettings: fc.option(
      fc.constantFrom(
        { SMS: { status: 'active', code: 'STOP' } },
        { SMS: { code: 'STOP', status: 'active' } },
        { Email: { status: 'permanent' }, Call: { status: 'inactive' } },
        {},
      ),
      { nil: null },
    ),
  },
  { requiredKeys: [] },
);
const ref = fc.constantFrom('r1', 'r2', 'r3');
const ifMatch = fc.constantFrom('current' as const, 'stale' as const, null, null, null);
const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('ref' as const), ref, body: fields, matchEmail: fc.boolean(), ifMatch }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('patch' as const), ref, body: fields, ifMatch }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('match' as const),
      body: fc.record(
        {
          email: fc.option(email, { nil: undefined }),
          phone: fc.option(phone, { nil: undefined }),
          lastName: fc.constantFrom('M1', 'M2'),
        },
        { requiredKeys: ['lastName'] },
      ),
    }),
  },
);

describe('the one-statement form against the general path', () => {
  let fast: TestApp;
  let general: TestApp;

  before(async () => {
    fast = await createTestApp();
    general = await createTestApp({ ONE_STATEMENT_WRITES: 'false' });
  });
  after(async () => {
    await fast.close();
    await general.close();
  });

  it('answers and stores the same for generated sequences of single requests', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 10 }), async (operations) => {
        const sides = [
          new Side(client(fast.app, await newOrganization(fast.app))),
          new Side(client(general.app, await newOrganization(general.app))),
        ] as const;
        for (const [step, op] of operations.entries()) {
          const [withStatement, withoutStatement] = [await sides[0].run(op), await sides[1].run(op)];
          assert.deepEqual(withStatement, withoutStatement, `step ${step}: ${JSON.stringify(op)}`);
        }
        assert.deepEqual(await sides[0].stored(), await sides[1].stored());
      }),
      { numRuns: 40, seed: 20261201 },
    );
  });
});
