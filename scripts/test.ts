/**
 * `npm test`: runs every test file with node's test runner against one PostgreSQL. With DATABASE_URL
 * set, that server; otherwise an embedded PostgreSQL in a temporary folder, started once here and
 * shared by all files (each test makes its own organization, so files can run side by side).
 * Extra arguments narrow the run to those files. DATABASE_POOL_MODE and DATABASE_DIRECT_URL pass
 * through to the tests, which then reach PostgreSQL through a pooler as the server would.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDatabase } from '../src/db/database.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrateToLatest } from '../src/db/migrate.js';

function testFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

const requested = process.argv.slice(2);
const files =
  requested.length > 0
    ? requested.flatMap((target) => (fs.statSync(target).isDirectory() ? testFiles(target) : [target]))
    : testFiles('test');

let embedded: EmbeddedPostgres | null = null;
let tempDir: string | null = null;
let url = process.env.DATABASE_URL;
if (!url) {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'contacts-api-test-'));
  embedded = await startEmbeddedPostgres({ dataDir: tempDir, ephemeral: true });
  url = embedded.url;
  process.stdout.write(`# database: embedded PostgreSQL in ${tempDir}\n`);
} else {
  process.stdout.write(`# database: DATABASE_URL (${new URL(url).host}${new URL(url).pathname})\n`);
}

// Migrate once up front so test files do not queue on the migration lock. Behind a pooler, over the
// direct connection, as the server does.
const database = connectDatabase((embedded === null && process.env.DATABASE_DIRECT_URL) || url, { poolSize: 1 });
await migrateToLatest(database.db);
await database.close();

const exitCode = await new Promise<number>((resolve) => {
  const child = spawn(
    process.execPath,
    // Two files at a time on two cores: the database does the rest of the work.
    ['--import', 'tsx', '--test', '--test-concurrency=2', ...files],
    { stdio: 'inherit', env: { ...process.env, DATABASE_URL: url } },
  );
  child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
});

await embedded?.stop();
if (tempDir !== null) fs.rmSync(tempDir, { recursive: true, force: true });
process.exit(exitCode);
