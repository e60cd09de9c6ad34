import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openApiDocument } from '../../src/http/openapi-document.js';

const run = promisify(execFile);

/**
 * Lints the document as the server serves it with the Redocly CLI that CI runs (`npm run lint:openapi`
 * lints the committed copy). The CLI, not @redocly/openapi-core's Node API: the CLI bundles its own,
 * newer core, and the openapi-core in node_modules (an older major, there for openapi-typescript)
 * lacks some of the recommended rules.
 */
async function lint(document: unknown): Promise<{ totals: Record<string, number>; problems: any[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-lint-'));
  try {
    const file = path.join(dir, 'openapi.json');
    fs.writeFileSync(file, JSON.stringify(document));
    const { stdout } = await run(
      process.execPath,
      ['node_modules/@redocly/cli/bin/cli.js', 'lint', file, '--config', 'redocly.yaml', '--format', 'json'],
      {
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        maxBuffer: 64 * 1024 * 1024,
      },
    ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    return JSON.parse(stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('the OpenAPI document under Redocly', () => {
  it('extends the recommended rules and switches none off', () => {
    const config = fs.readFileSync('redocly.yaml', 'utf8');
    assert.match(config, /^extends:\s*\n\s*- recommended\s*$/m);
    assert.doesNotMatch(config, /^\s*rules:/m);
  });

  it('has no error and no warning', async () => {
    const { totals, problems } = await lint(await openApiDocument());
    const described = problems.map(
      (problem) => `${problem.severity} ${problem.ruleId} ${problem.location?.[0]?.pointer}: ${problem.message}`,
    );
    assert.deepEqual(described, []);
    assert.deepEqual({ errors: totals.errors, warnings: totals.warnings }, { errors: 0, warnings: 0 });
  });

  it('reports what it finds (a document without servers and security fails)', async () => {
    const document = JSON.parse(JSON.stringify(await openApiDocument()));
    delete document.servers;
    delete document.paths['/healthz'].get.security;
    const { problems } = await lint(document);
    const rules = new Set(problems.map((problem) => problem.ruleId));
    assert.ok(rules.has('no-empty-servers'), [...rules].join(', '));
    assert.ok(rules.has('security-defined'), [...rules].join(', '));
  });
});
