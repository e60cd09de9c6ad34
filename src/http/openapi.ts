import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { registerDocsPage } from './docs-page.js';
import { sharedExamples } from './schemas.js';

export const API_TITLE = 'Contacts Sync API';
/** The document's version is the package's: one number to bump, and clients can tell releases apart. */
export const API_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const description = `
Contacts, companies and their connections for CRM synchronization. Integrations push records by
external reference (e.g. \`hubspot/12345\`) and can retry safely: upserts are idempotent, concurrent
requests never create duplicates, and \`If-Match\` protects against lost updates.

**Authentication.** Send an organization API token as \`Authorization: Bearer cst_…\`. Tokens carry
scopes (\`contacts.read\`, \`contacts.write\`, \`companies.read\`, \`companies.write\`, and
\`settings.write\` to change the organization's settings and custom contact fields). The admin API uses the operator's
\`ADMIN_TOKEN\` instead.

**Errors** are RFC 9457 \`application/problem+json\` documents; \`type\` identifies the problem (see
\`GET /problems\`) and \`traceId\` matches the \`X-Request-Id\` response header.

**Rate limits** apply per token as a token bucket: up to the budget at once, refilled continuously.
Responses carry \`RateLimit-Policy\` and \`RateLimit\` (IETF draft-ietf-httpapi-ratelimit-headers); a
429 carries \`Retry-After\`, the seconds until the next request fits.
`.trim();

/**
 * Registers the OpenAPI generator (fed by the same TypeBox schemas that validate requests) and the
 * reference page at /docs (docs-page.ts: Scalar, its assets served by this server).
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: API_TITLE,
        version: API_VERSION,
        description,
        // The package is private and declares no open-source license: SPDX's form for a license of one's own.
        license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
      },
      // Relative: the document describes whichever host serves it (local, staging, production).
      servers: [{ url: '/' }],
      tags: [
        { name: 'Contacts', description: 'People in your network and how to sync them.' },
        { name: 'Companies', description: 'Companies that contacts connect to.' },
        {
          name: 'Custom fields',
          description: "Your organization's typed custom contact fields: contacts hold their values under their keys.",
        },
        {
          name: 'Events',
          description: 'Every committed change, in commit order: what a two-way sync follows instead of polling lists.',
        },
        {
          name: 'Webhooks',
          description: 'Events pushed to your endpoint, signed as Standard Webhooks, retried for about three days.',
        },
        { name: 'Organization', description: "Your organization's settings, with an organization token." },
        { name: 'Admin', description: 'Operator API: organizations and their API tokens. Needs ADMIN_TOKEN.' },
        { name: 'Operations', description: 'Health, readiness and problem types.' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An organization API token (`cst_…`).' },
          adminToken: { type: 'http', scheme: 'bearer', description: "The operator's ADMIN_TOKEN." },
        },
        // Filled as the routes declare them; read when the document is generated, after every route.
        examples: sharedExamples,
      },
    },
    // Name shared schemas by their $id instead of def-0, def-1…
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => String(json.$id ?? `def-${index}`) },
  });
  await registerDocsPage(app);
  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger());
}
