import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError, type ProblemCode, problemRegistry, problemType } from './problem.js';
import { jsonResponse, PUBLIC_SECURITY, problemResponses, TRANSPORT_PROBLEMS } from './schemas.js';

const ProblemTypeSchema = Type.Object(
  {
    type: Type.String({ description: 'The `type` of problems of this kind.' }),
    code: Type.String({ description: 'The last segment of `type`.' }),
    status: Type.Integer({ description: 'The HTTP status problems of this kind are answered with.' }),
    title: Type.String({ description: 'The `title` of problems of this kind.' }),
    description: Type.String({ description: 'When the problem happens and what to do about it.' }),
  },
  { additionalProperties: false, description: 'A kind of problem the API answers with.' },
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
        description:
          'The registry behind every problem+json answer: each kind with its `type` URI, status, title and what to do about it. Needs no token.',
        tags: ['Operations'],
        security: PUBLIC_SECURITY,
        response: {
          200: jsonResponse(
            'Every problem type.',
            Type.Object({ data: Type.Array(ProblemTypeSchema) }, { additionalProperties: false }),
            {
              registry: {
                summary: 'The first two of the list',
                value: { data: [describe('validation-failed'), describe('malformed-request')] },
              },
            },
          ),
          ...problemResponses(...TRANSPORT_PROBLEMS),
        },
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
        description:
          "Where a problem's `type` (`/problems/{code}`) leads: what that kind of problem means and what to do about it. Needs no token.",
        tags: ['Operations'],
        security: PUBLIC_SECURITY,
        params: Type.Object(
          { code: Type.String({ description: 'A problem code, e.g. `conflict`.', examples: ['conflict'] }) },
          { additionalProperties: false },
        ),
        response: {
          200: jsonResponse('The problem type.', ProblemTypeSchema, {
            conflict: { summary: 'The problem type of a conflict', value: describe('conflict') },
          }),
          ...problemResponses('not-found'),
        },
      },
    },
    async (request) => {
      const code = request.params.code;
      if (!Object.hasOwn(problemRegistry, code)) throw new AppError('not-found', `There is no problem type "${code}".`);
      return describe(code as ProblemCode);
    },
  );
};
