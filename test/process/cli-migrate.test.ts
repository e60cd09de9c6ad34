import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrations } from '../../src/db/migrations/index.js';
import { databaseUrl } from '../helpers/app.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('cli migrate', { timeout: 120_000 }, () => {
  // A database of its own: the suite's database is migrated before any test runs.
  const name = `cli_migrate_${process.pid}_${Date.now()}`;
  const target = new URL(databaseUrl());
  const admin = new pg.Client({ connectionString: databaseUrl() });

  before(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  });
  after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  async function migrate(): Promise<{ applied: string[] }> {
    const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
    target.pathname = `/${name}`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'migrate'], {
      cwd: ROOT,
      env: { ...env, DATABASE_URL: target.toString(), LOG_LEVEL: 'silent' },
    });
    return JSON.parse(stdout);
  }

  it('prints the migrations it applied, then none on a database that is up to date', async () => {
    assert.deepEqual((await migrate()).applied, Object.keys(migrations).sort());
    assert.deepEqual((await migrate()).applied, []);
  });
});
