/** Regenerates the committed openapi.json from the route schemas (a test fails when they drift). */
import fs from 'node:fs';
import { openApiDocument } from '../src/http/openapi-document.js';

fs.writeFileSync('openapi.json', `${JSON.stringify(await openApiDocument(), null, 2)}\n`);
process.stdout.write('openapi.json written\n');
