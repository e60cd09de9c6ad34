import { type Static, type TSchema, Type } from 'typebox';
import { type ProblemCode, problemRegistry } from './problem.js';

/**
 * `type: ["string", "null"]` rather than `anyOf`, so a wrong value yields one clear validation message
 * instead of one per branch, and the OpenAPI 3.1 document stays idiomatic.
 */
export function Nullable<T extends TSchema>(schema: T) {
  const { type, ...rest } = schema as unknown as { type: string } & Record<string, unknown>;
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'] });
}

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC.' });

export const Uuid = Type.String({ format: 'uuid' });

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'Identifies the problem kind; stable, see GET /problems.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String({ description: 'The path of the request that failed.' }),
    traceId: Type.String({ description: 'The request id; quote it when reporting a problem.' }),
    errors: Type.Optional(
      Type.Record(Type.String(), Type.Array(Type.String()), {
        description: 'Validation failures: field path (e.g. `emails[0].address`) → messages.',
      }),
    ),
  },
  { $id: 'Problem', additionalProperties: true, description: 'An RFC 9457 problem details document.' },
);

/** Problem responses for a route's schema, grouped by status, so the OpenAPI document lists them. */
export function problemResponses(...codes: ProblemCode[]): Record<number, unknown> {
  const responses: Record<number, unknown> = {};
  const byStatus = new Map<number, string[]>();
  for (const code of [...codes, 'internal-error' as const]) {
    const { status, title } = problemRegistry[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), title]);
  }
  for (const [status, titles] of byStatus) {
    responses[status] = {
      description: titles.join('; '),
      content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
    };
  }
  return responses;
}
