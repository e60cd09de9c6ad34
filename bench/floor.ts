/**
 * The floor: the least any HTTP upsert or read can cost on this machine. Fastify with a body schema
 * and nothing else, one pooled statement per request on a table shaped like the contacts table. No
 * HTTP upsert of the real API can be faster; the benchmark reports the API as a ratio of this.
 */
import Fastify from 'fastify';
import pg from 'pg';

const url = process.env.DATABASE_URL as string;
const port = Number(process.env.PORT ?? 0);
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
const app = Fastify({ logger: false });

const UPSERT = `
  INSERT INTO bench_floor_contacts (organization_id, external_id, first_name, last_name, email)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (organization_id, external_id) DO UPDATE
    SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, email = EXCLUDED.email, updated_at = now()
  RETURNING *, (xmax = 0) AS inserted`;
const GET = 'SELECT * FROM bench_floor_contacts WHERE organization_id = $1 AND id = $2';

app.patch<{ Params: { org: string; ref: string }; Body: { firstName?: string; lastName?: string; email?: string } }>(
  '/floor/:org/contacts/:ref',
  {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        properties: { firstName: { type: 'string' }, lastName: { type: 'string' }, email: { type: 'string' } },
      },
    },
  },
  async (request, reply) => {
    const { org, ref } = request.params;
    const { firstName = null, lastName = null, email = null } = request.body;
    const { rows } = await pool.query(UPSERT, [org, ref, firstName, lastName, email]);
    return reply.code(rows[0].inserted ? 201 : 200).send(rows[0]);
  },
);

app.get<{ Params: { org: string; id: string } }>('/floor/:org/contacts/by-id/:id', async (request, reply) => {
  const { rows } = await pool.query(GET, [request.params.org, request.params.id]);
  return rows[0] ? rows[0] : reply.code(404).send({});
});

app.get('/floor/healthz', async () => ({ status: 'ok' }));

await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`${JSON.stringify({ listening: (app.server.address() as { port: number }).port })}\n`);
process.on('SIGTERM', () => {
  void app
    .close()
    .then(() => pool.end())
    .then(() => process.exit(0));
});
