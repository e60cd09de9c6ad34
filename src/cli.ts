import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import Value from 'typebox/value';
import { SHARED_SCHEMAS } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { CSV_COLUMN_NAMES, countRows, ImportError, importContacts } from './contacts/contact-import.js';
import { connectDatabase } from './db/database.js';
import { runningEmbeddedPostgresUrl, startEmbeddedPostgres } from './db/embedded-postgres.js';
import { type MigrationOutcome, migrateDatabase } from './db/migrate.js';
import { sequenceAllEvents } from './events/event.repository.js';
import { openApiDocument } from './http/openapi-document.js';
import { AppError } from './http/problem.js';
import { SYSTEM_NAME_PATTERN } from './http/schemas.js';
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
  import --org ID FILE [--namespace NS --id-column COLUMN] [--batch-size N] [--failed FILE]
                                                  upsert the contacts of a .csv or .jsonl file
  openapi                                         print the OpenAPI document

import: CSV headers are contact fields (${CSV_COLUMN_NAMES.join(', ')};
list cells split on ";"); JSON Lines rows are upsert bodies. With
--namespace and --id-column rows are keyed by external reference, else matched by email/phone. Failed
rows go to --failed (default FILE.failed.jsonl) with their problems; re-running an import is safe.

Every command prints JSON. The database is DATABASE_URL, else the embedded one in DATA_DIR
(shared with a running server, or started for the command).`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Runs a command on the migrated database; `migrated` says what this start applied. */
async function withDatabase<T>(
  work: (db: ReturnType<typeof connectDatabase>['db'], migrated: MigrationOutcome) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  let url = config.databaseUrl ?? runningEmbeddedPostgresUrl(config.dataDir);
  const embedded = url === null ? await startEmbeddedPostgres({ dataDir: config.dataDir }) : null;
  url ??= (embedded as NonNullable<typeof embedded>).url;
  const database = connectDatabase(url, {
    poolSize: 2,
    applicationName: 'contacts-api-cli',
    poolMode: config.databasePoolMode,
  });
  try {
    // As the server does: over the direct connection when the pool goes through a pooler.
    const migrated = await migrateDatabase(config.databaseDirectUrl ?? url, {
      poolMode: config.databaseDirectUrl === null ? config.databasePoolMode : 'session',
    });
    return await work(database.db, migrated);
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

async function runImport(
  file: string,
  organizationId: string,
  values: { namespace?: string; 'id-column'?: string; 'batch-size'?: string; failed?: string },
): Promise<unknown> {
  const format = file.endsWith('.csv')
    ? 'csv'
    : file.endsWith('.jsonl')
      ? 'jsonl'
      : fail('import: the file must end in .csv or .jsonl');
  if (!fs.existsSync(file)) fail(`import: no file ${file}`);
  const namespace = values.namespace?.toLowerCase() ?? null;
  const idColumn = values['id-column'] ?? null;
  if ((namespace === null) !== (idColumn === null)) fail('import: --namespace and --id-column go together');
  if (namespace !== null && !new RegExp(SYSTEM_NAME_PATTERN).test(namespace))
    fail(`import: --namespace "${namespace}" is not a namespace`);
  const batchSize = Number(values['batch-size'] ?? 500);
  return withDatabase(async (db) => {
    const organization = await organizations.getOrganization(db, organizationId);
    const total = await countRows(file, format);
    // A bar on a terminal; nothing but the final JSON when the output goes to a file or a pipe.
    const bar = process.stderr.isTTY
      ? new SingleBar(
          { format: 'importing [{bar}] {value}/{total} rows | {speed} rows/s | ETA {eta_formatted}', hideCursor: true },
          Presets.shades_classic,
        )
      : null;
    const started = performance.now();
    bar?.start(total, 0, { speed: 0 });
    try {
      const summary = await importContacts(
        db,
        // The rows come from the system the namespace names, as an upsert by reference records them.
        { organizationId, settings: organization.settings, origin: namespace ?? 'import' },
        Object.fromEntries(SHARED_SCHEMAS.map((schema) => [(schema as unknown as { $id: string }).$id, schema])),
        {
          file,
          format,
          namespace,
          idColumn,
          batchSize,
          lanes: 4,
          failedFile: values.failed ?? `${file}.failed.jsonl`,
          onProgress: (done) =>
            bar?.update(done, { speed: Math.round(done / Math.max((performance.now() - started) / 1000, 0.001)) }),
        },
      );
      // The imported rows' events are in the outbox; numbered now, they are in GET /events and the
      // change feeds when this command returns, not only at a server's next background pass.
      await sequenceAllEvents(db);
      return summary;
    } catch (error) {
      if (error instanceof ImportError) fail(`import: ${error.message}`);
      throw error;
    } finally {
      bar?.stop();
    }
  });
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
      namespace: { type: 'string' },
      'id-column': { type: 'string' },
      'batch-size': { type: 'string' },
      failed: { type: 'string' },
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
      return withDatabase(async (_db, migrated) => migrated);
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
      if (positionals[0] === 'import' && positionals.length === 2) {
        return runImport(positionals[1] as string, required('org'), values);
      }
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
