import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  CLIENT_OPERATIONS_FILE,
  CLIENT_TYPES_FILE,
  clientOperationsSource,
  clientTypesSource,
  readOpenApiDocument,
} from '../../scripts/generate-client-types.js';

/** The first line where two texts differ, so a failure names the drift instead of printing 170 kB. */
function firstDifference(committed: string, generated: string): string | null {
  if (committed === generated) return null;
  const left = committed.split('\n');
  const right = generated.split('\n');
  const line = left.findIndex((text, index) => text !== right[index]);
  const at = line === -1 ? left.length : line;
  return `line ${at + 1}: committed ${JSON.stringify(left[at] ?? '<end>')}, generated ${JSON.stringify(right[at] ?? '<end>')}`;
}

describe('the committed client types', () => {
  const document = readOpenApiDocument();

  for (const [file, generate] of [
    [CLIENT_TYPES_FILE, () => clientTypesSource(document)],
    [CLIENT_OPERATIONS_FILE, async () => clientOperationsSource(document)],
  ] as const) {
    it(`${path.basename(file)} matches what openapi.json generates (run \`npm run client:generate\` after \`npm run openapi\`)`, async () => {
      assert.equal(firstDifference(fs.readFileSync(file, 'utf8'), await generate()), null);
    });
  }
});
