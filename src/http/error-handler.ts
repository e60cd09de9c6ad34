import { randomUUID } from 'node:crypto';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ProblemCode, problemRegistry, problemType, toProblem } from './problem.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * A body refused for its size is still arriving. Answering at once and closing makes a client that is
 * still sending (Node's fetch, most HTTP libraries) fail with EPIPE or a reset and never see the 413;
 * so the rest is read and thrown away first, up to a cap, and the connection is closed afterwards.
 */
const DRAIN_CAP_BYTES = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 10_000;

function drainRequestBody(raw: IncomingMessage): Promise<void> {
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let received = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', finish);
      raw.off('error', finish);
      raw.off('close', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > DRAIN_CAP_BYTES) finish();
    };
    const timer = setTimeout(finish, DRAIN_TIMEOUT_MS);
    raw.on('data', onData);
    raw.once('end', finish);
    raw.once('error', finish);
    raw.once('close', finish);
    raw.resume();
  });
}

async function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const problem = toProblem(error, { instance: request.url, traceId: String(request.id) });
  if (problem.unexpected) {
    request.log.error({ err: error }, 'request failed unexpectedly');
  } else if (problem.body.status >= 500) {
    request.log.warn({ err: error }, problem.body.detail);
  }
  if (problem.body.status === 413 && !request.raw.complete) {
    await drainRequestBody(request.raw);
    reply.header('connection', 'close');
  }
  return reply.code(problem.body.status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body);
}

/** Every error, the framework's included, leaves as application/problem+json through this one door. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      new AppError('route-not-found', `No operation ${request.method} ${request.url.split('?')[0]}.`),
      request,
      reply,
    ),
  );
}

/**
 * For Fastify's `frameworkErrors` option. A malformed URL (`/%zz`) or an over-long path parameter fails
 * before routing, skipping the error handler and the onRequest hooks; without this it leaves as Fastify's
 * own application/json body.
 */
export function handleFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  void sendProblem(error, request, reply);
}

/** Errors Node's HTTP parser raises before a request exists, by their code. */
const CLIENT_ERROR_PROBLEMS: Record<string, [ProblemCode, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: ['request-timeout', 'The request was not received completely in time.'],
  HPE_HEADER_OVERFLOW: ['headers-too-large', 'The request line and headers are larger than this server accepts.'],
};

/**
 * For Fastify's `clientErrorHandler` option: requests Node's parser refuses (a timeout, oversized
 * headers, malformed HTTP) never reach Fastify's error handler. They are answered as problem+json
 * here, written straight to the socket because there is no request object, and the socket is closed
 * since the rest of its bytes cannot be trusted.
 */
export function handleClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, detail] = (
    error.code !== undefined && Object.hasOwn(CLIENT_ERROR_PROBLEMS, error.code)
      ? CLIENT_ERROR_PROBLEMS[error.code]
      : ['malformed-request', 'The request is not valid HTTP/1.1.']
  ) as [ProblemCode, string];
  const { status, title } = problemRegistry[code];
  const traceId = randomUUID();
  const body = JSON.stringify({ type: problemType(code), title, status, detail, instance: '', traceId });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${traceId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
