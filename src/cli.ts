import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { SHARED_SCHEMAS } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { lazyCursorSecret } from './contacts/contact.service.js';
import { CSV_COLUMN_NAMES, countRows, ImportError, importContacts } from './contacts/contact-import.js';
import { connectDatabase } from './db/database.js';
import { hasEmbeddedCluster, runningEmbeddedPostgresUrl, startEmbeddedPostgres } from './db/embedded-postgres.js';
import { type MigrationOutcome, migrateDatabase } from './db/migrate.js';
import { sequenceAllEvents } from './events/event.repository.js';
import { openApiDocument } from './http/openapi-document.js';
import { AppError } from './http/problem.js';
import { SYSTEM_NAME_PATTERN } from './http/schemas.js';
import {
  type CreateTokenInput,
  OrganizationListQuery,
  type OrganizationListQueryInput,
  type OrganizationSettingsPatch,
  OrganizationSettingsPatchSchema,
  RotateTokenBody,
  type RotateTokenInput,
  SCOPES,
  type Scope,
} from './organizations/organization.schemas.js';
import * as organizations from './organizations/organization.service.js';

const usage = `Usage: npm run cli -s -- <command> [options]   (or: node dist/cli.js <command> [options])

  migrate                                         apply pending database migrations
  organizations create --name NAME [--settings JSON]
  organizations get --org ID
  organizations list [--name PREFIX] [--limit N] [--cursor CURSOR]
                                                  one page in name order; --cursor the page's nextCursor
  tokens create --org ID [--name NAME] [--scopes a,b] [--expires ISO-8601]
  tokens list --org ID
  tokens revoke --org ID --token ID
  tokens rotate --org ID --token ID [--grace-seconds N]   (or: tokens rotate ORG_ID TOKEN_ID)
                                                  a new secret; the old one works N more seconds (default 0)
  import --org ID FILE [--namespace NS --id-column COLUMN] [--batch-size N] [--failed FILE]
                                                  upsert the contacts of a .csv or .jsonl file
  openapi                                         the OpenAPI document

Every command:
  --out FILE   write the JSON result to FILE instead of stdout (created 0600 when it holds a secret)
  --init       create the embedded PostgreSQL cluster in DATA_DIR if there is none

import: CSV headers are contact fields (${CSV_COLUMN_NAMES.join(', ')};
list cells split on ";") and custom.<key> for a custom field's value; JSON Lines rows are upsert bodies. With
--namespace and --id-column rows are keyed by external reference, else matched by email/phone. Failed
rows go to --failed (default FILE.failed.jsonl) with their problems; re-running an import is safe.

Every command prints JSON on stdout, and nothing else there: errors go to stderr with a non-zero
exit code. \`npm run cli\` prints its own banner on stdout first: add -s or use --out.
The database is DATABASE_URL, else the embedded one in DATA_DIR (default ./data; shared with a
running server, or started for the command). A DATA_DIR without a cluster is refused (exit code 2)
unless --init is given, so a mistyped DATA_DIR does not silently get a new, empty database.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Exit code of a command refused because it would have created a database nobody asked for. */
const EXIT_NO_DATABASE = 2;

function fail(message: string, exitCode = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(exitCode);
}

/**
 * Runs a command on the migrated database; `migrated` says what this start applied. Without
 * DATABASE_URL and without a cluster in DATA_DIR it refuses unless `init`: an operator whose server
 * runs on another DATA_DIR would otherwise get a new, empty database and write to it unawares.
 */
async function withDatabase<T>(
  init: boolean,
  work: (db: ReturnType<typeof connectDatabase>['db'], migrated: MigrationOutcome) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  let url = config.databaseUrl ?? runningEmbeddedPostgresUrl(config.dataDir);
  if (url === null && !init && !hasEmbeddedCluster(config.dataDir)) {
    fail(
      `No database: DATABASE_URL is not set and DATA_DIR ${config.dataDir} holds no PostgreSQL cluster.\n` +
        `If the server runs with another DATA_DIR, set DATA_DIR to that directory (or DATABASE_URL to its database).\n` +
        `To create a new cluster in ${config.dataDir}, run the command again with --init.`,
      EXIT_NO_DATABASE,
    );
  }
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
  values: { namespace?: string; 'id-column'?: string; 'batch-size'?: string; failed?: string; init?: boolean },
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
  return withDatabase(values.init ?? false, async (db) => {
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

/** `--name value` → a whole number, or a failure naming the option. Range checks are the schema's. */
function wholeNumber(option: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(raw)) fail(`--${option} must be a whole number, got "${raw}"`);
  return Number(raw);
}

/** Checks CLI input against the API's own schema, naming options as the command line spells them. */
function checkOptions<T>(schema: TSchema, input: T, names: Record<string, string>): T {
  if (!Value.Check(schema, input)) {
    const problems = [...Value.Errors(schema, input)].map((problem) => {
      const field = problem.instancePath.replace(/^\//, '');
      return `${names[field] ?? (field || 'options')} ${problem.message}`;
    });
    fail(problems.join('; '));
  }
  return input;
}

interface Outcome {
  result: unknown;
  /** The result holds a secret (a token): a file it is written to is readable by its owner only. */
  secret?: boolean;
}

const CLI_OPTIONS = {
  name: { type: 'string' },
  settings: { type: 'string' },
  org: { type: 'string' },
  token: { type: 'string' },
  scopes: { type: 'string' },
  expires: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  'grace-seconds': { type: 'string' },
  namespace: { type: 'string' },
  'id-column': { type: 'string' },
  'batch-size': { type: 'string' },
  failed: { type: 'string' },
  out: { type: 'string' },
  init: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `--option value` as `--option=value` for the options that take a value: parseArgs refuses a
 * separate value that starts with a dash, and cursors (base64url) and names may.
 */
function joinOptionValues(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] as string;
    const option = arg.startsWith('--') ? CLI_OPTIONS[arg.slice(2) as keyof typeof CLI_OPTIONS] : undefined;
    const value = argv[index + 1];
    if (option?.type === 'string' && value !== undefined) {
      joined.push(`${arg}=${value}`);
      index += 1;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

async function main(argv: string[]): Promise<Outcome & { out: string | undefined }> {
  const { positionals, values } = parseArgs({
    args: joinOptionValues(argv),
    allowPositionals: true,
    options: CLI_OPTIONS,
  });
  const rotation = positionals[0] === 'tokens' && positionals[1] === 'rotate';
  const command = rotation ? 'tokens rotate' : positionals.join(' ');
  if (rotation && positionals.length > 2) {
    // `tokens rotate ORG_ID TOKEN_ID`, the short form of --org and --token.
    if (positionals.length !== 4 || values.org !== undefined || values.token !== undefined) {
      fail('tokens rotate: give the ids as --org ID --token ID, or as ORG_ID TOKEN_ID');
    }
    values.org = positionals[2];
    values.token = positionals[3];
  }
  const required = (name: 'name' | 'org' | 'token') => {
    const value = values[name] ?? fail(`${command}: --${name} is required`);
    // Ids are UUIDs; saying so beats passing PostgreSQL's own complaint through.
    if (name !== 'name' && !UUID.test(value)) fail(`${command}: --${name} must be a UUID, got "${value}"`);
    return value;
  };
  const withDb = <T>(work: Parameters<typeof withDatabase<T>>[1]) => withDatabase(values.init, work);
  const outcome = async (): Promise<Outcome> => {
    switch (command) {
      case 'migrate':
        return { result: await withDb(async (_db, migrated) => migrated) };
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
        return {
          result: await withDb((db) =>
            organizations.createOrganization(db, { name, settings: settings as OrganizationSettingsPatch | undefined }),
          ),
        };
      }
      case 'organizations get':
        return { result: await withDb((db) => organizations.getOrganization(db, required('org'))) };
      case 'organizations list': {
        const limit = wholeNumber('limit', values.limit);
        const query = checkOptions<OrganizationListQueryInput>(
          OrganizationListQuery,
          {
            ...(limit === undefined ? {} : { limit }),
            ...(values.cursor === undefined ? {} : { cursor: values.cursor }),
            ...(values.name === undefined ? {} : { name: values.name }),
          },
          { limit: '--limit', cursor: '--cursor', name: '--name' },
        );
        return {
          result: await withDb(async (db) => {
            const page = await organizations.listOrganizations(db, query, lazyCursorSecret(db));
            // The API's shape, so a script reads both alike.
            return {
              data: page.organizations,
              page: { nextCursor: page.nextCursor, hasMore: page.hasMore, pageSize: page.organizations.length },
            };
          }),
        };
      }
      case 'tokens create': {
        const input: CreateTokenInput = {
          name: values.name ?? null,
          expiresUtc: values.expires ?? null,
          ...(values.scopes === undefined ? {} : { scopes: parseScopes(values.scopes) }),
        };
        return {
          result: await withDb((db) => organizations.createApiToken(db, required('org'), input)),
          secret: true,
        };
      }
      case 'tokens list':
        return {
          result: await withDb(async (db) => ({ data: await organizations.listApiTokens(db, required('org')) })),
        };
      case 'tokens revoke':
        return {
          result: await withDb(async (db) => {
            await organizations.revokeApiToken(db, required('org'), required('token'));
            return { revoked: values.token };
          }),
        };
      case 'tokens rotate': {
        const organizationId = required('org');
        const tokenId = required('token');
        const graceSeconds = wholeNumber('grace-seconds', values['grace-seconds']);
        const input = checkOptions<RotateTokenInput>(
          RotateTokenBody,
          graceSeconds === undefined ? {} : { graceSeconds },
          { graceSeconds: '--grace-seconds' },
        );
        return {
          result: await withDb((db) => organizations.rotateApiToken(db, organizationId, tokenId, input)),
          secret: true,
        };
      }
      case 'openapi':
        return { result: await openApiDocument() };
      default:
        if (positionals[0] === 'import' && positionals.length === 2) {
          return { result: await runImport(positionals[1] as string, required('org'), values) };
        }
        if (values.help || command === '') {
          process.stdout.write(`${usage}\n`);
          process.exit(0);
        }
        fail(`Unknown command "${command}".\n\n${usage}`);
    }
  };
  return { ...(await outcome()), out: values.out };
}

/**
 * The result goes to stdout, or with --out to the file alone: through a temporary file renamed into
 * place, so a failure never leaves half a document where the previous one was.
 */
function emit({ result, secret, out }: Outcome & { out: string | undefined }): void {
  const text = `${JSON.stringify(result, null, 2)}\n`;
  if (out === undefined) {
    process.stdout.write(text);
    return;
  }
  const target = path.resolve(out);
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temporary, text, { mode: secret ? 0o600 : 0o644 });
    fs.renameSync(temporary, target);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

main(process.argv.slice(2))
  .then(emit)
  .catch((error: unknown) => {
    if (error instanceof ConfigError) fail(`Invalid configuration: ${error.message}`);
    if (error instanceof AppError) fail(`${error.code}: ${error.detail}`);
    fail(error instanceof Error ? error.message : String(error));
  });
