import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { etagMatches, parseEntityTags } from './etag.js';

/**
 * Scalar (@scalar/api-reference) is pinned at 1.46.4, its last release whose `engines` accept Node 20
 * (1.47 declares Node ≥ 22), so the page renders on every Node line the project supports.
 */
const SCALAR_BUNDLE = '@scalar/api-reference/browser/standalone.js';

/**
 * What the page tells Scalar. Everything that would reach another host is off: the default fonts
 * (fonts.scalar.com), telemetry, the "Open in client" button (client.scalar.com), the AI agent
 * (api.scalar.com) and the developer tools it shows on localhost. No proxyUrl: "Test Request" calls
 * this server directly, which serves the document and the API from one origin.
 */
const SCALAR_CONFIGURATION = {
  url: '/openapi.json',
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: true,
  showDeveloperTools: 'never',
  agent: { disabled: true },
  documentDownloadType: 'json',
  // Every tag open: the whole reference is in the page, for the browser's find and for anchors.
  defaultOpenAllTags: true,
};

/**
 * Only this server. Styles need 'unsafe-inline' because Scalar injects its stylesheet and sets style
 * attributes at run time; scripts do not, as the page has no inline script.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  path: string;
  etag: string;
  body: Buffer;
  gzipped: Promise<Buffer> | null;
}

let scalarBundle: Asset | null = null;

/** The bundle, read once per process; its path carries its content hash, so it can be cached for good. */
function loadScalarBundle(): Asset {
  if (scalarBundle === null) {
    const body = readFileSync(createRequire(import.meta.url).resolve(SCALAR_BUNDLE));
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
    scalarBundle = { path: `/docs/assets/scalar-api-reference.${hash}.js`, etag: `"${hash}"`, body, gzipped: null };
  }
  return scalarBundle;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function docsPage(bundlePath: string, productName: string): string {
  const title = escapeHtml(`${productName} reference`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
</head>
<body>
<script id="api-reference" data-configuration="${escapeHtml(JSON.stringify(SCALAR_CONFIGURATION))}"></script>
<script src="${bundlePath}"></script>
</body>
</html>
`;
}

/** Whether Accept-Encoding admits gzip: `gzip` or `*`, unless with `q=0`. */
function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((entry) => {
    const [coding, ...parameters] = entry.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const quality = parameters.map((parameter) => /^\s*q=([\d.]+)\s*$/.exec(parameter)?.[1]).find(Boolean);
    return quality === undefined || Number(quality) > 0;
  });
}

/**
 * The API reference at /docs: Scalar rendering /openapi.json, its bundle served by this server
 * (no CDN), under a Content-Security-Policy that lets the page reach nothing but this server.
 */
export async function registerDocsPage(app: FastifyInstance): Promise<void> {
  const bundle = loadScalarBundle();
  // Built on first request, once the document exists: the page takes the product's name from its title.
  let page: string | null = null;
  const routeOptions = { schema: { hide: true }, config: { rateLimit: false as const } };

  app.get('/docs', routeOptions, async (_request, reply) => {
    reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      // The page names the bundle by its hash; revalidating it keeps an upgrade from pointing at a stale one.
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8');
    page ??= docsPage(bundle.path, app.swagger().info.title);
    return page;
  });
  app.get('/docs/', routeOptions, async (_request, reply) => reply.redirect('/docs', 301));

  app.get(bundle.path, routeOptions, async (request, reply) => {
    reply
      .header('etag', bundle.etag)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding')
      .type('text/javascript; charset=utf-8');
    const ifNoneMatch = request.headers['if-none-match'];
    const tags = ifNoneMatch === undefined ? null : parseEntityTags(ifNoneMatch);
    if (tags !== null && etagMatches(tags, bundle.etag)) return reply.code(304).send();
    if (!acceptsGzip(request.headers['accept-encoding'])) return bundle.body;
    // Compressed on first use (3.5 MB → 1 MB), off the event loop, then kept.
    bundle.gzipped ??= promisify(gzip)(bundle.body);
    reply.header('content-encoding', 'gzip');
    return bundle.gzipped;
  });
}
