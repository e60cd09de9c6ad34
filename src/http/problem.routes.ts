import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, type ProblemCode, problemRegistry, problemType } from './problem.js';
import { problemResponses } from './schemas.js';

const ProblemTypeSchema = Type.Object(
  {
    type: Type.String(),
    code: Type.String(),
    status: Type.Integer(),
    title: Type.String(),
    description: Type.String(),
  },
  { additionalProperties: false },
);

function describe(code: ProblemCode) {
  const { status, title, description } = problemRegistry[code];
  return { type: problemType(code), code, status, title, description };
}

/** The `type` URI of every problem resolves here, to a description of that problem. */
export const problemTypeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/problems',
    {
      config: { rateLimit: false },
      schema: {
        operationId: 'problems.list',
        summary: 'Every problem type the API answers with',
        tags: ['Operations'],
        response: { 200: Type.Object({ data: Type.Array(ProblemTypeSchema) }, { additionalProperties: false }) },
      },
    },
    async () => ({ data: (Object.keys(problemRegistry) as ProblemCode[]).map(describe) }),
  );

  app.get(
    '/problems/:code',
    {
      config: { rateLimit: false },
      schema: {
        operationId: 'problems.get',
        summary: 'One problem type',
        tags: ['Operations'],
        params: Type.Object({ code: Type.String() }, { additionalProperties: false }),
        response: { 200: ProblemTypeSchema, ...problemResponses('not-found') },
      },
    },
    async (request) => {
      const code = request.params.code;
      if (!Object.hasOwn(problemRegistry, code)) throw new AppError('not-found', `There is no problem type "${code}".`);
      return describe(code as ProblemCode);
    },
  );
};
