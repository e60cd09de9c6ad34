import { sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

/** Channel on which writers announce changes that invalidate cached authentication. */
export const AUTH_CHANGED_CHANNEL = 'contacts_api_auth_changed';

/** Inside the writing transaction: PostgreSQL delivers the notification if, and when, it commits. */
export async function announceAuthChange(trx: Transaction<Database>, organizationId: string): Promise<void> {
  await sql`SELECT pg_notify(${AUTH_CHANGED_CHANNEL}, ${organizationId})`.execute(trx);
}

export interface Listener {
  close(): Promise<void>;
}

export interface ListenerEvents {
  /** With the notification's payload: the organization it concerns. */
  onNotify(payload: string | undefined): void;
  /** true once listening, false when the connection is lost (until it is back). */
  onState(live: boolean): void;
  onError(error: unknown): void;
}

const RECONNECT_DELAY_MS = 1_000;

/**
 * A dedicated connection that LISTENs on `channel`, reconnecting until closed. `url` must reach a
 * session of its own (PostgreSQL directly, or a pooler in session mode): a transaction pooler would
 * leave the LISTEN on a backend it then lends to others, and the notifications would never arrive.
 */
export function listen(url: string, channel: string, events: ListenerEvents): Listener {
  let closed = false;
  let client: pg.Client | null = null;
  let timer: NodeJS.Timeout | undefined;

  const connect = async () => {
    if (closed) return;
    const next = new pg.Client({ connectionString: url, application_name: 'contacts-api-listener' });
    client = next;
    const lost = (error?: unknown) => {
      if (client !== next) return;
      client = null;
      events.onState(false);
      if (error !== undefined) events.onError(error);
      next.end().catch(() => {});
      if (!closed) timer = setTimeout(connect, RECONNECT_DELAY_MS);
    };
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', (message) => {
      if (message.channel === channel) events.onNotify(message.payload);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${pg.Client.prototype.escapeIdentifier(channel)}`);
      if (client === next && !closed) events.onState(true);
    } catch (error) {
      lost(error);
    }
  };
  void connect();

  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      const current = client;
      client = null;
      events.onState(false);
      await current?.end().catch(() => {});
    },
  };
}
