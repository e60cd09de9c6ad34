/** PostgreSQL error codes the application reacts to (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export const SqlState = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  notNullViolation: '23502',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  tooManyConnections: '53300',
  outOfMemory: '53200',
} as const;

export interface PostgresError {
  code: string;
  constraint?: string;
  severity: string;
}

/** node-postgres errors carry the SQLSTATE in `code` and the server's severity; nothing else does both. */
export function isPostgresError(error: unknown): error is PostgresError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as PostgresError).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as PostgresError).code) &&
    typeof (error as PostgresError).severity === 'string'
  );
}
