/**
 * Runs the pure analysis after every sampling cycle over history kept in memory and updated one
 * sample at a time (see node-history.ts): per node its points, rates and settings, per cluster the
 * seqno timeline, appended in order and trimmed to what the gcaches still hold. A cycle reads
 * nothing from SQLite, and its cost follows the number of nodes and the span of their gcaches, not
 * the length of the stored history. The state is loaded once from the store at start.
 */
import type { ClusterConfig, Config } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { NodeSettings, Store, StoredEvent } from '../store/store.js';
import type { CycleResult } from '../sampler/sampler.js';
import { analyzeCluster, clusterSeqnoTimeline, type ClusterAnalysis, type NodeAnalysis, type RejoinRecord } from '../analysis/cluster-analysis.js';
import { performance } from 'node:perf_hooks';
import { ColumnSeries, type SeriesPoint } from '../analysis/series.js';
import { timeAtSeqno } from '../analysis/timeline.js';
import { FULL_RESOLUTION_MS, NodeHistory, TREND_DAYS, toPoint, type NodeSettingsView } from './node-history.js';
import { nodeKey } from '../config/keys.js';
import { WriteHistory } from '../analysis/write-history.js';
import { calibration } from '../analysis/forecast.js';
import { rejoinMethod } from '../analysis/rejoin.js';
import { inSlices, yieldToLoop } from '../loop/slices.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../units/time.js';

export { toPoint };

interface CycleState {
  sampled: Set<string>;
  /** Per cluster: the time of its newest sample this cycle, and the highest byte rate of a Synced node. */
  written: Map<string, { t: number; bytesPerSecond: number }>;
  /**
   * The backtests due this cycle, run after every cluster's analysis: a calibration is read from
   * the next cycle on, so running it later in the cycle changes no figure, and it runs in slices
   * of its own (one forecast a step) instead of lengthening a cluster's slice.
   */
  backtests: Array<{ cluster: string; steps: Generator<void, void, void> }>;
  newSynced: Map<string, SeriesPoint[]>;
  now: number;
  out: CycleAnalysis;
}

/**
 * Backtests per cycle, across all clusters, and at most one per cluster, between which the cycle
 * yields to HTTP (one is 120 forecasts): a fleet that starts at once is calibrated over its first
 * hour instead of stalling one cycle, and hourly backtests of 1,000 nodes need 3 a cycle at 10 s.
 * A count rather than a time, so that a replay gives the same figures on any machine.
 */
const CALIBRATIONS_PER_CYCLE = 4;

export interface CycleAnalysis {
  analyses: ClusterAnalysis[];
  /** History drops seen in this cycle, to be stored. */
  events: StoredEvent[];
  /** The longest stretch the analysis held the event loop (a slice of clusters, or of a backtest), in ms. */
  longestBlockMs: { clusters: number; backtest: number };
}

export class Analyzer {
  private readonly nodes = new Map<string, NodeHistory>();
  private readonly timelines = new Map<string, ColumnSeries>();
  private readonly writes = new Map<string, WriteHistory>();
  /** Per-minute bytes per cluster read at start (the largest of its nodes'), to seed its write history. */
  private readonly seedMinutes = new Map<string, Map<number, number>>();
  private readonly latestByCluster = new Map<string, ClusterAnalysis>();

