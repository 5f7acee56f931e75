/**
 * Delivers the outbox: every notification is in SQLite before the first attempt, and is retried
 * with exponential backoff and jitter until it is delivered or expires, across restarts.
 * Deliveries are at least once; each carries an idempotency key so that a receiver can tell a
 * retry from a new alert.
 */
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import { send, type SinkTarget } from './sender.js';
import { backoffMs } from '../rules/lifecycle.js';

export interface OutboxOptions {
  expireAfterMs: number;
  pollMs?: number;
  now?: () => number;
}

export class Outbox {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly now: () => number;
  delivered = 0;
  failedAttempts = 0;

  constructor(
    private readonly store: Store,
    private readonly sinks: ReadonlyMap<string, SinkTarget>,
    private readonly log: Logger,
    private readonly options: OutboxOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.pollMs ?? 1000);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over the due notifications; concurrent calls share the pass in progress. */
  tick(): Promise<void> {
    this.running ??= this.deliverDue().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async deliverDue(): Promise<void> {
    for (const n of this.store.dueNotifications(this.now(), 50)) {
      const sink = this.sinks.get(n.sink);
      const now = this.now();
      if (!sink) {
        this.store.markExpired(n.id, now);
        this.log.warn('notification dropped: its sink is no longer configured', { sink: n.sink, key: n.idempotencyKey });
        continue;
      }
      if (now - n.createdAt > this.options.expireAfterMs) {
        this.store.markExpired(n.id, now);
        this.log.error('notification expired undelivered', { sink: n.sink, key: n.idempotencyKey, attempts: n.attempts, lastError: n.lastError });
        continue;
      }
      const result = await send(sink, n.kind, n.payload, n.idempotencyKey, now);
      if (result.ok) {
        this.store.markDelivered(n.id, this.now());
        this.delivered++;
        this.log.info('notification delivered', { sink: n.sink, kind: n.kind, key: n.idempotencyKey, attempts: n.attempts + 1 });
      } else if (result.retry) {
        this.failedAttempts++;
        const delay = backoffMs(n.attempts + 1, result.retryAfterMs);
        this.store.markFailed(n.id, result.error, this.now() + delay);
        this.log.warn('notification failed, will retry', { sink: n.sink, key: n.idempotencyKey, error: result.error, attempts: n.attempts + 1, retryInMs: Math.round(delay) });
      } else {
        this.failedAttempts++;
        this.store.markFailed(n.id, result.error, this.now());
        this.store.markExpired(n.id, this.now());
        this.log.error('notification refused by its receiver; not retried', { sink: n.sink, key: n.idempotencyKey, error: result.error });
      }
    }
  }
}
