/**
 * Delivers the outbox: every notification is in SQLite before the first attempt, and is retried
 * with exponential backoff and jitter until it is delivered or expires, across restarts.
 * Deliveries are at least once; each carries an idempotency key so that a receiver can tell a
 * retry from a new alert.
 *
 * Each sink has its own worker, with its own timer and circuit breaker: a receiver that hangs
 * costs its own queue the timeout, never the other sinks'. A worker's passes never overlap, and
 * an error from the store (a locked or full disk) is logged and retried later, never thrown.
 */
import type { Logger } from '../log/logger.js';
import type { OutboxEntry, Store } from '../store/store.js';
import { send, type SendResult, type SinkTarget } from './sender.js';
import { backoffMs, CircuitBreaker, DEFAULT_BREAKER, type BreakerOptions } from './backoff.js';

export interface OutboxOptions {
  expireAfterMs: number;
  /** How often an idle worker looks for due notifications. */
  pollMs?: number;
  breaker?: BreakerOptions;
  now?: () => number;
}

/** Notifications read per pass; a pass stops between sends when the worker is stopped. */
const BATCH = 20;
/** After a store error, the worker waits this long, doubling up to STORE_RETRY_MAX_MS. */
const STORE_RETRY_MS = 1000;
const STORE_RETRY_MAX_MS = 30_000;

export interface SinkStats {
  delivered: number;
  failedAttempts: number;
  circuit: 'closed' | 'open' | 'half-open';
}

export class Outbox {
  private readonly workers: SinkWorker[];

  constructor(store: Store, sinks: ReadonlyMap<string, SinkTarget>, log: Logger, options: OutboxOptions) {
    const now = options.now ?? Date.now;
    this.workers = [...sinks.values()].map((sink) => new SinkWorker(sink, store, log, { ...options, now }));
    this.orphans = new OrphanSweeper(store, new Set(sinks.keys()), log);
  }

  private readonly orphans: OrphanSweeper;

  start(): void {
    this.orphans.sweep();
    for (const w of this.workers) w.start();
  }

  /** Stops every worker between two sends, aborting a send in flight; nothing is lost (it stays queued). */
  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }

  /** Runs a pass of every worker now (after a cycle queued notifications); resolves when all are done. */
  async tick(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.kick()));
  }

  get delivered(): number {
    return this.workers.reduce((n, w) => n + w.stats.delivered, 0);
  }

  get failedAttempts(): number {
    return this.workers.reduce((n, w) => n + w.stats.failedAttempts, 0);
  }

  stats(): Map<string, SinkStats> {
    return new Map(this.workers.map((w) => [w.sink.name, w.stats]));
  }
}

/** Notifications for sinks no longer in the config can never go out: they are expired at start. */
class OrphanSweeper {
  constructor(
    private readonly store: Store,
    private readonly sinks: ReadonlySet<string>,
    private readonly log: Logger,
  ) {}

  sweep(): void {
    try {
      const expired = this.store.expireOrphans([...this.sinks], Date.now());
      if (expired > 0) this.log.warn('notifications dropped: their sink is no longer configured', { count: expired });
    } catch (err) {
      this.log.error('outbox: could not expire notifications of removed sinks', { err });
    }
  }
}

class SinkWorker {
  readonly stats: SinkStats = { delivered: 0, failedAttempts: 0, circuit: 'closed' };
  private readonly breaker: CircuitBreaker;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private inFlight: AbortController | null = null;
  private stopping = false;
  private storeRetryMs = STORE_RETRY_MS;

  constructor(
    readonly sink: SinkTarget,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly options: Required<Pick<OutboxOptions, 'now'>> & OutboxOptions,
  ) {
    this.breaker = new CircuitBreaker(options.breaker ?? DEFAULT_BREAKER);
    this.now = options.now;
  }

  start(): void {
    void this.kick();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.inFlight?.abort();
    await this.running;
  }

  /** Runs a pass now, or joins the one in progress. */
  kick(): Promise<void> {
    if (this.stopping) return this.running ?? Promise.resolve();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running ??= this.pass().finally(() => {
      this.running = null;
      this.schedule();
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopping || this.timer) return;
    const poll = this.options.pollMs ?? 1000;
    const blocked = this.breaker.blockedUntil(this.now());
    const delay = blocked !== null ? Math.max(poll, blocked - this.now()) : this.storeRetryMs > STORE_RETRY_MS ? this.storeRetryMs : poll;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.kick();
    }, delay);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    try {
      // Expiry comes first, so a notification parked far in the future still expires on time.
      const expired = this.store.expireStale(this.now() - this.options.expireAfterMs, this.now());
      if (expired > 0) this.log.error('notifications expired undelivered', { sink: this.sink.name, count: expired });
      for (;;) {
        if (this.breaker.blockedUntil(this.now()) !== null) return;
        const due = this.store.dueNotifications(this.sink.name, this.now(), BATCH);
        if (due.length === 0) break;
        for (const n of due) {
          if (this.stopping || this.breaker.blockedUntil(this.now()) !== null) return;
          await this.deliver(n);
        }
        if (due.length < BATCH) break;
      }
      this.storeRetryMs = STORE_RETRY_MS;
    } catch (err) {
      // A store error (SQLITE_BUSY, SQLITE_FULL, SQLITE_READONLY...): the rows stay as they are
      // and the worker tries again later; a delivered-but-unrecorded notification is sent again,
      // with the same idempotency key.
      this.log.error('outbox: store error, delivery paused', { sink: this.sink.name, err, retryInMs: this.storeRetryMs });
      this.storeRetryMs = Math.min(STORE_RETRY_MAX_MS, this.storeRetryMs * 2);
    }
  }

  private async deliver(n: OutboxEntry): Promise<void> {
    const controller = new AbortController();
    this.inFlight = controller;
    let result: SendResult;
    try {
      result = await send(this.sink, n.kind, n.payload, n.idempotencyKey, this.now(), controller.signal);
    } finally {
      this.inFlight = null;
    }
    if (controller.signal.aborted) return; // stopped mid-send: the row stays due
    const now = this.now();
    if (result.ok) {
      this.store.markDelivered(n.id, now);
      this.stats.delivered++;
      if (this.breaker.success()) this.log.info('sink recovered: circuit closed', { sink: this.sink.name });
      this.log.info('notification delivered', { sink: n.sink, kind: n.kind, key: n.idempotencyKey, attempts: n.attempts + 1 });
    } else if (result.retry) {
      this.stats.failedAttempts++;
      const delay = backoffMs(n.attempts + 1, result.retryAfterMs);
      this.store.markFailed(n.id, result.error, now + delay);
      this.log.warn('notification failed, will retry', { sink: n.sink, key: n.idempotencyKey, error: result.error, attempts: n.attempts + 1, retryInMs: Math.round(delay) });
      const openUntil = this.breaker.failure(now);
      if (openUntil !== null) this.log.error('sink failing: circuit open, sends paused', { sink: this.sink.name, untilMs: openUntil - now, lastError: result.error });
    } else {
      this.stats.failedAttempts++;
      this.store.transaction(() => {
        this.store.markFailed(n.id, result.error, now);
        this.store.markExpired(n.id, now);
      });
      // The receiver answered: it is up, so this says nothing against the sink itself.
      this.breaker.success();
      this.log.error('notification refused by its receiver; not retried', { sink: n.sink, key: n.idempotencyKey, error: result.error });
    }
    this.stats.circuit = this.breaker.state;
  }
}
