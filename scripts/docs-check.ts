/**
 * `npm run docs:check [-- --screenshot FILE]`: renders /docs in headless Chromium (Debian's package,
 * `bash scripts/ci/chromium.sh`; another binary through CHROMIUM_PATH) and fails on any console error,
 * page error, failed request, request to another host, or operation of /openapi.json missing from
 * the page; then sends one request through the page's "Test Request" client, which must reach this
 * server directly. Needs no database: the page and the document are served without one.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { API_TITLE } from '../src/http/openapi.js';
import { documentationApp } from '../src/http/openapi-document.js';

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'];
// Well under CI's minute: a page that renders at all does so in seconds, even on a busy machine.
const DEADLINE_MS = 50_000;
const RENDER_TIMEOUT_MS = 20_000;

interface DocumentedOperation {
  method: string;
  path: string;
  summary: string | null;
}

function fail(message: string): never {
  process.stderr.write(`docs:check failed: ${message}\n`);
  process.exit(1);
}

const { values: options } = parseArgs({ options: { screenshot: { type: 'string' } } });
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  fail(`no Chromium at ${executablePath}: run \`bash scripts/ci/chromium.sh\` or set CHROMIUM_PATH`);
}
setTimeout(() => fail(`did not finish within ${DEADLINE_MS / 1000} s`), DEADLINE_MS).unref();

/** The operations of the served document, as the page should list them. */
function documentedOperations(document: { paths?: Record<string, Record<string, { summary?: string }>> }) {
  return Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]): DocumentedOperation => ({ method, path, summary: operation.summary ?? null })),
  );
}

/**
 * The operations not rendered yet. Scalar gives each operation a section whose id ends in
 * `/tag/<tag>/<METHOD><path>`, titled with its summary.
 */
async function missingOperations(page: Page, operations: DocumentedOperation[]): Promise<DocumentedOperation[]> {
  const rendered = await page
    .locator('section[id*="/tag/"]')
    .evaluateAll((sections) => sections.map((section) => ({ id: section.id, text: section.textContent ?? '' })));
  return operations.filter(
    ({ method, path, summary }) =>
      !rendered.some(
        (section) =>
          section.id.endsWith(`/${method.toUpperCase()}${path}`) &&
          (summary === null || section.text.includes(summary)),
      ),
  );
}

const { app, close } = await documentationApp();
await app.listen({ host: '127.0.0.1', port: 0 });
const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const browser = await chromium.launch({ executablePath, headless: true });

const problems: string[] = [];
const requests: string[] = [];
let requestsElsewhere = 0;
const warnings: string[] = [];
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  // Anything for another host is refused here too, so a regression fails fast instead of reaching out.
  await context.route(
    (url) => url.origin !== origin,
    (route) => route.abort('blockedbyclient'),
  );
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol === 'data:' || url.protocol === 'blob:') return;
    if (url.origin === origin) {
      requests.push(`${request.method()} ${url.pathname}`);
    } else {
      requestsElsewhere += 1;
      problems.push(`request to another host: ${request.method()} ${url.href}`);
    }
  });
  context.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`),
  );
  const page = await context.newPage();
  page.setDefaultTimeout(RENDER_TIMEOUT_MS);
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    if (message.type() === 'warning') {
      // The text of an object argument is "[Object]": its JSON says what the warning is about.
      const text = message.text();
      warnings.push(text);
      void Promise.all(message.args().map((arg) => arg.jsonValue().catch(() => null))).then((values) => {
        const index = warnings.indexOf(text);
        if (index >= 0 && values.some((value) => typeof value === 'object' && value !== null)) {
          warnings[index] = values
            .map((value) => (typeof value === 'string' ? value : JSON.stringify(value)))
            .join(' ');
        }
      });
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`);
  });

  const started = Date.now();
  const served = page.waitForResponse((response) => new URL(response.url()).pathname === '/openapi.json');
  await page.goto(`${origin}/docs`, { waitUntil: 'networkidle' });
  const operations = documentedOperations(await (await served).json());
  if (operations.length === 0) problems.push('/openapi.json lists no operation');
  const title = await page.title();
  if (!title.includes(API_TITLE)) problems.push(`the page's title is "${title}", without "${API_TITLE}"`);

  // Scalar renders sections progressively: poll, scrolling a screen at a time, until all are there.
  let missing = operations;
  const renderDeadline = Date.now() + RENDER_TIMEOUT_MS;
  while (Date.now() < renderDeadline) {
    missing = await missingOperations(page, operations);
    if (missing.length === 0) break;
    await page.mouse.wheel(0, 900);
    await page.waitForTimeout(200);
  }
  for (const { method, path } of missing) problems.push(`${method.toUpperCase()} ${path} is not on the page`);
  const renderedMs = Date.now() - started;

  if (options.screenshot !== undefined) {
    // Back to the top, the sidebar too (it follows the scrolled-to section).
    await page.locator('*').evaluateAll((elements) => {
      for (const element of elements) if (element.scrollTop > 0) element.scrollTop = 0;
    });
    await page.screenshot({ path: options.screenshot });
  }

  // "Test Request" on GET /problems (public, needs no database): the request goes to this server.
  const tryIt = page.locator('section[id$="/GET/problems"]');
  await tryIt.scrollIntoViewIfNeeded();
  await tryIt
    .getByRole('button', { name: /test request/i })
    .first()
    .click();
  const sent = page.waitForResponse((response) => response.url().startsWith(`${origin}/problems`));
  await page.getByRole('dialog', { name: 'API Client' }).getByRole('button', { name: /^send/i }).first().click();
  const tryItStatus = (await sent).status();
  if (tryItStatus !== 200) problems.push(`"Test Request" for GET /problems answered ${tryItStatus}`);

  const found = operations.length - missing.length;
  process.stdout.write(
    [
      `title:       ${title}`,
      `operations:  ${found}/${operations.length} on the page (rendered in ${renderedMs} ms)`,
      `try it:      GET ${origin}/problems from the page answered ${tryItStatus}`,
      `requests:    ${requests.length} to ${origin} (${[...new Set(requests)].join(', ')}), ${requestsElsewhere} elsewhere`,
      `console:     ${problems.filter((problem) => problem.startsWith('console error')).length} errors, ${warnings.length} warnings`,
      // Shown, not failed on: a renderer's advice is not a broken page, but it should be seen.
      ...warnings.map((warning) => `  warning:   ${warning.slice(0, 400)}`),
      ...(options.screenshot === undefined ? [] : [`screenshot:  ${options.screenshot}`]),
      '',
    ].join('\n'),
  );
} catch (error) {
  problems.push(`the check could not run: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await browser.close();
  await close();
}

if (problems.length > 0) fail(`\n  ${problems.join('\n  ')}`);
process.stdout.write('docs:check passed\n');
