import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type Response, type TestApp } from '../../helpers/app.js';
import { COMPANIES, client, listUntil, newCompany } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('companies: tenant isolation', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  /** The parts of a 404 that must not tell "another organization's" from "missing". */
  const shape = (response: Response, id: string) => ({
    status: response.statusCode,
    contentType: response.headers['content-type'],
    type: response.json().type,
    title: response.json().title,
    detail: String(response.json().detail).replace(id, '{id}'),
    keys: Object.keys(response.json()).sort(),
  });

  it("answers another organization's company exactly like a missing one, and leaves it untouched", async () => {
    const owner = client(t.app, await newOrganization(t.app));
    const intruder = client(t.app, await newOrganization(t.app));
    const theirs = await newCompany(owner, { name: 'Theirs' });
    const missingId = randomUUID();
    const operations = [
      (id: string) => intruder.get(`${COMPANIES}/${id}`),
      (id: string) => intruder.patch(`${COMPANIES}/${id}`, { name: 'Stolen' }),
      (id: string) => intruder.patch(`${COMPANIES}/${id}`, { name: 'Stolen' }, { 'if-match': theirs.etag }),
      (id: string) => intruder.delete(`${COMPANIES}/${id}`),
    ];
    for (const operation of operations) {
      const foreign = await operation(theirs.id);
      const missing = await operation(missingId);
      assert.equal(foreign.statusCode, 404);
      assert.deepEqual(shape(foreign, theirs.id), shape(missing, missingId));
    }
    assert.deepEqual((await owner.get(theirs.uri)).json(), theirs);
  });

  it("lists only the organization's own companies", async () => {
    const owner = client(t.app, await newOrganization(t.app));
    const other = client(t.app, await newOrganization(t.app));
    const mine = await newCompany(owner, { name: 'Mine' });
    await newCompany(other, { name: 'Not mine' });
    const listed = await listUntil(owner, `${COMPANIES}?include_deleted=true`, (body) => body.data.length >= 1);
    assert.deepEqual(
      listed.data.map((company: { id: string }) => company.id),
      [mine.id],
    );
  });

  it('lets two organizations use the same external reference', async () => {
    const a = client(t.app, await newOrganization(t.app));
    const b = client(t.app, await newOrganization(t.app));
    await newCompany(a, { externalRefs: [{ namespace: 'crm', id: 'shared' }] });
    const response = await b.post(COMPANIES, { name: 'B', externalRefs: [{ namespace: 'crm', id: 'shared' }] });
    assert.equal(response.statusCode, 201);
  });
});
