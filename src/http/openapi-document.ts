import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { connectDatabase } from '../db/database.js';

/**
 * The app with every route enabled (the admin API included) and no database: the pool connects
 * lazily, and the OpenAPI document, the /docs page and its bundle never query. Nothing is delivered.
 */
export async function documentationApp(): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const config = { ...loadConfig({}), adminToken: 'documentation-only-admin-token', logLevel: 'silent' as const };
  const database = connectDatabase('postgres://documentation@127.0.0.1:1/none', { poolSize: 1 });
  const app = await buildApp({ config, db: database.db, webhookDelivery: { enabled: false } });
  return {
    app,
    close: async () => {
      await app.close();
      await database.close();
    },
  };
}

/** The OpenAPI document as served with every route enabled. */
export async function openApiDocument(): Promise<unknown> {
  const { app, close } = await documentationApp();
  await app.ready();
  const document = app.swagger();
  await close();
  return document;
}
