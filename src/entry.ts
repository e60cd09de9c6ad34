import type { FastifyBaseLogger } from 'fastify';
import { type EmbeddedPostgres, EmbeddedPostgresError, startEmbeddedPostgres } from './db/embedded-postgres.js';

/**
 * Starts the embedded PostgreSQL for a process entry (server.ts, or cluster.ts's primary). A
 * PostgreSQL that cannot start (a second server on DATA_DIR, missing binaries) ends the process with
 * one line and exit code 1, as a bad configuration does.
 */
export async function startEmbeddedOrExit(dataDir: string, logger: FastifyBaseLogger): Promise<EmbeddedPostgres> {
  try {
    return await startEmbeddedPostgres({ dataDir, onLog: (message) => logger.info(message) });
  } catch (error) {
    if (error instanceof EmbeddedPostgresError) {
      process.stderr.write(`Cannot start the embedded PostgreSQL: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
