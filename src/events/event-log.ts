import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../db/database.js';
import { removeInBatches } from '../db/retention.js';
import { pruneEvents, sequenceAllEvents, vacuumOutbox } from './event.repository.js';

export interface EventLogOptions {
  /** How often a process numbers events on its own: what other processes (or a crashed one) left behind. */
  sequenceIntervalMs?: number;
  retentionDays: number;
  /** How often old events are pruned. */
  pruneIntervalMs?: number;
  /** How often the outbox is vacuumed (event.repository.ts: vacuumOutbox). */
  vacuumIntervalMs?: number;
}

// Events numbered per pass: bounds one pass's transaction; a full pass is followed by another at once.
const PASS_SIZE = 5_000;
const PRUNE_BATCH = 10_000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The process's side of the event log (migration 0006). Writes append events to the outbox; this
 * numbers them. A request that wrote waits for numbering (flush) before it answers, so its client
 * finds its change in GET /events and the change feeds at once; concurrent requests share passes,
 * as concurrent commits share a disk flush. A timer numbers what other processes left behind and
 * prunes events past retention.
 */
export class EventLog {
  readonly #db: Db;
  readonly #log: FastifyBaseLogger;
  readonly #options: Required<EventLogOptions>;
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #timers: NodeJS.Timeout[] = [];
  #pruning = false;
  readonly #bounded = new WeakMap<Promise<void>, Promise<void>>();
  readonly #sequencedListeners: Array<(numbered: number) => void> = [];

  constructor(db: Db, log: FastifyBaseLogger, options: EventLogOptions) {
    this.#db = db;
    this.#log = log;
    this.#options = { sequenceIntervalMs: 250, pruneIntervalMs: 10 * 60 * 1000, vacuumIntervalMs: 10_000, ...options };
  }

  start(): void {
    const sequence = setInterval(() => {
      this.flush().catch((error: unknown) => this.#log.warn({ err: error }, 'numbering events failed; retrying'));
    }, this.#options.sequenceIntervalMs);
    const prune = setInterval(() => {
      this.prune().catch((error: unknown) => this.#log.warn({ err: error }, 'pruning events failed; retrying'));
    }, this.#options.pruneIntervalMs);
    const vacuum = setInterval(() => {
      vacuumOutbox(this.#db).catch((error: unknown) =>
        this.#log.warn({ err: error }, 'vacuuming the event outbox failed'),
      );
    }, this.#options.vacuumIntervalMs);
    sequence.unref();
    prune.unref();
    vacuum.unref();
    this.#timers.push(sequence, prune, vacuum);
  }

  /** Calls `listener` after each numbering pass of this process (the webhook worker then dispatches at once). */
  onSequenced(listener: (numbered: number) => void): void {
    this.#sequencedListeners.push(listener);
  }

  /** Resolves once a pass that started after this call has numbered everything committed before it. */
  flush(): Promise<void> {
    if (this.#queued !== null) return this.#queued;
    if (this.#running === null) return this.#startPass();
    const queued = this.#running
      .catch(() => {})
      .then(() => {
        this.#queued = null;
        return this.#startPass();
      });
    this.#queued = queued;
    return queued;
  }

  /**
   * flush(), resolving after `ms` at most: a request's answer must not hang on a struggling
   * database once its own write committed. One timer per pass, shared by the requests waiting on it.
   */
  flushWithin(ms: number): Promise<void> {
    const pass = this.flush();
    let bounded = this.#bounded.get(pass);
    if (bounded === undefined) {
      bounded = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        timer.unref();
        pass.then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(error);
          },
        );
      });
      this.#bounded.set(pass, bounded);
    }
    return bounded;
  }

  #startPass(): Promise<void> {
    const pass = sequenceAllEvents(this.#db, PASS_SIZE).then((numbered) => {
      if (numbered > 0) for (const listener of this.#sequencedListeners) listener(numbered);
    });
    const tracked = pass.finally(() => {
      if (this.#running === tracked) this.#running = null;
    });
    this.#running = tracked;
    return tracked;
  }

  /** Removes events past retention; one process at a time. Returns how many. */
  async prune(now: Date = new Date()): Promise<number> {
    if (this.#pruning) return 0;
    this.#pruning = true;
    try {
      const before = new Date(now.getTime() - this.#options.retentionDays * DAY_MS);
      return await removeInBatches(this.#db, 'contacts-api:prune-events', PRUNE_BATCH, (trx, batch) =>
        pruneEvents(trx, before, batch),
      );
    } finally {
      this.#pruning = false;
    }
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await Promise.allSettled([this.#running, this.#queued]);
  }
}
