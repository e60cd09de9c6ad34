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

// The batch floor: one statement upserts every row of the request, as a set.
const BATCH_UPSERT = `
  INSERT INTO bench_floor_contacts (organization_id, external_id, first_name, last_name, email)
  SELECT $1, r.external_id, r.first_name, r.last_name, r.email
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS r(external_id, first_name, last_name, email)
  ON CONFLICT (organization_id, external_id) DO UPDATE
    SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, email = EXCLUDED.email, updated_at = now()
  RETURNING id, (xmax = 0) AS inserted`;

interface FloorItem {
  externalRef: { namespace: string; id: string };
  data: { firstName?: string; lastName?: string; email?: string };
}

app.post<{ Params: { org: string }; Body: { items: FloorItem[] } }>(
  '/floor/:org/contacts/batch',
  {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['items'],
        properties: { items: { type: 'array', maxItems: 1000, items: { type: 'object' } } },
      },
    },
  },
  async (request) => {
    const { items } = request.body;
    const { rows } = await pool.query(BATCH_UPSERT, [
      request.params.org,
      items.map((item) => item.externalRef.id),
      items.map((item) => item.data.firstName ?? null),
      items.map((item) => item.data.lastName ?? null),
      items.map((item) => item.data.email ?? null),
    ]);
    return { results: rows.map((row, index) => ({ index, status: row.inserted ? 201 : 200, id: row.id })) };
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
