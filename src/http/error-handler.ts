import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
