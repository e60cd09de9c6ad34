import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createTestApp, request, type TestApp } from '../helpers/app.js';
import { client, newCompany, newContact } from '../helpers/contacts.js';
import { adminHeaders, newOrganization, type TestOrganization } from '../helpers/factories.js';
import {
  type FuzzTarget,
  fuzzTargets,
  type HostileRequest,
  hostileBodyRequest,
  hostileQueryRequest,
  INTERNAL_TEXT,
} from '../helpers/hostile.js';

// Sized for CI (both engines): every route gets this many generated requests; scripts/resilience.ts
// sends thousands per route to a real server.
const RUNS_PER_ROUTE = 60;
const SEED = 20261201;

describe('fuzz: every route that takes a body or a query answers malformed requests with a 4xx problem', () => {
  let test: TestApp;
  let org: TestOrganization;
  let targets: FuzzTarget[];

  before(async () => {
    test = await createTestApp();
    org = await newOrganization(test.app, {
      scopes: [
        'contacts.read',
        'contacts.write',
        'companies.read',
        'companies.write',
        'settings.write',
        'webhooks.read',
        'webhooks.write',
      ],
    });
    const api = client(test.app, org);
    const contact = await newContact(api, { email: 'fuzz@example.com' });
    const company = await newCompany(api);
    const webhook = await api.post('/api/v1/webhooks', { url: 'http://127.0.0.1:9/fuzz', events: ['*'] });
    assert.equal(webhook.statusCode, 201, webhook.body);
    const field = await api.post('/api/v1/network/contact-fields', {
      key: 'fuzz_tier',
      label: 'Tier',
      type: 'single_select',
      options: [{ value: 'gold', label: 'Gold' }],
    });
    assert.equal(field.statusCode, 201, field.body);
    const token = await request(test.app, {
      method: 'POST',
      url: `/api/v1/admin/organizations/${org.id}/tokens`,
      headers: { ...adminHeaders, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'fuzz rotation' }),
    });
    assert.equal(token.statusCode, 201, token.body);
    targets = fuzzTargets(test.app.swagger() as never, {
      tokenId: token.json().id,
      contactId: contact.id,
      companyId: company.id,
      webhookId: webhook.json().id,
      organizationId: org.id,
      contactFieldKey: field.json().key,
    });
  });
  after(() => test.close());

  it('covers every operation with a request body or query parameters', () => {
    const names = targets.map((target) => target.name);
    for (const expected of [
      'POST /api/v1/network/contacts',
      'GET /api/v1/network/contacts',
      'PATCH /api/v1/network/contacts/{id}',
      'PATCH /api/v1/network/contacts/external/{namespace}/{id}',
      'POST /api/v1/network/contacts/upsert',
      'POST /api/v1/network/companies',
      'GET /api/v1/network/companies',
      'PATCH /api/v1/network/companies/{id}',
      'POST /api/v1/network/contacts/batch',
      'POST /api/v1/network/companies/batch',
      'PATCH /api/v1/network/companies/external/{namespace}/{id}',
      'PATCH /api/v1/organization/settings',
      'POST /api/v1/admin/organizations',
      'PATCH /api/v1/admin/organizations/{orgId}',
      'POST /api/v1/admin/organizations/{orgId}/tokens',
      'GET /api/v1/admin/organizations',
      'POST /api/v1/admin/organizations/{orgId}/tokens/{tokenId}/rotate',
      'GET /api/v1/network/events',
      'POST /api/v1/webhooks',
      'PATCH /api/v1/webhooks/{id}',
      'GET /api/v1/webhooks/{id}/deliveries',
      'POST /api/v1/webhooks/{id}/replay',
      'POST /api/v1/network/contact-fields',
      'PATCH /api/v1/network/contact-fields/{key}',
    ]) {
      assert.ok(names.includes(expected), `${expected} is fuzzed`);
    }
  });

  it('answers each generated request with a 4xx application/problem+json and nothing internal', async () => {
    for (const target of targets) {
      const headers = target.path.startsWith('/api/v1/admin') ? adminHeaders : org.headers;
      const requests: fc.Arbitrary<HostileRequest> =
        target.method === 'GET' ? hostileQueryRequest(target, headers) : hostileBodyRequest(target, headers);
      await fc.assert(
        fc.asyncProperty(requests, async (hostile) => {
          const { defect: _defect, ...options } = hostile;
          const response = await request(test.app, options);
          const context = `${target.name} with ${hostile.defect}: ${response.statusCode} ${response.body.slice(0, 300)}`;
          assert.ok(response.statusCode >= 400 && response.statusCode < 500, context);
          assert.match(String(response.headers['content-type']), /^application\/problem\+json/, context);
          const problem = response.json();
          for (const member of ['type', 'title', 'status', 'detail']) assert.ok(member in problem, context);
          assert.equal(problem.status, response.statusCode, context);
          assert.doesNotMatch(response.body, INTERNAL_TEXT, context);
        }),
        { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
      );
    }
  });
});
