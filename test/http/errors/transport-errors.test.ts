import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { handleClientError } from '../../../src/http/error-handler.js';
import { createTestApp, type TestApp } from '../../helpers/app.js';
import { CONTACTS } from '../../helpers/contacts.js';
import { newOrganization, type TestOrganization } from '../../helpers/factories.js';

/** Sends raw bytes and reads the whole answer until the server closes the connection. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('error', (error) => (answer === '' ? reject(error) : resolve(answer)));
    socket.on('close', () => resolve(answer));
    socket.write(bytes);
  });
}

function parse(answer: string): { status: number; headers: string; body: Record<string, unknown> } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) };
}

describe('errors below the routes: oversized bodies, headers and malformed HTTP on a listening server', () => {
  const BODY_LIMIT = 64 * 1024;
  let test: TestApp;
  let org: TestOrganization;
  let base: string;
  let port: number;

  before(async () => {
    test = await createTestApp({ BODY_LIMIT: String(BODY_LIMIT) });
    org = await newOrganization(test.app);
    base = await test.app.listen({ port: 0, host: '127.0.0.1' });
    port = Number(new URL(base).port);
  });
  after(() => test.close());

  it("lets Node's fetch receive the 413 for a streamed body over the limit", async () => {
    const chunk = new Uint8Array(256 * 1024).fill(0x20);
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 40; i += 1) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await fetch(`${base}${CONTACTS}`, {
      method: 'POST',
      headers: { ...org.headers, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(((await response.json()) as { type: string }).type, '/problems/payload-too-large');
  });

  it("lets Node's fetch receive the 413 for a body whose Content-Length is over the limit", async () => {
    const response = await fetch(`${base}${CONTACTS}`, {
      method: 'POST',
      headers: { ...org.headers, 'content-type': 'application/json' },
      body: new Uint8Array(4 * 1024 * 1024).fill(0x20),
    });
    assert.equal(response.status, 413);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  });

  it('answers headers over the size limit with a 431 problem', async () => {
    const answer = parse(
      await rawExchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    );
    assert.equal(answer.status, 431);
    assert.match(answer.headers, /content-type: application\/problem\+json/);
    assert.equal(answer.body.type, '/problems/headers-too-large');
    assert.equal(answer.body.status, 431);
  });

  it('answers malformed HTTP with a 400 problem', async () => {
    const answer = parse(await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n'));
    assert.equal(answer.status, 400);
    assert.match(answer.headers, /content-type: application\/problem\+json/);
    assert.equal(answer.body.type, '/problems/malformed-request');
  });

  it('answers a NUL byte in a header value with a 400 problem', async () => {
    const answer = parse(await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n'));
    assert.equal(answer.status, 400);
    assert.equal(answer.body.type, '/problems/malformed-request');
  });
});

describe('handleClientError', () => {
  it('answers a request timeout with a 408 problem and closes the socket', () => {
    let written = '';
    let destroyed = false;
    const socket = {
      destroyed: false,
      writable: true,
      write(text: string) {
        written += text;
        return true;
      },
      destroy() {
        destroyed = true;
      },
    } as unknown as net.Socket;
    handleClientError(Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    const answer = parse(written);
    assert.equal(answer.status, 408);
    assert.match(answer.headers, /content-type: application\/problem\+json/);
    assert.equal(answer.body.type, '/problems/request-timeout');
    assert.ok(destroyed);
  });
});
