/**
 * Ground truth for the accuracy checks: a separate, high-frequency record (every 100-250 ms) of
 * wsrep_last_committed and wsrep_local_cached_downto on every node of a sandbox, and the true
 * window and true IST budget derived from it.
 */
import mysql from 'mysql2/promise';
import type { GaleraSandbox } from './galera-sandbox.js';
import { parseCachedDownto } from '../../src/sampler/status.js';
import { istSafetyGap } from '../../src/analysis/ist.js';

export interface TruthPoint {
  t: number;
  lastCommitted: number;
  downto: number | null;
  /** wsrep_replicated_bytes + wsrep_received_bytes: what the node's gcache has taken in. */
  bytes: number;
}

export class TruthRecorder {
  readonly records = new Map<number, TruthPoint[]>();
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly sandbox: GaleraSandbox,
    private readonly everyMs = 200,
  ) {}

  start(): void {
    for (const node of this.sandbox.nodes) {
      this.records.set(node.index, []);
      this.loops.push(this.loop(node.index));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async loop(index: number): Promise<void> {
    let conn: mysql.Connection | null = null;
    const out = this.records.get(index)!;
    while (!this.stopped) {
      try {
        conn ??= await mysql.createConnection(this.sandbox.adminConnectionOptions(index));
        const before = Date.now();
        const [rows] = await conn.query(
          "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_last_committed', 'wsrep_local_cached_downto', 'wsrep_local_state_comment', 'wsrep_replicated_bytes', 'wsrep_received_bytes')",
        );
        const t = Math.round((before + Date.now()) / 2);
        const v = Object.fromEntries((rows as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name.toLowerCase(), r.Value]));
        if (v.wsrep_local_state_comment === 'Synced') {
          out.push({
            t,
            lastCommitted: Number(v.wsrep_last_committed),
            downto: parseCachedDownto(v.wsrep_local_cached_downto ?? '-1'),
            bytes: Number(v.wsrep_replicated_bytes ?? 0) + Number(v.wsrep_received_bytes ?? 0),
          });
        }
      } catch {
        conn?.destroy();
        conn = null;
      }
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
    await conn?.end().catch(() => undefined);
  }

  /** When last_committed first reached `seqno`, interpolated in the high-frequency record of any node. */
  timeAtSeqno(seqno: number): number | null {
    let best: number | null = null;
    for (const points of this.records.values()) {
      const i = points.findIndex((p) => p.lastCommitted >= seqno);
      if (i <= 0) continue;
      const a = points[i - 1]!;
      const b = points[i]!;
      const t = a.t + ((seqno - a.lastCommitted) / Math.max(1, b.lastCommitted - a.lastCommitted)) * (b.t - a.t);
      if (best === null || t < best) best = t;
    }
    return best;
  }

  /** The node's record at or just before t (binary search: records are in time order). */
  at(index: number, t: number): TruthPoint | null {
    return truthAt(this.records.get(index) ?? [], t);
  }

  /** The true window of a node at time t: t minus the commit time of its oldest cached seqno. */
  trueWindowSeconds(index: number, t: number): number | null {
    const p = this.at(index, t);
    if (!p || p.downto === null) return null;
    const committed = this.timeAtSeqno(p.downto);
    return committed === null ? null : (t - committed) / 1000;
  }

  /**
   * The true IST budget of `joiner` at time t: how long until no other node could serve it IST
   * had it left at t. The other nodes' gcaches evolve the same whether or not it is away, so
   * this is read off their records: the first moment when none of them still caches S+1, or
   * when the group's lowest cached seqno comes within Galera's safety gap of S.
   * Null when that moment lies beyond the end of the record.
   */
  trueIstBudgetSeconds(joiner: number, t: number): number | null {
    const start = this.at(joiner, t);
    if (!start) return null;
    const lost = this.istLostAt(
      start.lastCommitted,
      [...this.records.keys()].filter((i) => i !== joiner),
      t,
    );
    return lost === null ? null : (lost - t) / 1000;
  }

  /**
   * The first moment after `from` at which a node that left at `seqno` could no longer rejoin
   * by IST from the nodes `donors`: none of them still caches seqno+1, or the group's lowest cached
   * seqno has come within Galera's safety gap of it. Null when that lies beyond the record.
   */
  istLostAt(seqno: number, donors: readonly number[], from: number): number | null {
    return istLostAt(this.records, seqno, donors, from);
  }
}

/** A record's point at or just before t (binary search: records are in time order). */
export function truthAt(points: readonly TruthPoint[], t: number): TruthPoint | null {
  let lo = 0;
  let hi = points.length - 1;
  let found: TruthPoint | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.t <= t) {
      found = points[mid]!;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * The first moment after `from` at which a node that left at `seqno` could no longer rejoin by
 * IST from the nodes `donors` of `records`: none of them still caches seqno+1, or the group's
 * lowest cached seqno has come within Galera's safety gap of it. Null when that lies beyond the
 * record.
 */
export function istLostAt<K>(records: ReadonlyMap<K, readonly TruthPoint[]>, seqno: number, donors: readonly K[], from: number): number | null {
  // One of the donors' own record times is enough resolution (150-250 ms).
  const times = (records.get(donors[0]!) ?? []).filter((p) => p.t > from).map((p) => p.t);
  for (const time of times) {
    const states = donors.map((d) => truthAt(records.get(d) ?? [], time)).filter((p): p is TruthPoint => p !== null && p.downto !== null);
    if (states.length === 0) continue;
    const lowest = Math.min(...states.map((p) => p.downto!));
    const last = Math.max(...states.map((p) => p.lastCommitted));
    const someDonorHasIt = states.some((p) => p.downto! <= seqno + 1);
    if (!someDonorHasIt || seqno < lowest + istSafetyGap(lowest, last)) return time;
  }
  return null;
}
