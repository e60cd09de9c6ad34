import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ContactList, type ContactsClient, createContactsClient, type EventList } from '../../client/src/index.js';
import { newToken } from '../helpers/factories.js';
import { clientForNewOrganization, type ListeningApp, listeningApp } from './server.js';

async function collect<Page>(pages: AsyncIterable<Page>): Promise<Page[]> {
  const collected: Page[] = [];
  for await (const page of pages) collected.push(page);
  return collected;
}

/**
 * Contacts upserted by reference in namespace `crm` (their events' origin). Not POST: a POST carries
 * an Idempotency-Key, and those writes are not yet numbered when they answer (see the last test).
 */
async function createContacts(client: ContactsClient, names: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const firstName of names) {
    const { data } = await client.PATCH('/api/v1/network/contacts/external/{namespace}/{id}', {
      params: { path: { namespace: 'crm', id: firstName } },
      body: { firstName },
    });
    ids.push(data.id);
  }
  return ids;
}

describe('client iterators over the change feeds and the event log', () => {
  let server: ListeningApp;
  before(async () => {
    server = await listeningApp();
  });
  after(() => server.close());

  it('follows the contact change feed across pages and stops at the end with a cursor to resume from', async () => {
    const { client } = await clientForNewOrganization(server);
    const ids = await createContacts(client, ['A', 'B', 'C', 'D', 'E']);

    const pages: ContactList[] = await collect(client.contacts.changes({ limit: 2 }));
    assert.deepEqual(
      pages.map((page) => page.data.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      pages.map((page) => page.page.hasMore),
      [true, true, false],
    );
    assert.deepEqual(
      pages.flatMap((page) => page.data.map((contact) => contact.id)),
      ids,
    );

    const resumeFrom = pages.at(-1)?.page.nextCursor;
    assert.ok(resumeFrom);
    const [later] = await createContacts(client, ['F']);
    const resumed = await collect(client.contacts.changes({ cursor: resumeFrom, limit: 2 }));
    assert.deepEqual(
      resumed.flatMap((page) => page.data.map((contact) => contact.id)),
      [later],
    );
  });

  it('keeps the filters of the first page on every page (they travel in the cursor)', async () => {
    const { client } = await clientForNewOrganization(server);
    const ids = await createContacts(client, ['Kept', 'Gone', 'Also kept']);
    await client.DELETE('/api/v1/network/contacts/{id}', { params: { path: { id: ids[1] ?? '' } } });

    const live = await collect(client.contacts.changes({ limit: 1 }));
    const everything = await collect(client.contacts.changes({ limit: 1, include_deleted: true }));
    const liveIds = live.flatMap((page) => page.data.map((contact) => contact.id));
    const allIds = everything.flatMap((page) => page.data.map((contact) => contact.id));
    assert.deepEqual(liveIds.sort(), [ids[0], ids[2]].sort());
    assert.deepEqual(allIds.sort(), [...ids].sort());
    assert.ok(everything.length >= 3, `${everything.length} pages`);
  });

  it('searches with documented filters and custom.<key> ones, carried across pages by the cursor', async () => {
    const { client, id } = await clientForNewOrganization(server);
    const settings = await newToken(server.app, id, ['settings.write']);
    const admin = createContactsClient({ baseUrl: server.baseUrl, token: settings });
    await admin.POST('/api/v1/network/contact-fields', {
      body: {
        key: 'segment',
        label: 'Segment',
        type: 'single_select',
        options: [
          { value: 'smb', label: 'SMB' },
          { value: 'enterprise', label: 'Enterprise' },
        ],
      },
    });
    const ids: string[] = [];
    for (const [firstName, segment, tags] of [
      ['Ann', 'smb', ['vip']],
      ['Bo', 'enterprise', ['vip']],
      ['Cy', 'smb', ['vip']],
      ['Di', 'smb', []],
    ] as const) {
      const { data } = await client.PATCH('/api/v1/network/contacts/external/{namespace}/{id}', {
        params: { path: { namespace: 'crm', id: firstName } },
        body: { firstName, tags: [...tags], customFields: { segment } },
      });
      ids.push(data.id);
    }
    const pages = await collect(client.contacts.changes({ limit: 1, tag: ['vip'], 'custom.segment': 'smb' }));
    const found = pages.flatMap((page) => page.data.map((contact) => contact.firstName));
    assert.deepEqual(found, ['Ann', 'Cy']);
    assert.ok(pages.length >= 2, `${pages.length} pages`);
  });

  it('follows the company change feed across pages', async () => {
    const { client } = await clientForNewOrganization(server);
    const ids: string[] = [];
    for (const name of ['Acme', 'Globex', 'Initech']) {
      const { data } = await client.PATCH('/api/v1/network/companies/external/{namespace}/{id}', {
        params: { path: { namespace: 'crm', id: name } },
        body: { name },
      });
      ids.push(data.id);
    }
    const pages = await collect(client.companies.changes({ limit: 2 }));
    assert.equal(pages.length, 2);
    assert.deepEqual(
      pages.flatMap((page) => page.data.map((company) => company.id)),
      ids,
    );
  });

  it('follows the event log by nextAfter with types and exclude_origin on every page, and resumes after the end', async () => {
    const { client } = await clientForNewOrganization(server);
    const own: string[] = [];
    for (const id of ['h1', 'h2']) {
      await client.PATCH('/api/v1/network/contacts/external/{namespace}/{id}', {
        params: { path: { namespace: 'hubspot', id } },
        body: { firstName: `HubSpot ${id}` },
      });
    }
    own.push(...(await createContacts(client, ['Crm one', 'Crm two'])));
    await client.PATCH('/api/v1/network/companies/external/{namespace}/{id}', {
      params: { path: { namespace: 'crm', id: 'c1' } },
      body: { name: 'Not a contact' },
    });

    const pages: EventList[] = await collect(
      client.events({ types: 'contact.*', exclude_origin: ['hubspot'], limit: 1 }),
    );
    const events = pages.flatMap((page) => page.data);
    assert.ok(pages.length >= 2, `${pages.length} pages`);
    assert.ok(pages.every((page) => page.data.length <= 1));
    assert.deepEqual(
      events.map((event) => [event.type, event.origin, event.resourceId]),
      own.map((id) => ['contact.created', 'crm', id]),
    );
    const last = pages.at(-1);
    assert.equal(last?.page.hasMore, false);
    const resumeAfter = last?.page.nextAfter ?? 0;
    assert.ok(resumeAfter >= (events.at(-1)?.seq ?? Number.POSITIVE_INFINITY));

    const [later] = await createContacts(client, ['Crm three']);
    await client.PATCH('/api/v1/network/contacts/external/{namespace}/{id}', {
      params: { path: { namespace: 'hubspot', id: 'h3' } },
      body: { firstName: 'HubSpot h3' },
    });
    const resumed = await collect(
      client.events({ after: resumeAfter, types: 'contact.*', exclude_origin: ['hubspot'], limit: 1 }),
    );
    assert.deepEqual(
      resumed.flatMap((page) => page.data.map((event) => event.resourceId)),
      [later],
    );
  });

  it('yields the one empty page of an empty log, with the position to poll from', async () => {
    const { client } = await clientForNewOrganization(server);
    const pages = await collect(client.events());
    assert.equal(pages.length, 1);
    assert.deepEqual(pages[0]?.data, []);
    assert.equal(pages[0]?.page.hasMore, false);
    assert.equal(typeof pages[0]?.page.nextAfter, 'number');
  });

  it('finds what a POST through the client created in the change feed and the event log as soon as the call returns', async () => {
    const { client } = await clientForNewOrganization(server);
    const { data: contact } = await client.POST('/api/v1/network/contacts', { body: { firstName: 'Posted' } });
    const feed = await collect(client.contacts.changes());
    assert.deepEqual(
      feed.flatMap((page) => page.data.map((listed) => listed.id)),
      [contact.id],
    );
    const events = await collect(client.events({ types: 'contact.*' }));
    assert.deepEqual(
      events.flatMap((page) => page.data.map((event) => [event.type, event.resourceId])),
      [['contact.created', contact.id]],
    );
  });
});
