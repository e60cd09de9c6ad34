/**
 * The operator commands as an operator runs them: the CLI in a process of its own, its stdout read as
 * JSON, its exit code checked. Against the test database (DATABASE_URL), or an embedded cluster in a
 * DATA_DIR of the test's own for what concerns DATA_DIR.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../../src/http/openapi-document.js';
import { createTestApp, databaseUrl, request, type TestApp } from '../helpers/app.js';
import { removeDataDir, temporaryDataDir } from '../helpers/process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `src/cli.ts` with `env` over the test's environment minus DATABASE_URL and the runner's own variables. */
function cli(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Run> {
  const { DATABASE_URL: _url, NODE_TEST_CONTEXT: _context, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      // tsx by its resolved URL: a test may run the command from another working directory.
      ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'src/cli.ts'), ...args],
      { cwd, env: { ...inherited, LOG_LEVEL: 'silent', ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The command's stdout, which must be one JSON document and nothing else. */
function json(run: Run): any {
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

// Generous: every command is a process of its own that compiles the sources with tsx first.
describe('cli operator commands', { timeout: 300_000 }, () => {
  const database = () => ({ DATABASE_URL: databaseUrl() });
  let t: TestApp;
  const directories: string[] = [];
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
    for (const dir of directories) await removeDataDir(dir);
  });
  const dataDir = () => {
    const dir = temporaryDataDir();
    directories.push(dir);
    return dir;
  };
  const status = async (secret: string) =>
    (
      await request(t.app, {
        method: 'GET',
        url: '/api/v1/organization/settings',
        headers: { authorization: `Bearer ${secret}` },
      })
    ).statusCode;

  it('organizations list prints a page of JSON and follows its cursor', async () => {
    const prefix = `Cli ${randomUUID().slice(0, 8)} `;
    for (const name of ['beta', 'Alpha', 'gamma']) {
      assert.equal(
        json(await cli(['organizations', 'create', '--name', `${prefix}${name}`], database())).name,
        `${prefix}${name}`,
      );
    }
    const first = json(
      await cli(['organizations', 'list', '--name', prefix.toLowerCase(), '--limit', '2'], database()),
    );
    assert.deepEqual(
      first.data.map((organization: { name: string }) => organization.name),
      [`${prefix}Alpha`, `${prefix}beta`],
    );
    assert.equal(first.page.hasMore, true);
    assert.equal(typeof first.page.nextCursor, 'string');
    const rest = json(await cli(['organizations', 'list', '--cursor', first.page.nextCursor], database()));
    assert.deepEqual(rest, {
      data: [rest.data[0]],
      page: { nextCursor: null, hasMore: false, pageSize: 1 },
    });
    assert.equal(rest.data[0].name, `${prefix}gamma`);
  });

  it('organizations list refuses a bad limit or cursor on stderr, with nothing on stdout', async () => {
    for (const [args, message] of [
      [['--limit', '0'], /--limit/],
      [['--limit', 'ten'], /--limit/],
      [['--cursor', 'not-a-cursor'], /invalid-cursor/],
      // A value that starts with a dash, as a base64url cursor may: read as the value, not an option.
      [['--cursor', '-not-a-cursor'], /invalid-cursor/],
    ] as const) {
      const run = await cli(['organizations', 'list', ...args], database());
      assert.equal(run.code, 1, args.join(' '));
      assert.equal(run.stdout, '');
      assert.match(run.stderr, message);
    }
  });

  it('tokens rotate prints the new secret; the old one works for --grace-seconds', async () => {
    const organization = json(await cli(['organizations', 'create', '--name', 'Rotating'], database()));
    const created = json(await cli(['tokens', 'create', '--org', organization.id], database()));
    const rotated = json(
      await cli(['tokens', 'rotate', organization.id, created.id, '--grace-seconds', '3600'], database()),
    );
    assert.equal(rotated.id, created.id);
    assert.match(rotated.token, /^cst_/);
    assert.equal(Date.parse(rotated.previousSecretExpiresUtc) - Date.parse(rotated.rotatedUtc), 3_600_000);
    assert.equal(await status(created.token), 200);
    assert.equal(await status(rotated.token), 200);

    const again = json(await cli(['tokens', 'rotate', '--org', organization.id, '--token', created.id], database()));
    assert.equal(again.previousSecretExpiresUtc, null);
    assert.equal(await status(created.token), 401);
    assert.equal(await status(rotated.token), 401);
    assert.equal(await status(again.token), 200);
  });

  it('tokens rotate refuses a bad grace or an unknown token with a message and exit code 1', async () => {
    const organization = json(await cli(['organizations', 'create', '--name', 'Refusing'], database()));
    const token = json(await cli(['tokens', 'create', '--org', organization.id], database()));
    for (const [args, message] of [
      [[organization.id, token.id, '--grace-seconds', '604801'], /--grace-seconds/],
      [[organization.id, token.id, '--grace-seconds', 'soon'], /--grace-seconds/],
      [[organization.id, randomUUID()], /not-found/],
      [[organization.id], /tokens rotate/],
      [['--org', organization.id, '--token', 'nope'], /--token must be a UUID/],
    ] as const) {
      const run = await cli(['tokens', 'rotate', ...args], database());
      assert.equal(run.code, 1, args.join(' '));
      assert.equal(run.stdout, '', args.join(' '));
      assert.match(run.stderr, message, args.join(' '));
    }
    assert.equal(await status(token.token), 200);
  });

  it('--out writes the JSON to a file and nothing to stdout; secrets get a file only their owner reads', async () => {
    const dir = dataDir();
    const organizationFile = path.join(dir, 'organization.json');
    const run = await cli(['organizations', 'create', '--name', 'To a file', '--out', organizationFile], database());
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '');
    const organization = JSON.parse(fs.readFileSync(organizationFile, 'utf8'));
    assert.equal(organization.name, 'To a file');

    const tokenFile = path.join(dir, 'token.json');
    assert.equal((await cli(['tokens', 'create', '--org', organization.id, '--out', tokenFile], database())).code, 0);
    assert.match(JSON.parse(fs.readFileSync(tokenFile, 'utf8')).token, /^cst_/);
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);

    // A failed command leaves the file as it was.
    const failed = await cli(['organizations', 'get', '--org', randomUUID(), '--out', organizationFile], database());
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, '');
    assert.equal(JSON.parse(fs.readFileSync(organizationFile, 'utf8')).id, organization.id);
    assert.deepEqual(
      fs.readdirSync(dir).filter((name) => name.endsWith('.tmp')),
      [],
    );
  });

  it('openapi --out writes the served OpenAPI document, without a database', async () => {
    const dir = dataDir();
    const file = path.join(dir, 'openapi.json');
    // No DATABASE_URL and no cluster: openapi needs neither.
    const run = await cli(['openapi', '--out', file], { DATA_DIR: path.join(dir, 'none') });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '');
    const document = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(document.openapi, '3.1.0');
    assert.ok(document.paths['/api/v1/admin/organizations'].get);
    assert.ok(document.paths['/api/v1/admin/organizations/{orgId}/tokens/{tokenId}/rotate'].post);
    assert.deepEqual(document, await openApiDocument());
    assert.ok(!fs.existsSync(path.join(dir, 'none')));
  });

  it('refuses with exit code 2, naming the directory, when DATA_DIR holds no cluster and there is no DATABASE_URL', async () => {
    const dir = dataDir();
    const missing = path.join(dir, 'elsewhere');
    for (const args of [['organizations', 'list'], ['migrate'], ['tokens', 'list', '--org', randomUUID()]]) {
      // DATA_DIR relative, as in a .env file: the message names the directory it resolves to.
      const run = await cli(args, { DATA_DIR: 'elsewhere' }, dir);
      assert.equal(run.code, 2, args.join(' '));
      assert.equal(run.stdout, '');
      assert.ok(run.stderr.includes(missing), run.stderr);
      assert.match(run.stderr, /--init/);
      assert.match(run.stderr, /DATABASE_URL/);
    }
    assert.ok(!fs.existsSync(missing), 'nothing was created');
  });

  it('--init creates the cluster in DATA_DIR, and later commands use it without --init', async () => {
    const dir = dataDir();
    const migrated = json(await cli(['migrate', '--init'], { DATA_DIR: dir }));
    assert.ok(migrated.applied.length > 0);
    assert.ok(fs.existsSync(path.join(dir, 'postgres', 'PG_VERSION')));
    const organization = json(await cli(['organizations', 'create', '--name', 'Embedded'], { DATA_DIR: dir }));
    const listed = json(await cli(['organizations', 'list'], { DATA_DIR: dir }));
    assert.deepEqual(
      listed.data.map((row: { id: string }) => row.id),
      [organization.id],
    );
  });
});
