import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { connectDatabase } from '../db/database.js';

/** The OpenAPI document as served with every route enabled (the admin API included). */
export async function openApiDocument(): Promise<unknown> {
  const config = { ...loadConfig({}), adminToken: 'documentation-only-admin-token', logLevel: 'silent' as const };
  // The pool connects lazily and nothing here queries, so no database is needed.
  const database = connectDatabase('postgres://documentation@127.0.0.1:1/none', { poolSize: 1 });
  const app = await buildApp({ config, db: database.db });
  await app.ready();
  const document = app.swagger();
  await app.close();
  await database.close();
  return document;
}
