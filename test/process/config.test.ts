import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { killServers, startServer, temporaryDataDir } from '../helpers/process.js';

describe('server process with a bad configuration', { timeout: 30_000 }, () => {
  const dataDir = temporaryDataDir();
  after(async () => {
    await killServers();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits 1 with one line on stderr naming the variable, before touching the database', async () => {
    const server = startServer({ PORT: 'abc', DATA_DIR: dataDir });
    const { code } = await server.exited();
    assert.equal(code, 1);
    const lines = server
      .stderr()
      .split('\n')
      .filter((line) => line !== '');
    assert.equal(lines.length, 1, server.stderr());
    assert.match(lines[0] as string, /\bPORT\b/);
    assert.match(lines[0] as string, /abc/);
    assert.equal(server.stdout(), '');
    assert.deepEqual(fs.readdirSync(dataDir), []);
  });
});
