/**
 * The notification outbox: every notification is written before any attempt to send it, then
 * marked delivered, failed (with its next attempt) or expired.
 */
import { Repository, type StoreDatabase } from './database.js';

export interface OutboxEntry {
  id: number;
  sink: string;
  alertId: number;
  kind: 'firing' | 'resolved';
  idempotencyKey: string;
  payload: unknown;
  createdAt: number;
  nextAttemptAt: number;
  attempts: number;
  deliveredAt: number | null;
  expiredAt: number | null;
  lastError: string | null;
}

interface OutboxRow {
  id: number;
  sink: string;
  alert_id: number;
  kind: 'firing' | 'resolved';
  idempotency_key: string;
  payload: string;
  created_at: number;
  next_attempt_at: number;
  attempts: number;
  delivered_at: number | null;
  expired_at: number | null;
  last_error: string | null;
}

function prepareStatements(db: StoreDatabase) {
  return {
    enqueue: db.prepare(`INSERT OR IGNORE INTO outbox (sink, alert_id, kind, idempotency_key, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    pendingFiring: db.prepare(`SELECT 1 FROM outbox WHERE alert_id = ? AND sink = ? AND kind = 'firing' AND delivered_at IS NULL AND expired_at IS NULL LIMIT 1`),
    expirePendingFiring: db.prepare(`UPDATE outbox SET expired_at = ?, last_error = 'superseded by the resolution'
      WHERE alert_id = ? AND kind = 'firing' AND delivered_at IS NULL AND expired_at IS NULL`),
    expireOrphans: db.prepare(`UPDATE outbox SET expired_at = ?, last_error = 'sink no longer configured'
      WHERE delivered_at IS NULL AND expired_at IS NULL AND sink NOT IN (SELECT value FROM json_each(?))`),
    expireStale: db.prepare(`UPDATE outbox SET expired_at = ? WHERE delivered_at IS NULL AND expired_at IS NULL AND created_at < ?`),
    dueNotifications: db.prepare(`SELECT * FROM outbox WHERE sink = ? AND delivered_at IS NULL AND expired_at IS NULL AND next_attempt_at <= ?
      ORDER BY next_attempt_at, id LIMIT ?`),
    nextDue: db.prepare(`SELECT MIN(next_attempt_at) AS t FROM outbox WHERE sink = ? AND delivered_at IS NULL AND expired_at IS NULL`),
    markDelivered: db.prepare(`UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?`),
    markFailed: db.prepare(`UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?`),
    markExpired: db.prepare(`UPDATE outbox SET expired_at = ? WHERE id = ?`),
    notifications: db.prepare(`SELECT * FROM outbox ORDER BY id DESC LIMIT ?`),
  };
}

export class OutboxRepository extends Repository<ReturnType<typeof prepareStatements>> {
  constructor(db: StoreDatabase) {
    super(db, prepareStatements);
  }

  /** Writes a notification before any attempt to send it; a repeated key is ignored. */
  enqueue(n: { sink: string; alertId: number; kind: 'firing' | 'resolved'; idempotencyKey: string; payload: unknown; now: number }): void {
    this.db.write(() => this.stmts.enqueue.run(n.sink, n.alertId, n.kind, n.idempotencyKey, JSON.stringify(n.payload), n.now, n.now));
  }

  /** True when a firing notification of this alert still waits for delivery to this sink. */
  hasPendingFiring(alertId: number, sink: string): boolean {
    return this.stmts.pendingFiring.get(alertId, sink) !== undefined;
  }

  /**
   * Expires the firing notifications of an alert that still wait for delivery: once its
   * resolution is queued, a late firing one would re-open it at the receiver.
   */
  expirePendingFiring(alertId: number, now: number): number {
    return this.db.write(() => this.stmts.expirePendingFiring.run(now, alertId).changes);
  }

  /** Expires the undelivered notifications of sinks not in `sinks` (removed from the config). */
  expireOrphans(sinks: readonly string[], now: number): number {
    return this.db.write(() => this.stmts.expireOrphans.run(now, JSON.stringify(sinks)).changes);
  }

  /** Expires every undelivered notification created before `createdBefore`; returns how many. */
  expireStale(createdBefore: number, now: number): number {
    return this.db.write(() => this.stmts.expireStale.run(now, createdBefore).changes);
  }

  /** The notifications of one sink that are due, oldest first. */
  dueNotifications(sink: string, now: number, limit: number): OutboxEntry[] {
    return (this.stmts.dueNotifications.all(sink, now, limit) as OutboxRow[]).map(outboxFromRow);
  }

  /** When the next notification of a sink falls due, or null when none waits. */
  nextDueAt(sink: string): number | null {
    const row = this.stmts.nextDue.get(sink) as { t: number | null } | undefined;
    return row?.t ?? null;
  }

  markDelivered(id: number, now: number): void {
    this.db.write(() => this.stmts.markDelivered.run(now, id));
  }

  markFailed(id: number, error: string, nextAttemptAt: number): void {
    this.db.write(() => this.stmts.markFailed.run(error, nextAttemptAt, id));
  }

  markExpired(id: number, now: number): void {
    this.db.write(() => this.stmts.markExpired.run(now, id));
  }

  notifications(limit = 100): OutboxEntry[] {
    return (this.stmts.notifications.all(limit) as OutboxRow[]).map(outboxFromRow);
  }
}

function outboxFromRow(r: OutboxRow): OutboxEntry {
  return {
    id: r.id,
    sink: r.sink,
    alertId: r.alert_id,
    kind: r.kind,
    idempotencyKey: r.idempotency_key,
    payload: JSON.parse(r.payload) as unknown,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
    attempts: r.attempts,
    deliveredAt: r.delivered_at,
    expiredAt: r.expired_at,
    lastError: r.last_error,
  };
}
