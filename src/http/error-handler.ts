import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, toProblem } from './problem.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const problem = toProblem(error, { instance: request.url, traceId: String(request.id) });
  if (problem.unexpected) {
    request.log.error({ err: error }, 'request failed unexpectedly');
  } else if (problem.body.status >= 500) {
    request.log.warn({ err: error }, problem.body.detail);
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
