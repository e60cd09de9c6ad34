import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import semver from 'semver';

const ROOT = path.resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

/**
 * `npm ci` warns EBADENGINE for every installed package whose `engines.node` the running Node does
 * not satisfy. The project claims the Node versions of its own `engines`; this checks the lockfile
 * against the lowest of them and against each later major line, so a dependency update that needs a
 * newer Node fails here rather than as a warning on someone's install.
 */
describe('engines', () => {
  const claimed = manifest.engines.node;
  // The lowest claimed release of each major line: a dependency that needs a later minor of a line
  // (@redocly/cli needs 20.19 or 22.12) must be matched by the claim rather than slip under it.
  const versions = [20, 22, 24].flatMap((major) => {
    const minor = Array.from({ length: 50 }, (_, index) => index).find((candidate) =>
      semver.satisfies(`${major}.${candidate}.0`, claimed),
    );
    return minor === undefined ? [] : [`${major}.${minor}.0`];
  });

  it('claims the Node 20, 22 and 24 lines', () => {
    assert.equal(versions.length, 3, claimed);
  });

  for (const version of versions) {
    it(`installs every locked package on Node ${version} without EBADENGINE`, () => {
      const refused: string[] = [];
      for (const [location, entry] of Object.entries(lock.packages)) {
        const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        if (location === '' || range === undefined) continue;
        if (!semver.satisfies(version, range, { includePrerelease: true })) {
          refused.push(`${location}@${entry.version ?? '?'} needs node ${range}`);
        }
      }
      assert.deepEqual(refused, []);
    });
  }
});
