import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestApp, databaseUrl, type TestApp } from '../helpers/app.js';
import { CONTACTS, client, type Json, refPath } from '../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../helpers/factories.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      env: { ...env, DATABASE_URL: databaseUrl(), LOG_LEVEL: 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('cli import', { timeout: 120_000 }, () => {
  let test: TestApp;
  let org: TestOrganization;
  let api: ReturnType<typeof client>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'contacts-import-'));

  before(async () => {
    test = await createTestApp();
    org = await newOrganization(test.app);
    api = client(test.app, org);
  });
  after(async () => {
    await test.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('upserts a CSV keyed by external reference, reports failed rows, and changes nothing when run again', async () => {
    const file = path.join(dir, 'contacts.csv');
    const lines = ['id,firstName,lastName,email,phone,tags,emails'];
    for (let i = 0; i < 1_200; i += 1) lines.push(`h${i},First${i},Last${i},p${i}@import.test,,vip;lead,`);
    lines.push('h-bad,Bad,Row,not-an-email,,,');
    lines.push('h-multi,"Doe, Jane",,,+46701234567,,a@import.test;b@import.test');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);

    const first = await cli('import', '--org', org.id, file, '--namespace', 'HubSpot', '--id-column', 'id');
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.deepEqual(report.summary, { total: 1_202, created: 1_201, updated: 0, revived: 0, unchanged: 0, failed: 1 });
    const failed = fs
      .readFileSync(`${file}.failed.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(failed.length, 1);
    assert.equal(failed[0].line, 1_202);
    assert.equal(failed[0].status, 400);
    assert.deepEqual(Object.keys(failed[0].problem.errors), ['data.email']);

    const contact = (await api.get(refPath('hubspot', 'h7'))).json();
    assert.equal(contact.email, 'p7@import.test');
    assert.deepEqual(contact.tags, ['vip', 'lead']);
    const multi = (await api.get(refPath('hubspot', 'h-multi'))).json();
    assert.equal(multi.firstName, 'Doe, Jane');
    assert.equal(multi.phone, '+46701234567');
    assert.deepEqual(
      multi.emails.map((entry: Json) => entry.address),
      ['a@import.test', 'b@import.test'],
    );

    const again = await cli('import', '--org', org.id, file, '--namespace', 'hubspot', '--id-column', 'id');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).summary, {
      total: 1_202,
      created: 0,
      updated: 0,
      revived: 0,
      unchanged: 1_201,
      failed: 1,
    });
  });

  it('upserts JSON Lines by email without a key column', async () => {
    const file = path.join(dir, 'people.jsonl');
    fs.writeFileSync(
      file,
      [
        JSON.stringify({ firstName: 'Ann', email: 'ann@jsonl.test' }),
        JSON.stringify({ email: 'ANN@jsonl.test', lastName: 'Later' }),
        'not json',
        JSON.stringify({ firstName: 'Unknown', shoeSize: 42 }),
      ].join('\n'),
    );
    // An organization of its own, so its few contacts fit on one page of the feed.
    const own = await newOrganization(test.app);
    const result = await cli('import', '--org', own.id, file);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).summary, {
      total: 4,
      created: 1,
      updated: 1,
      revived: 0,
      unchanged: 0,
      failed: 2,
    });
    const list = (await client(test.app, own).get(`${CONTACTS}?limit=500`)).json();
    const ann = list.data.find((contact: Json) => contact.email?.toLowerCase() === 'ann@jsonl.test');
    assert.equal(ann?.lastName, 'Later');
  });

  it('reads companyName and custom.<key> columns, checking each value against its custom field', async () => {
    const settings = await newOrganization(test.app, { scopes: ['contacts.read', 'contacts.write', 'settings.write'] });
    const admin = client(test.app, settings);
    for (const definition of [
      { key: 'budget', label: 'Budget', type: 'number' },
      { key: 'investor', label: 'Investor', type: 'boolean' },
    ]) {
      assert.equal((await admin.post('/api/v1/network/contact-fields', definition)).statusCode, 201);
    }
    const file = path.join(dir, 'custom.csv');
    fs.writeFileSync(
      file,
      'id,firstName,companyName,custom.budget,custom.investor\nc1,Ann,Acme AB,125000,true\nc2,Bo,acme ab,,false\nc3,Cy,,lots,\n',
    );
    const result = await cli('import', '--org', settings.id, file, '--namespace', 'crm', '--id-column', 'id');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).summary, {
      total: 3,
      created: 2,
      updated: 0,
      revived: 0,
      unchanged: 0,
      failed: 1,
    });
    const ann = (await admin.get(refPath('crm', 'c1'))).json();
    const bo = (await admin.get(refPath('crm', 'c2'))).json();
    assert.deepEqual(ann.customFields, { budget: 125000, investor: true });
    assert.deepEqual(bo.customFields, { investor: false }, 'an empty cell sets nothing');
    // Rows of different keys are written side by side (lanes), so either spelling may create it.
    assert.ok(['Acme AB', 'acme ab'].includes(ann.companyName), ann.companyName);
    assert.equal(bo.primaryCompanyId, ann.primaryCompanyId, 'one company of that name');
    const [failed] = fs
      .readFileSync(`${file}.failed.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.ok(Object.keys(failed.problem.errors).includes('data.customFields.budget'), JSON.stringify(failed));
  });

  it('refuses a CSV column that is not a contact field, naming it, before writing anything', async () => {
    const file = path.join(dir, 'bad-header.csv');
    fs.writeFileSync(file, 'id,firstName,shoeSize\nx1,A,42\n');
    const result = await cli('import', '--org', org.id, file, '--namespace', 'hubspot', '--id-column', 'id');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unknown column "shoeSize"/);
    assert.equal((await api.get(refPath('hubspot', 'x1'))).statusCode, 404);
  });
});
