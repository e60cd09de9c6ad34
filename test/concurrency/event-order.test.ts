import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createTestApp, databaseUrl, type TestApp } from '../helpers/app.js';
import { type Client, COMPANIES, CONTACTS, client, type Json, newContact } from '../helpers/contacts.js';
import { newOrganization } from '../helpers/factories.js';

const EVENTS = '/api/v1/network/events';

describe('event order and visibility', () => {
  // Two apps with pools and sequencers of their own: two server processes on one database.
  let one: TestApp;
  let two: TestApp;
  before(async () => {
    one = await createTestApp();
    two = await createTestApp();
  });
  after(async () => {
    await one.close();
    await two.close();
  });

  it('gives a reader following after every event exactly once, in seq order, while writers race in two processes', async () => {
    const org = await newOrganization(one.app);
    const apis: [Client, Client] = [client(one.app, org), client(two.app, org)];
    const WRITERS = 8;
    const WRITES = 15;
    let writing = true;

    // The reader polls as fast as it can, only ever asking for events after the last one it saw.
    const seen: Json[] = [];
    const reader = (async () => {
      let afterSeq = 0;
      for (;;) {
        const stillWriting = writing;
        const response = await apis[0].get(`${EVENTS}?after=${afterSeq}&limit=500`);
        assert.equal(response.statusCode, 200, response.body);
        const page = response.json();
        for (const event of page.data) {
          assert.ok(event.seq > afterSeq, `event ${event.seq} appeared after the reader had seen ${afterSeq}`);
          afterSeq = event.seq;
          seen.push(event);
        }
        if (!stillWriting && !page.page.hasMore) return;
      }
    })();

    await Promise.all(
      Array.from({ length: WRITERS }, async (_, writer) => {
        const api = apis[writer % 2] as Client;
        const contact = await newContact(api, { firstName: `w${writer}-0` });
        for (let i = 1; i < WRITES; i += 1) {
          const response = await api.patch(`${CONTACTS}/${contact.id}`, { firstName: `w${writer}-${i}` });
          assert.equal(response.statusCode, 200, response.body);
        }
        // A company write shares the organization's numbering.
        assert.equal((await api.post(COMPANIES, { name: `Writer ${writer} AB` })).statusCode, 201);
      }),
    );
    writing = false;
    await reader;

    assert.equal(seen.length, WRITERS * (WRITES + 1), 'every write appended one event and the reader saw it');
    const log = (await apis[1].get(`${EVENTS}?limit=500`)).json().data;
    assert.deepEqual(
      seen.map((event) => event.id),
      log.map((event: Json) => event.id),
      'the reader saw the log as it finally is',
    );
    // Each contact's events in the order its writes happened.
    for (let writer = 0; writer < WRITERS; writer += 1) {
      const names = seen
        .filter((event) => event.type.startsWith('contact.') && event.data.firstName.startsWith(`w${writer}-`))
        .map((event) => Number(event.data.firstName.split('-')[1]));
      assert.deepEqual(
        names,
        Array.from({ length: WRITES }, (_, i) => i),
      );
    }
  });

  it('shows a committed write in the event log and the change feeds at once while another session holds a transaction open', async () => {
    const org = await newOrganization(one.app);
    const api = client(one.app, org);
    // Another application's long transaction with an xid: it used to hold back every tenant's feed.
    const other = new pg.Client({ connectionString: databaseUrl() });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()');
      const contact = await newContact(api, { firstName: 'Visible' });
      const company = (await api.post(COMPANIES, { name: 'Visible AB' })).json();

      const started = Date.now();
      const events = (await api.get(EVENTS)).json().data;
      assert.deepEqual(
        events.map((event: Json) => event.resourceId),
        [contact.id, company.id],
      );
      const contacts = (await api.get(CONTACTS)).json().data;
      assert.deepEqual(
        contacts.map((row: Json) => row.id),
        [contact.id],
      );
      const companies = (await two.app.inject({ method: 'GET', url: COMPANIES, headers: org.headers })).json().data;
      assert.deepEqual(
        companies.map((row: Json) => row.id),
        [company.id],
      );
      assert.ok(Date.now() - started < 1_000);
    } finally {
      await other.query('ROLLBACK');
      await other.end();
    }
  });

  it('numbers events written behind the server (another process that died before numbering) within a second', async () => {
    const org = await newOrganization(one.app);
    const api = client(one.app, org);
    // The row lands in the outbox as any write's would; no request of this app waits for it.
    await one.database.db
      .insertInto('contacts')
      .values({
        organization_id: org.id,
        first_name: 'Behind',
        tags: [],
        email_keys: [],
        custom_fields: '{}',
        blocked: false,
        dnd: false,
        version: 1,
        change_type: 'created',
        change_origin: 'sql',
      })
      .execute();
    const deadline = Date.now() + 1_000;
    let events: Json[] = [];
    while (Date.now() < deadline && events.length === 0) {
      events = (await api.get(EVENTS)).json().data;
      if (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(
      events.map((event) => [event.type, event.origin, event.data.firstName]),
      [['contact.created', 'sql', 'Behind']],
    );
  });
});
