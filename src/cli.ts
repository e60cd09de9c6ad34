import { parseArgs } from 'node:util';
import Value from 'typebox/value';
import { ConfigError, loadConfig } from './config.js';
import { connectDatabase } from './db/database.js';
import { runningEmbeddedPostgresUrl, startEmbeddedPostgres } from './db/embedded-postgres.js';
import { migrateToLatest } from './db/migrate.js';
import { openApiDocument } from './http/openapi-document.js';
import { AppError } from './http/problem.js';
import {
  type CreateTokenInput,
  type OrganizationSettingsPatch,
  OrganizationSettingsPatchSchema,
  SCOPES,
  type Scope,
} from './organizations/organization.schemas.js';
import * as organizations from './organizations/organization.service.js';

const usage = `Usage: npm run cli -- <command> [options]   (or: node dist/cli.js <command>)

  migrate                                         apply pending database migrations
  organizations create --name NAME [--settings JSON]
  organizations get --org ID
  tokens create --org ID [--name NAME] [--scopes a,b] [--expires ISO-8601]
  tokens list --org ID
  tokens revoke --org ID --token ID
  openapi                                         print the OpenAPI document

Every command prints JSON. The database is DATABASE_URL, else the embedded one in DATA_DIR
(shared with a running server, or started for the command).`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function withDatabase<T>(work: (db: ReturnType<typeof connectDatabase>['db']) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let url = config.databaseUrl ?? runningEmbeddedPostgresUrl(config.dataDir);
  const embedded = url === null ? await startEmbeddedPostgres({ dataDir: config.dataDir }) : null;
  url ??= (embedded as NonNullable<typeof embedded>).url;
  const database = connectDatabase(url, { poolSize: 2, applicationName: 'contacts-api-cli' });
  try {
    await migrateToLatest(database.db);
    return await work(database.db);
  } finally {
    await database.close();
    await embedded?.stop();
  }
}

function parseScopes(raw: string | undefined): Scope[] | undefined {
  if (raw === undefined) return undefined;
  const scopes = raw.split(',').map((scope) => scope.trim());
  for (const scope of scopes) {
    if (!(SCOPES as readonly string[]).includes(scope)) fail(`unknown scope "${scope}"; known: ${SCOPES.join(', ')}`);
  }
  return scopes as Scope[];
}

async function main(argv: string[]): Promise<unknown> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      settings: { type: 'string' },
      org: { type: 'string' },
      token: { type: 'string' },
      scopes: { type: 'string' },
      expires: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals.join(' ');
  const required = (name: 'name' | 'org' | 'token') => {
    const value = values[name] ?? fail(`${command}: --${name} is required`);
    // Ids are UUIDs; saying so beats passing PostgreSQL's own complaint through.
    if (name !== 'name' && !UUID.test(value)) fail(`${command}: --${name} must be a UUID, got "${value}"`);
    return value;
  };
  switch (command) {
    case 'migrate':
      return withDatabase(migrateToLatest);
    case 'organizations create': {
      const name = required('name');
      let settings: unknown;
      try {
        settings = values.settings === undefined ? undefined : JSON.parse(values.settings);
      } catch {
        fail('--settings must be a JSON object');
      }
      if (settings !== undefined && !Value.Check(OrganizationSettingsPatchSchema, settings)) {
        const problems = [...Value.Errors(OrganizationSettingsPatchSchema, settings)];
        fail(`--settings: ${problems.map((p) => `${p.instancePath || '/'} ${p.message}`).join('; ')}`);
      }
      return withDatabase((db) =>
        organizations.createOrganization(db, { name, settings: settings as OrganizationSettingsPatch | undefined }),
      );
    }
    case 'organizations get':
      return withDatabase((db) => organizations.getOrganization(db, required('org')));
    case 'tokens create': {
      const input: CreateTokenInput = {
        name: values.name ?? null,
        expiresUtc: values.expires ?? null,
        ...(values.scopes === undefined ? {} : { scopes: parseScopes(values.scopes) }),
      };
      return withDatabase((db) => organizations.createApiToken(db, required('org'), input));
    }
    case 'tokens list':
      return withDatabase(async (db) => ({ data: await organizations.listApiTokens(db, required('org')) }));
    case 'tokens revoke':
      return withDatabase(async (db) => {
        await organizations.revokeApiToken(db, required('org'), required('token'));
        return { revoked: values.token };
      });
    case 'openapi':
      return openApiDocument();
    default:
      process.stdout.write(`${usage}\n`);
      process.exit(values.help || command === '' ? 0 : 1);
  }
}

main(process.argv.slice(2))
  .then((result) => {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  })
  .catch((error: unknown) => {
    if (error instanceof ConfigError) fail(`Invalid configuration: ${error.message}`);
    if (error instanceof AppError) fail(`${error.code}: ${error.detail}`);
    fail(error instanceof Error ? error.message : String(error));
  });
