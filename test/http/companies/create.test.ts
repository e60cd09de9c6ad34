import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { type Client, COMPANIES, COMPANY_FIELDS, client, newCompany } from '../../helpers/contacts.js';
import { newOrganization } from '../../helpers/factories.js';

describe('POST /companies', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const newApi = async (): Promise<Client> => client(t.app, await newOrganization(t.app));

  const countCompanies = async (orgId: string) => {
    const row = await t.database.db
      .selectFrom('companies')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('organization_id', '=', orgId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  it('answers 201 with Location, ETag and exactly the documented fields', async () => {
    const api = await newApi();
    const response = await api.post(COMPANIES, {
      name: 'Acme AB',
      website: 'https://acme.example',
      externalRefs: [{ namespace: 'HubSpot', id: 'C-1' }],
    });
    assert.equal(response.statusCode, 201);
    const company = response.json();
    assert.deepEqual(Object.keys(company).sort(), COMPANY_FIELDS);
    assert.equal(company.uri, `${COMPANIES}/${company.id}`);
    assert.equal(response.headers.location, company.uri);
    assert.equal(response.headers.etag, company.etag);
    assert.match(company.etag, /^W\/".+"$/);
    assert.equal(company.name, 'Acme AB');
    assert.equal(company.website, 'https://acme.example');
    assert.deepEqual(company.externalRefs, [{ namespace: 'hubspot', id: 'C-1' }]);
    assert.match(company.createdUtc, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.equal(company.updatedUtc, company.createdUtc);
    assert.equal(company.deletedUtc, null);
    assert.deepEqual((await api.get(company.uri)).json(), company);
  });

  it('shows absent values as null and []', async () => {
    const api = await newApi();
    const company = await newCompany(api, { name: 'Bare' });
    assert.equal(company.website, null);
    assert.deepEqual(company.externalRefs, []);
  });

  it('answers 400 with per-field errors and stores nothing', async () => {
    const org = await newOrganization(t.app);
    const api = client(t.app, org);
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: 'x'.repeat(256) }, 'name'],
      [{ name: 42 }, 'name'],
      [{ name: 'A', website: 'acme.example' }, 'website'],
      [{ name: 'A', website: 'ftp://acme.example' }, 'website'],
      [{ name: 'A', website: `https://a.example/${'p'.repeat(500)}` }, 'website'],
      [{ name: 'A', industry: 'x' }, 'industry'],
      [{ name: 'A', externalRefs: [{ namespace: 'n'.repeat(51), id: '1' }] }, 'externalRefs[0].namespace'],
      [
        {
          name: 'A',
          externalRefs: [
            { namespace: 'crm', id: '1' },
            { namespace: 'CRM', id: '1' },
          ],
        },
        'externalRefs[1]',
      ],
      [
        { name: 'A', externalRefs: Array.from({ length: 51 }, (_, i) => ({ namespace: 'crm', id: `${i}` })) },
        'externalRefs',
      ],
    ];
    for (const [body, field] of cases) {
      const response = await api.post(COMPANIES, body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(response.json().type, '/problems/validation-failed');
      assert.deepEqual(Object.keys(response.json().errors), [field], JSON.stringify(body));
    }
    assert.equal(await countCompanies(org.id), 0);
  });

  it('answers 409 when an external reference belongs to another company, live or deleted', async () => {
    const api = await newApi();
    const owner = await newCompany(api, { externalRefs: [{ namespace: 'crm', id: 'c1' }] });
    const response = await api.post(COMPANIES, { name: 'Copy', externalRefs: [{ namespace: 'CRM', id: 'c1' }] });
    assert.equal(response.statusCode, 409);
    assert.equal(response.json().type, '/problems/conflict');
    assert.equal(response.json().conflictField, 'externalRefs[0]');
    assert.equal(response.json().conflictingCompanyId, owner.id);
    assert.equal((await api.delete(owner.uri)).statusCode, 204);
    assert.equal(
      (await api.post(COMPANIES, { name: 'Again', externalRefs: [{ namespace: 'crm', id: 'c1' }] })).statusCode,
      409,
    );
    const caseSensitive = await api.post(COMPANIES, { name: 'Other', externalRefs: [{ namespace: 'crm', id: 'C1' }] });
    assert.equal(caseSensitive.statusCode, 201);
  });

  it('answers 403 to a token without companies.write', async () => {
    const org = await newOrganization(t.app, { scopes: ['companies.read', 'contacts.write'] });
    const response = await client(t.app, org).post(COMPANIES, { name: 'No' });
    assert.equal(response.statusCode, 403);
    assert.equal(await countCompanies(org.id), 0);
  });
});
