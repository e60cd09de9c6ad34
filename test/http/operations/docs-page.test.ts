import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { API_TITLE } from '../../../src/http/openapi.js';
import { ADMIN_TOKEN, createTestApp, request, type TestApp } from '../../helpers/app.js';

const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** The attribute values of a tag's attributes in the page, e.g. every `src` of a `<script>`. */
function attributes(html: string, tag: string, attribute: string): string[] {
  return [...html.matchAll(new RegExp(`<${tag}\\b[^>]*\\s${attribute}="([^"]*)"`, 'g'))].map((match) =>
    (match[1] as string)
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  );
}

describe('API reference page at /docs', () => {
  let t: TestApp;
  let page: Awaited<ReturnType<typeof request>>;
  let bundlePath: string;
  before(async () => {
    t = await createTestApp();
    page = await request(t.app, { method: 'GET', url: '/docs' });
    bundlePath = attributes(page.body, 'script', 'src')[0] ?? '';
  });
  after(() => t.close());

  it('answers HTML titled with the product name', () => {
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.match(page.body, new RegExp(`<title>${API_TITLE} reference</title>`));
  });

  it('references no other host, and its Content-Security-Policy allows none', () => {
    assert.doesNotMatch(page.body, /:\/\//, 'no absolute URL anywhere in the page');
    assert.doesNotMatch(page.body, /(src|href)="\/\//, 'no protocol-relative URL');
    const policy = new Map(
      String(page.headers['content-security-policy'])
        .split(';')
        .map((directive) => {
          const [name, ...sources] = directive.trim().split(/\s+/);
          return [name as string, sources];
        }),
    );
    assert.deepEqual(policy.get('default-src'), ["'none'"]);
    assert.deepEqual(policy.get('script-src'), ["'self'"]);
    assert.deepEqual(policy.get('connect-src'), ["'self'"]);
    for (const [directive, sources] of policy) {
      for (const source of sources) {
        assert.match(source, /^('self'|'none'|'unsafe-inline'|data:)$/, `${directive} allows only this server`);
      }
    }
  });

  it('points Scalar at /openapi.json with everything that would call another host turned off', () => {
    const [configuration] = attributes(page.body, 'script', 'data-configuration');
    assert.ok(configuration, 'the page carries a Scalar configuration');
    const parsed = JSON.parse(configuration);
    assert.equal(parsed.url, '/openapi.json');
    assert.equal(parsed.withDefaultFonts, false, 'fonts.scalar.com');
    assert.equal(parsed.telemetry, false);
    assert.equal(parsed.hideClientButton, true, 'client.scalar.com');
    assert.equal(parsed.showDeveloperTools, 'never');
    assert.equal(parsed.agent?.disabled, true, 'api.scalar.com');
    assert.equal(parsed.proxyUrl, undefined, '"Test Request" calls this server directly, not proxy.scalar.com');
  });

  it('serves the Scalar bundle from this server as JavaScript, cacheable for good', async () => {
    assert.match(bundlePath, /^\/docs\/assets\/[\w.-]+\.js$/);
    const bundle = await request(t.app, { method: 'GET', url: bundlePath });
    assert.equal(bundle.statusCode, 200);
    assert.match(String(bundle.headers['content-type']), /^text\/javascript/);
    assert.match(String(bundle.headers['cache-control']), /max-age=31536000.*immutable/);
    assert.match(bundle.body, /@scalar\/api-reference \d+\.\d+\.\d+/);
    const etag = String(bundle.headers.etag);
    const revalidated = await request(t.app, { method: 'GET', url: bundlePath, headers: { 'if-none-match': etag } });
    assert.equal(revalidated.statusCode, 304);
    assert.equal(revalidated.body, '');
  });

  it('gzips the bundle for clients that accept it, and only for them', async () => {
    const plain = await request(t.app, { method: 'GET', url: bundlePath });
    assert.equal(plain.headers['content-encoding'], undefined);
    const refused = await request(t.app, {
      method: 'GET',
      url: bundlePath,
      headers: { 'accept-encoding': 'gzip;q=0, identity' },
    });
    assert.equal(refused.headers['content-encoding'], undefined);
    const gzipped = await request(t.app, {
      method: 'GET',
      url: bundlePath,
      headers: { 'accept-encoding': 'gzip, br' },
    });
    assert.equal(gzipped.headers['content-encoding'], 'gzip');
    assert.match(String(gzipped.headers.vary), /accept-encoding/i);
    assert.ok(gzipped.rawPayload.length < plain.rawPayload.length / 2);
    assert.ok(gunzipSync(gzipped.rawPayload).equals(plain.rawPayload));
  });

  it('answers 404 problem+json for any other asset path', async () => {
    const response = await request(t.app, { method: 'GET', url: '/docs/assets/standalone.js' });
    assert.equal(response.statusCode, 404);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
  });

  it('redirects /docs/ to /docs', async () => {
    const response = await request(t.app, { method: 'GET', url: '/docs/' });
    assert.equal(response.statusCode, 301);
    assert.equal(response.headers.location, '/docs');
  });

  it('keeps the page and its bundle out of the OpenAPI document', async () => {
    const document = (await request(t.app, { method: 'GET', url: '/openapi.json' })).json();
    const documented = Object.keys(document.paths);
    assert.ok(documented.length > 0);
    assert.ok(!documented.some((path) => path.startsWith('/docs')), documented.join(', '));
  });
});

describe('API reference page under rate limiting', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ RATE_LIMIT_PER_MINUTE: '1' });
  });
  after(() => t.close());

  it('is never rate limited, like /openapi.json', async () => {
    const page = await request(t.app, { method: 'GET', url: '/docs' });
    const [bundlePath] = attributes(page.body, 'script', 'src');
    for (const url of ['/docs', bundlePath as string, '/openapi.json', '/docs', bundlePath as string]) {
      const response = await request(t.app, { method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.headers['ratelimit-policy'], undefined, url);
    }
    // Meanwhile the limit is in force: the budget of one is spent by the first request of a limited route.
    const limited = {
      method: 'GET',
      url: `/api/v1/admin/organizations/${randomUUID()}`,
      headers: adminHeaders,
    } as const;
    assert.equal((await request(t.app, limited)).statusCode, 404);
    assert.equal((await request(t.app, limited)).statusCode, 429);
  });
});
