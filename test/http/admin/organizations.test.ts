import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, request, type TestApp } from '../../helpers/app.js';
import { adminHeaders, newOrganization } from '../../helpers/factories.js';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DEFAULT_SETTINGS = {
  defaultPhoneRegion: null,
  duplicateContactMatching: { fields: ['email', 'phone'] },
  requireIfMatch: false,
};

describe('admin organizations', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  const create = (payload: unknown) =>
    request(t.app, {
      method: 'POST',
      url: '/api/v1/admin/organizations',
      headers: adminHeaders,
      payload: payload as object,
    });
  const get = (id: string) =>
    request(t.app, { method: 'GET', url: `/api/v1/admin/organizations/${id}`, headers: adminHeaders });
  const patch = (id: string, payload: unknown) =>
    request(t.app, {
      method: 'PATCH',
      url: `/api/v1/admin/organizations/${id}`,
      headers: adminHeaders,
      payload: payload as object,
    });
  /** Moves updated_at into the past, so a change made in the same millisecond as the creation still shows. */
  const backdate = (id: string) =>
    t.database.db
      .updateTable('organizations')
      .set({ updated_at: sql<Date>`'2000-01-01T00:00:00Z'::timestamptz` })
      .where('id', '=', id)
      .execute();

  describe('POST /api/v1/admin/organizations', () => {
    it('answers 201 with the organization and the default settings', async () => {
      const response = await create({ name: 'Acme' });
      assert.equal(response.statusCode, 201);
      const body = response.json();
      assert.deepEqual(Object.keys(body).sort(), ['createdUtc', 'id', 'name', 'settings', 'updatedUtc']);
      assert.match(body.id, /^[0-9a-f-]{36}$/);
      assert.equal(body.name, 'Acme');
      assert.deepEqual(body.settings, DEFAULT_SETTINGS);
      assert.match(body.createdUtc, ISO_UTC);
      assert.equal(body.updatedUtc, body.createdUtc);
      assert.equal(response.headers.location, `/api/v1/admin/organizations/${body.id}`);
    });

    it('stores the given settings, upper-casing the phone region', async () => {
      const response = await create({
        name: 'Nordics',
        settings: { defaultPhoneRegion: 'se', duplicateContactMatching: { fields: ['phone'] }, requireIfMatch: true },
      });
      assert.equal(response.statusCode, 201);
      assert.deepEqual(response.json().settings, {
        defaultPhoneRegion: 'SE',
        duplicateContactMatching: { fields: ['phone'] },
        requireIfMatch: true,
      });
      assert.deepEqual((await get(response.json().id)).json().settings, response.json().settings);
    });

    it('fills in the settings that are left out', async () => {
      const response = await create({ name: 'Partial', settings: { requireIfMatch: true } });
      assert.deepEqual(response.json().settings, { ...DEFAULT_SETTINGS, requireIfMatch: true });
    });

    it('keeps the order of the matching fields and accepts an empty list', async () => {
      const reversed = await create({
        name: 'Reversed',
        settings: { duplicateContactMatching: { fields: ['phone', 'email'] } },
      });
      assert.deepEqual(reversed.json().settings.duplicateContactMatching, { fields: ['phone', 'email'] });
      const none = await create({ name: 'Never match', settings: { duplicateContactMatching: { fields: [] } } });
      assert.equal(none.statusCode, 201);
      assert.deepEqual(none.json().settings.duplicateContactMatching, { fields: [] });
    });

    it('answers 400 naming settings.defaultPhoneRegion for an unknown region', async () => {
      const response = await create({ name: 'Nowhere', settings: { defaultPhoneRegion: 'ZZ' } });
      assert.equal(response.statusCode, 400);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().type, '/problems/validation-failed');
      assert.deepEqual(Object.keys(response.json().errors), ['settings.defaultPhoneRegion']);
    });

    it('answers 400 for a region that is not two letters', async () => {
      const response = await create({ name: 'Nowhere', settings: { defaultPhoneRegion: 'SWE' } });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(Object.keys(response.json().errors), ['settings.defaultPhoneRegion']);
    });

    it('answers 400 for unknown, repeated or missing matching fields', async () => {
      for (const duplicateContactMatching of [
        { fields: ['name'] },
        { fields: ['email', 'email'] },
        {},
        { fields: ['email'], fuzzy: true },
      ]) {
        const response = await create({ name: 'Bad matching', settings: { duplicateContactMatching } });
        assert.equal(response.statusCode, 400, JSON.stringify(duplicateContactMatching));
        assert.ok(
          Object.keys(response.json().errors).every((field) => field.startsWith('settings.duplicateContactMatching')),
          JSON.stringify(response.json().errors),
        );
      }
    });

    it('answers 400 listing every failing field at once', async () => {
      const response = await create({
        name: '',
        settings: { requireIfMatch: 'yes', defaultPhoneRegion: 7, colour: 'red' },
        plan: 'gold',
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(Object.keys(response.json().errors).sort(), [
        'name',
        'plan',
        'settings.colour',
        'settings.defaultPhoneRegion',
        'settings.requireIfMatch',
      ]);
    });

    it('answers 400 instead of storing a number as the name', async () => {
      const response = await create({ name: 123 });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json().errors, { name: ['must be string'] });
    });

    it('answers 400 when the name is missing', async () => {
      const response = await create({});
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json().errors, { name: ['is required'] });
    });
  });

  describe('GET /api/v1/admin/organizations/{orgId}', () => {
    it('answers 200 with the organization as it was created', async () => {
      const created = (await create({ name: 'Readable' })).json();
      const response = await get(created.id);
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), created);
    });

    it('answers 404 problem+json for an organization that does not exist', async () => {
      const response = await get(randomUUID());
      assert.equal(response.statusCode, 404);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().type, '/problems/not-found');
    });

    it('answers 400 naming orgId when it is not a UUID', async () => {
      const response = await get('not-a-uuid');
      assert.equal(response.statusCode, 400);
      assert.deepEqual(Object.keys(response.json().errors), ['orgId']);
    });
  });

  describe('PATCH /api/v1/admin/organizations/{orgId}', () => {
    it('renames the organization and moves updatedUtc', async () => {
      const created = (await create({ name: 'Before' })).json();
      await backdate(created.id);
      const response = await patch(created.id, { name: 'After' });
      assert.equal(response.statusCode, 200);
      const body = response.json();
      assert.equal(body.name, 'After');
      assert.deepEqual(body.settings, DEFAULT_SETTINGS);
      assert.equal(body.createdUtc, created.createdUtc);
      assert.notEqual(body.updatedUtc, '2000-01-01T00:00:00.000Z');
      assert.deepEqual((await get(created.id)).json(), body);
    });

    it('changes only the settings present', async () => {
      const created = (
        await create({ name: 'Settings', settings: { defaultPhoneRegion: 'DE', requireIfMatch: true } })
      ).json();
      const response = await patch(created.id, { settings: { duplicateContactMatching: { fields: ['email'] } } });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json().settings, {
        defaultPhoneRegion: 'DE',
        duplicateContactMatching: { fields: ['email'] },
        requireIfMatch: true,
      });
      assert.equal(response.json().name, 'Settings');
    });

    it('clears the phone region with null', async () => {
      const created = (await create({ name: 'Clear', settings: { defaultPhoneRegion: 'FR' } })).json();
      const response = await patch(created.id, { settings: { defaultPhoneRegion: null } });
      assert.equal(response.json().settings.defaultPhoneRegion, null);
    });

    it('leaves updatedUtc unchanged when the patch changes nothing', async () => {
      const created = (await create({ name: 'Stable', settings: { defaultPhoneRegion: 'SE' } })).json();
      await backdate(created.id);
      for (const payload of [
        {},
        { name: 'Stable' },
        { settings: { defaultPhoneRegion: 'se', requireIfMatch: false } },
        { name: 'Stable', settings: { duplicateContactMatching: { fields: ['email', 'phone'] } } },
      ]) {
        const response = await patch(created.id, payload);
        assert.equal(response.statusCode, 200, JSON.stringify(payload));
        assert.equal(response.json().updatedUtc, '2000-01-01T00:00:00.000Z', JSON.stringify(payload));
      }
    });

    it('answers 400 naming settings.defaultPhoneRegion for an unknown region and changes nothing', async () => {
      const created = (await create({ name: 'Unchanged', settings: { defaultPhoneRegion: 'NO' } })).json();
      const response = await patch(created.id, { name: 'Renamed', settings: { defaultPhoneRegion: 'xx' } });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(Object.keys(response.json().errors), ['settings.defaultPhoneRegion']);
      assert.deepEqual((await get(created.id)).json(), created);
    });

    it('answers 400 for unknown fields and a null name', async () => {
      const created = (await create({ name: 'Strict' })).json();
      const response = await patch(created.id, { name: null, id: randomUUID() });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(Object.keys(response.json().errors).sort(), ['id', 'name']);
    });

    it('answers 404 for an organization that does not exist', async () => {
      const response = await patch(randomUUID(), { name: 'Ghost' });
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().type, '/problems/not-found');
    });
  });

  describe('authentication', () => {
    it('answers 401 with WWW-Authenticate without a token, with a wrong one and with an organization token', async () => {
      const organization = await newOrganization(t.app);
      const attempts: Array<Record<string, string>> = [
        {},
        { authorization: 'Bearer not-the-admin-token' },
        { authorization: `Basic ${Buffer.from(`admin:${adminHeaders.authorization.slice(7)}`).toString('base64')}` },
        organization.headers,
      ];
      for (const headers of attempts) {
        const response = await request(t.app, {
          method: 'GET',
          url: `/api/v1/admin/organizations/${organization.id}`,
          headers,
        });
        assert.equal(response.statusCode, 401, JSON.stringify(headers));
        assert.match(String(response.headers['www-authenticate']), /^Bearer /);
        assert.equal(response.json().type, '/problems/unauthorized');
      }
    });

    it('checks the token before validating the body', async () => {
      const response = await request(t.app, {
        method: 'POST',
        url: '/api/v1/admin/organizations',
        payload: { name: 123 },
      });
      assert.equal(response.statusCode, 401);
    });
  });
});

describe('admin API without ADMIN_TOKEN', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ ADMIN_TOKEN: '' });
  });
  after(() => t.close());

  it('answers 404 problem+json on every admin route, whatever the token', async () => {
    for (const [method, url] of [
      ['POST', '/api/v1/admin/organizations'],
      ['GET', '/api/v1/admin/organizations'],
      ['GET', `/api/v1/admin/organizations/${randomUUID()}`],
      ['PATCH', `/api/v1/admin/organizations/${randomUUID()}`],
      ['POST', `/api/v1/admin/organizations/${randomUUID()}/tokens`],
      ['GET', `/api/v1/admin/organizations/${randomUUID()}/tokens`],
      ['DELETE', `/api/v1/admin/organizations/${randomUUID()}/tokens/${randomUUID()}`],
      ['POST', `/api/v1/admin/organizations/${randomUUID()}/tokens/${randomUUID()}/rotate`],
    ] as const) {
      const response = await request(t.app, {
        method,
        url,
        headers: adminHeaders,
        ...(method === 'POST' || method === 'PATCH' ? { payload: { name: 'x' } } : {}),
      });
      assert.equal(response.statusCode, 404, `${method} ${url}`);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().type, '/problems/route-not-found');
    }
  });
});
