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
  const lowest = semver.minVersion(claimed)?.version as string;
  const versions = [lowest, '22.0.0', '24.0.0'].filter((version) => semver.satisfies(version, claimed));

  it('claims Node 20 and later lines', () => {
    assert.ok(semver.satisfies('20.18.0', claimed), claimed);
    assert.deepEqual(versions.length, 3);
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