  private readonly lastThinned = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    for (const cluster of config.clusters) {
      this.seedMinutes.set(cluster.name, new Map());
      const histories = cluster.nodes.map((node) => this.historyOf(cluster.name, node.name));
      const points = clusterSeqnoTimeline(histories);
      const timeline = new ColumnSeries(Math.max(64, points.length), true);
      for (const p of points) timeline.push({ ...p, downto: null, synced: true });
      this.timelines.set(cluster.name, timeline);
      this.writes.set(cluster.name, this.seededWrites(cluster.name));
      // Trimmed now rather than at the first cycle, cluster by cluster: what one cluster's load
      // frees, the next one's reuses, so the allocator is not left holding every node's
      // pre-trim history at once.
      this.compact(cluster.name, timeline, histories, this.now());
      for (const h of histories) h.points.shrinkToFit();
      timeline.shrinkToFit();
    }
    for (const analysis of store.latestAnalyses()) this.latestByCluster.set(analysis.cluster, analysis);
  }

  /** A node's history, loaded from the store the first time the node is seen (at start, or when discovered). */
  private historyOf(cluster: string, node: string): NodeHistory {
    const key = nodeKey(cluster, node);
    let h = this.nodes.get(key);
    if (h) return h;
    const { config, store } = this;
    const start = this.now();
    const longMs = config.horizons.longSeconds * 1000;
    const rawMs = config.storage.retention.rawSeconds * 1000;
    h = new NodeHistory(config.horizons.shortSeconds * 1000, longMs, rawMs);
    // Raw samples: full resolution for the last hour, one a minute (and each epoch's first) before.
    const samples = store.samplesForAnalysis(cluster, node, start - rawMs, start - FULL_RESOLUTION_MS);
    h.points.reserve(samples.length);
    for (const s of samples) h.append(s, false);
    const rollups = store.rollups(cluster, node, start - longMs - MINUTE_MS, start);
    h.minutes.reserve(rollups.length);
    const seed = this.seedMinutes.get(cluster);
    for (const m of rollups) {
      h.minutes.seed(m);
      // A bucket can hold a gap of several minutes: its rate over one minute, not its whole delta.
      if (seed && m.seconds > 0) seed.set(m.minute, Math.max(seed.get(m.minute) ?? 0, (m.bytes / m.seconds) * Math.min(60, m.seconds)));
    }
    for (const d of store.dailyTotals(cluster, node, start - TREND_DAYS * DAY_MS)) h.days.add(d.minute, d);
    for (const e of store.events(cluster, node, start - longMs, start)) {
      if (e.kind === 'page_store_purge') h.purges.push(e.at);
      else if (e.kind === 'rejoin') h.lastRejoin = e.detail as unknown as RejoinRecord;
    }
    const settings = store.latestSettings(cluster, node);
    if (settings) h.settings = settingsView(settings);
    this.nodes.set(key, h);
    return h;
  }

  /** The write history of a cluster, seeded from the per-minute rollups its nodes had at start. */
  private seededWrites(cluster: string): WriteHistory {
    const w = new WriteHistory(Math.max(this.config.horizons.longSeconds * 1000, HOUR_MS), FULL_RESOLUTION_MS);
    const seed = this.seedMinutes.get(cluster);
    if (seed) {
      // The newest bucket is a minute in progress: its point goes at now, not in the future.
      const now = this.now();
      w.load([...seed.entries()].sort((a, b) => a[0] - b[0]).map(([minute, bytes]) => [Math.min(minute + MINUTE_MS, now), bytes] as const));
      this.seedMinutes.delete(cluster);
    }
    return w;
  }

  /** The cluster's write history (for the maintenance check). */
  writesOf(cluster: string): WriteHistory | undefined {
    return this.writes.get(cluster);
  }

  latest(cluster: string): ClusterAnalysis | undefined {
    return this.latestByCluster.get(cluster);
  }

  all(): ClusterAnalysis[] {
    return [...this.latestByCluster.values()];
  }

  /** Page-store purges of a node since `since` (from memory). */
  purgesSince(cluster: string, node: string, since: number): number {
    const purges = this.nodes.get(nodeKey(cluster, node))?.purges ?? [];
    let count = 0;
    for (const t of purges) if (t >= since) count++;
    return count;
  }

  /** Bytes of analysis state held in memory, for the benchmark. */
  stateBytes(): number {
    let total = 0;
    for (const h of this.nodes.values()) total += h.byteSize;
    for (const t of this.timelines.values()) total += t.byteSize;
    for (const w of this.writes.values()) total += w.byteSize;
    return total;
  }

  /** Takes one cycle's samples in and analyses every cluster. */
  onCycle(result: CycleResult): CycleAnalysis {
    const cycle = this.ingest(result);
    for (const cluster of this.config.clusters) this.analyzeCluster(cluster, cycle);
    for (const { steps } of cycle.backtests) while (!steps.next().done);
    return cycle.out;
  }

  /**
   * The same, yielding to the event loop every `sliceMs` between clusters, so that a fleet's
   * analysis never holds up HTTP requests for longer than a slice.
   */
  async onCycleAsync(result: CycleResult, sliceMs = 10): Promise<CycleAnalysis> {
    const started = performance.now();
    const cycle = this.ingest(result);
    const longest = cycle.out.longestBlockMs;
    longest.clusters = Math.max(longest.clusters, await inSlices(this.config.clusters, sliceMs, (cluster) => this.analyzeCluster(cluster, cycle), started));
    // A backtest is 120 forecasts, a step each: it too runs in slices.
    for (const { steps } of cycle.backtests) {
      await yieldToLoop();
      longest.backtest = Math.max(longest.backtest, await inSlices(steps, sliceMs, () => undefined));
    }
    return cycle.out;
  }

  private ingest(result: CycleResult): CycleState {
    const sampled = new Set<string>();
    const newSynced = new Map<string, SeriesPoint[]>();
    const written = new Map<string, { t: number; bytesPerSecond: number }>();
    for (const outcome of result.outcomes) {
      if (!outcome.ok) continue;
      const key = nodeKey(outcome.cluster, outcome.node);
      const h = this.historyOf(outcome.cluster, outcome.node);
      h.append(outcome.sample);
      sampled.add(key);
      // Every node's gcache takes in every write-set: the cluster wrote what its busiest Synced node took in.
      if (outcome.sample.status.localState === 'Synced' && h.lastBytesPerSecond !== null) {
        const w = written.get(outcome.cluster);
        if (!w) written.set(outcome.cluster, { t: outcome.sample.takenAt, bytesPerSecond: h.lastBytesPerSecond });
        else {
          w.t = Math.max(w.t, outcome.sample.takenAt);
          w.bytesPerSecond = Math.max(w.bytesPerSecond, h.lastBytesPerSecond);
        }
      }
      if (outcome.settings) h.settings = settingsView(outcome.settings);
      const p = toPoint(outcome.sample);
      if (p.synced) (newSynced.get(outcome.cluster) ?? newSynced.set(outcome.cluster, []).get(outcome.cluster)!).push(p);
    }
    return {
      sampled,
      newSynced,
      written,
      backtests: [],
      now: this.now(),
      out: { analyses: [], events: [], longestBlockMs: { clusters: 0, backtest: 0 } },
    };
  }

  private analyzeCluster(cluster: ClusterConfig, cycle: CycleState): void {
    const { sampled, now } = cycle;
    const timeline = this.timelines.get(cluster.name)!;
    appendToTimeline(timeline, cycle.newSynced.get(cluster.name) ?? []);
    const writes = this.writes.get(cluster.name)!;
    const written = cycle.written.get(cluster.name);
    if (written) {
      const since = writes.length ? writes.t(writes.length - 1) : written.t;
      writes.add(written.t, (written.bytesPerSecond * Math.max(0, written.t - since)) / 1000);
    }
    // Departed members (discovery) are no longer analysed; their history stays in the store.
    const members = cluster.nodes.filter((n) => !n.departed);
    const histories = members.map((n) => this.historyOf(cluster.name, n.name));
    // How many members the sampled nodes of the Primary component count: fewer than the cluster
    // has means some node really left; a node only the advisor cannot reach is still counted.
    let reportedSize: number | null = null;
    for (const [i, n] of members.entries()) {
      const status = histories[i]!.latest?.status;
      if (sampled.has(nodeKey(cluster.name, n.name)) && status?.clusterStatus === 'Primary') reportedSize = Math.max(reportedSize ?? 0, status.clusterSize);
    }
    const membershipShrank = reportedSize !== null && reportedSize < members.length;
    const analysis = analyzeCluster({
      cluster: cluster.name,
      now,
      targetWindowSeconds: cluster.targetWindowSeconds,
      shortHorizonSeconds: this.config.horizons.shortSeconds,
      longHorizonSeconds: this.config.horizons.longSeconds,
      nodes: members.map((n, i) => histories[i]!.input(n.name, sampled.has(nodeKey(cluster.name, n.name)), now, membershipShrank)),
      seqnoTimeline: timeline,
      writes,
    });
    for (const [i, n] of analysis.nodes.entries()) this.followNode(cluster.name, histories[i]!, n, writes, cycle);
    for (const [i, n] of analysis.nodes.entries()) {
      // A drop is judged on the newest two samples: only a node sampled in this cycle has a new pair.
      if (!n.historyDrop || !sampled.has(nodeKey(cluster.name, n.node))) continue;
      cycle.out.events.push({ cluster: cluster.name, node: n.node, at: now, kind: n.historyDrop.kind, detail: { ...n.historyDrop } });
      if (n.historyDrop.kind === 'page_store_purge') histories[i]!.purges.push(now);
      this.log.warn(n.historyDrop.kind === 'page_store_purge' ? 'page-store purge: gcache history dropped' : 'gcache reset', {
        cluster: cluster.name,
        node: n.node,
        ...n.historyDrop,
      });
    }
    this.compact(cluster.name, timeline, histories, now);
    this.latestByCluster.set(cluster.name, analysis);
    cycle.out.analyses.push(analysis);
  }

  /**
   * After a node's analysis: notes what its countdown said while it is away, records how it came
   * back, and runs its backtest when due (hourly, sooner for short horizons), within the cycle's
   * share of backtests.
   */
  private followNode(cluster: string, h: NodeHistory, n: NodeAnalysis, writes: WriteHistory, cycle: CycleState): void {
    const { now } = cycle;
    if (n.rejoin) {
      const seenNotSynced = (h.away?.seenNotSynced ?? false) || n.reachable;
      const left = { t: n.rejoin.awaySince, seqno: n.rejoin.lastCommitted };
      h.away = { left, expected: n.rejoin.verdict, remainingBytes: n.rejoin.remainingBytes, cycles: (h.away?.cycles ?? 0) + 1, seenNotSynced };
    } else if (h.away && n.reachable) {
      // Back in the group (a node the advisor merely cannot read keeps its absence open); a
      // single missed sample is no absence worth an event.
      if (h.away.seenNotSynced || h.away.cycles >= 2) {
        const { left } = h.away;
        h.lastRejoin = {
          at: now,
          awaySeconds: (now - left.t) / 1000,
          lastCommitted: left.seqno,
          method: rejoinMethod(left.seqno, h.latest?.status.cachedDownto ?? null),
          expected: h.away.expected,
          remainingBytes: h.away.remainingBytes,
        };
        cycle.out.events.push({ cluster, node: n.node, at: now, kind: 'rejoin', detail: { ...h.lastRejoin } });
        this.log.info('node rejoined', { cluster, node: n.node, method: h.lastRejoin.method, expected: h.lastRejoin.expected, awaySeconds: Math.round(h.lastRejoin.awaySeconds) });
      }
      h.away = null;
    }
    const bytes = n.istBudget.current?.bytes;
    // Clusters are analysed one after the other: the newest backtest queued is this cluster's, if any.
    if (bytes == null || bytes <= 0 || cycle.backtests.length >= CALIBRATIONS_PER_CYCLE || cycle.backtests.at(-1)?.cluster === cluster) return;
    const every = Math.min(HOUR_MS, Math.max(MINUTE_MS, 2000 * (n.istBudget.forecast?.likelySeconds ?? 1800)));
    if (now - h.calibration.at < every) return;
    cycle.backtests.push({
      cluster,
      steps: (function* () {
        h.calibration = yield* calibration(writes, now, bytes, h.calibration);
      })(),
    });
  }

  /**
   * Trims each node's points and the cluster's timeline to what the figures can still ask for:
   * back to when the oldest write-set any gcache holds (at its newest two samples) was committed.
   */
  private compact(cluster: string, timeline: ColumnSeries, histories: NodeHistory[], now: number): void {
    let clusterFloor = Number.POSITIVE_INFINITY;
    for (const h of histories) {
      const s = h.points;
      const downtos = [s.length > 0 ? s.downto(s.length - 1) : null, s.length > 1 ? s.downto(s.length - 2) : null].filter((d): d is number => d !== null);
      let floor: number | null = null;
      if (downtos.length > 0) {
        const at = timeAtSeqno(timeline, Math.min(...downtos));
        floor = !at || at.kind === 'before' ? Number.NEGATIVE_INFINITY : at.t;
      }
      h.compact(now, floor);
      clusterFloor = Math.min(clusterFloor, floor ?? Number.POSITIVE_INFINITY);
    }
    const rawFloor = now - this.config.storage.retention.rawSeconds * 1000;
    const floor = Math.max(rawFloor, clusterFloor === Number.POSITIVE_INFINITY ? now : clusterFloor);
    let drop = 0;
    while (drop < timeline.length - 2 && timeline.t(drop + 1) <= floor) drop++;
    if (drop > 0) timeline.dropFront(drop);
    if (now - (this.lastThinned.get(cluster) ?? 0) >= MINUTE_MS) {
      this.lastThinned.set(cluster, now);
      timeline.thinBefore(now - FULL_RESOLUTION_MS);
    }
  }
}

function settingsView(s: NodeSettings): NodeSettingsView {
  return { gcacheSizeBytes: s.sizeBytes, pageSizeBytes: s.pageSizeBytes, recover: s.recover, sstDonor: s.sstDonor, segment: s.segment, epoch: s.epoch };
}

/** Appends a cycle's Synced points in time order, keeping seqnos non-decreasing (as clusterSeqnoTimeline does). */
function appendToTimeline(timeline: ColumnSeries, points: SeriesPoint[]): void {
  points.sort((a, b) => a.t - b.t);
  let maxSeqno = timeline.length ? timeline.seqno(timeline.length - 1) : Number.NEGATIVE_INFINITY;
  const lastT = timeline.length ? timeline.t(timeline.length - 1) : Number.NEGATIVE_INFINITY;
  for (const p of points) {
    if (p.t < lastT || p.seqno < maxSeqno) continue;
    maxSeqno = p.seqno;
    timeline.push({ ...p, downto: null, synced: true });
  }
}
