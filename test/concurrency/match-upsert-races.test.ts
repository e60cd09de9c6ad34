/**
 * Email/phone upserts that give a contact a new email or phone must take turns with every other
 * writer of that email or phone, even when the contact they update was found by the other field.
 * Each test holds a row lock from its own connection to open the window between two requests, then
 * waits until the second request is blocked behind the first (or has already finished, which is
 * what a missing lock looks like) before letting them go.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createTestApp, type Response, request, type TestApp } from '../helpers/app.js';
import { newOrganization, type TestOrganization } from '../helpers/factories.js';

const CONTACTS = '/api/v1/network/contacts';

function randomPhone(): string {
  return `+4670${String(1_000_000 + Math.floor(Math.random() * 8_999_999))}`;
}

describe('email/phone upserts racing on one email or phone', () => {
  let t: TestApp;

  before(async () => {
    t = await createTestApp();
  });

  after(() => t.close());

  const organization = () =>
    newOrganization(t.app, {
      settings: { defaultPhoneRegion: 'SE', duplicateContactMatching: { fields: ['email', 'phone'] } },
    });

  async function create(org: TestOrganization, payload: object): Promise<string> {
    const response = await request(t.app, { method: 'POST', url: CONTACTS, headers: org.headers, payload });
    assert.equal(response.statusCode, 201, response.body);
    return response.json().id;
  }

  const upsert = (org: TestOrganization, payload: object) =>
    request(t.app, { method: 'POST', url: `${CONTACTS}/upsert`, headers: org.headers, payload });

  /** Holds row locks on the contacts from a connection of the test's own. */
  async function lockRows(ids: string[]) {
    const client: pg.PoolClient = await t.database.pool.connect();
    await client.query('BEGIN');
    await client.query('SELECT id FROM contacts WHERE id = ANY($1::uuid[]) FOR UPDATE', [ids]);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return {
      pid: (rows[0] as { pid: number }).pid,
      async release() {
        await client.query('COMMIT');
        client.release();
      },
    };
  }

  /**
   * Resolves once `count` sessions wait behind the lock holder: blocked by it directly, or by a
   * session that it blocks. Only this test's sessions qualify, whatever else runs on the server.
   */
  async function queuedBehind(holder: number, count: number): Promise<void> {
    for (let attempt = 0; attempt < 500; attempt += 1) {
      const { rows } = await t.database.pool.query<{ n: number }>(
        `WITH direct AS (SELECT pid FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid)))
         SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE pid IN (SELECT pid FROM direct) OR pg_blocking_pids(pid) && ARRAY(SELECT pid FROM direct)`,
        [holder],
      );
      if ((rows[0]?.n ?? 0) >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`never saw ${count} sessions queued behind the lock holder`);
  }

  /** Sends `first`, then `second` once `first` waits on the lock; releases when both are settled in place. */
  async function race(
    ids: string[],
    first: () => Promise<Response>,
    second: () => Promise<Response>,
  ): Promise<[Response, Response]> {
    const lock = await lockRows(ids);
    try {
      const a = first();
      await queuedBehind(lock.pid, 1);
      const b = second();
      await Promise.race([b, queuedBehind(lock.pid, 2)]);
      await lock.release();
      return await Promise.all([a, b]);
    } catch (error) {
      await lock.release().catch(() => {});
      throw error;
    }
  }

  it('gives a phone to a contact found by email without letting a concurrent upsert of that phone create a duplicate', async () => {
    const org = await organization();
    const email = `one-${randomUUID()}@example.com`;
    const phone = randomPhone();
    const one = await create(org, { firstName: 'One', email });

    const [first, second] = await race(
      [one],
      () => upsert(org, { email, phone, lastName: 'First' }),
      () => upsert(org, { phone, firstName: 'Second' }),
    );
    assert.equal(first.statusCode, 200);
    assert.equal(second.statusCode, 200, 'the phone upsert finds the contact that just got the phone');
    assert.equal(second.json().contact.id, one);
    assert.equal(second.headers['x-upsert-matched-by'], 'phone');
    const { rows } = await t.database.pool.query(
      'SELECT id FROM contacts WHERE organization_id = $1 AND phone = $2 AND deleted_at IS NULL',
      [org.id, phone],
    );
    assert.equal(rows.length, 1);
  });

  it('gives an email to a contact found by phone only after a concurrent upsert that claimed the email', async () => {
    const org = await organization();
    const email = `new-${randomUUID()}@example.com`;
    const [phoneOfOne, phoneOfThree] = [randomPhone(), randomPhone()];
    const one = await create(org, { firstName: 'One', phone: phoneOfOne });
    const three = await create(org, { firstName: 'Three', phone: phoneOfThree });

    // The first request attaches a reference, so it takes the locked path: it holds the email's
    // lock and waits for Three's row.
    const [first, second] = await race(
      [three],
      () => upsert(org, { email, phone: phoneOfThree, externalRefs: [{ namespace: 'crm', id: randomUUID() }] }),
      () => upsert(org, { email, phone: phoneOfOne, lastName: 'Second' }),
    );
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.json().contact.id, three);
    // Run after the first, the second finds the email on Three; One only shares the phone.
    assert.equal(second.statusCode, 200, second.body);
    assert.equal(second.json().contact.id, three);
    assert.equal(second.headers['x-upsert-matched-by'], 'email');
    assert.equal(second.headers['x-upsert-ambiguous-contact'], one);
  });

  it('matches a contact created with the email while the upsert waited, instead of answering 409', async () => {
    const org = await organization();
    const email = `late-${randomUUID()}@example.com`;
    const phone = randomPhone();
    const three = await create(org, { firstName: 'Three', phone });

    // The upsert finds no contact with the email, then waits for Three's row (matched by phone);
    // meanwhile a plain create, which takes no email lock, gives the email to a new contact.
    const [upserted, created] = await race(
      [three],
      () => upsert(org, { email, phone, lastName: 'Upserted' }),
      () =>
        request(t.app, { method: 'POST', url: CONTACTS, headers: org.headers, payload: { firstName: 'New', email } }),
    );
    assert.equal(created.statusCode, 201);
    // As if the create had run first: the upsert finds the new contact by email.
    assert.equal(upserted.statusCode, 200, upserted.body);
    assert.equal(upserted.json().contact.id, created.json().id);
    assert.equal(upserted.headers['x-upsert-matched-by'], 'email');
    assert.equal(upserted.headers['x-upsert-ambiguous-contact'], three);
  });

  it('reports the contact that just got the phone as ambiguous to a second upsert of that phone', async () => {
    const org = await organization();
    const [emailOfOne, emailOfTwo] = [`a-${randomUUID()}@example.com`, `b-${randomUUID()}@example.com`];
    const phone = randomPhone();
    const one = await create(org, { firstName: 'One', email: emailOfOne });
    const two = await create(org, { firstName: 'Two', email: emailOfTwo });

    const [first, second] = await race(
      [one, two],
      () => upsert(org, { email: emailOfOne, phone }),
      () => upsert(org, { email: emailOfTwo, phone }),
    );
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['x-upsert-ambiguous-contact'], undefined);
    assert.equal(second.statusCode, 200);
    assert.equal(second.json().contact.id, two);
    assert.equal(second.headers['x-upsert-ambiguous-contact'], one);
  });
});
