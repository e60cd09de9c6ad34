import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import type { Config } from './config.js';

/**
 * The process's logger: JSON lines on stdout at the configured level. Its own module, so that the
 * cluster primary (cluster.ts) logs without loading Fastify and every route.
 */
export function createLogger(config: Config): FastifyBaseLogger {
  return pino({
    level: config.logLevel,
    // Defence in depth: the default serializers log no headers, and no secret may reach a log line.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token'], censor: '[redacted]' },
  });
}
