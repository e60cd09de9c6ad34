import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { openApiDocument } from '../../src/http/openapi-document.js';

describe('the committed openapi.json', () => {
  it('matches the document generated from the route schemas (run `npm run openapi` after changing a route)', async () => {
    const committed = JSON.parse(fs.readFileSync('openapi.json', 'utf8'));
    const generated = JSON.parse(JSON.stringify(await openApiDocument()));
    assert.deepEqual(committed, generated);
  });
});
