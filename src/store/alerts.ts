/** Alerts: the open ones (pending or firing) and the history of resolved ones. */
import { Repository, type StoreDatabase } from './database.js';

export interface StoredAlert {
  id: number;
  fingerprint: string;
  rule: string;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'resolved';
  activeAt: number;
  firedAt: number | null;
  resolvedAt: number | null;
  lastNotifiedAt: number | null;
}

interface AlertRow {
  id: number;
  fingerprint: string;
  rule: string;
  severity: string;
  labels: string;
  annotations: string;
  state: StoredAlert['state'];
  active_at: number;
  fired_at: number | null;
  resolved_at: number | null;
  last_notified_at: number | null;
}

function prepareStatements(db: StoreDatabase) {
  return {
    openAlerts: db.prepare(`SELECT * FROM alerts WHERE state != 'resolved' ORDER BY id`),
    alertHistory: db.prepare(`SELECT * FROM alerts WHERE active_at >= ? ORDER BY id DESC LIMIT ?`),
    insertAlert: db.prepare(`INSERT INTO alerts (fingerprint, rule, severity, labels, annotations, state, active_at, fired_at, resolved_at, last_notified_at)
          VALUES (@fingerprint, @rule, @severity, @labels, @annotations, @state, @active_at, @fired_at, @resolved_at, @last_notified_at)`),
    updateAlert: db.prepare(`UPDATE alerts SET severity = @severity, labels = @labels, annotations = @annotations, state = @state, fired_at = @fired_at,
        resolved_at = @resolved_at, last_notified_at = @last_notified_at WHERE id = @id`),
    deleteAlert: db.prepare(`DELETE FROM alerts WHERE id = ?`),
  };
}

export class AlertRepository extends Repository<ReturnType<typeof prepareStatements>> {
  constructor(db: StoreDatabase) {
    super(db, prepareStatements);
  }

  openAlerts(): StoredAlert[] {
    return (this.stmts.openAlerts.all() as AlertRow[]).map(alertFromRow);
  }

  alertHistory(from: number, limit: number): StoredAlert[] {
    return (this.stmts.alertHistory.all(from, limit) as AlertRow[]).map(alertFromRow);
  }

  /** Inserts a new alert or updates an open one; returns its id. */
  saveAlert(a: Omit<StoredAlert, 'id'> & { id?: number }): number {
    const row = {
      fingerprint: a.fingerprint,
      rule: a.rule,
      severity: a.severity,
      labels: JSON.stringify(a.labels),
      annotations: JSON.stringify(a.annotations),
      state: a.state,
      active_at: a.activeAt,
      fired_at: a.firedAt,
      resolved_at: a.resolvedAt,
      last_notified_at: a.lastNotifiedAt,
    };
    return this.db.write(() => {
      if (a.id === undefined) return Number(this.stmts.insertAlert.run(row).lastInsertRowid);
      this.stmts.updateAlert.run({ ...row, id: a.id });
      return a.id;
    });
  }

  /** Deletes a pending alert that never fired: it is no history worth keeping. */
  deleteAlert(id: number): void {
    this.db.write(() => this.stmts.deleteAlert.run(id));
  }
}

function alertFromRow(r: AlertRow): StoredAlert {
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    rule: r.rule,
    severity: r.severity,
    labels: JSON.parse(r.labels) as Record<string, string>,
    annotations: JSON.parse(r.annotations) as Record<string, string>,
    state: r.state,
    activeAt: r.active_at,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at,
    lastNotifiedAt: r.last_notified_at,
  };
}
