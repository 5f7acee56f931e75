/**
 * Prometheus metrics. Values are set from memory when a cycle completes; a scrape only
 * serialises them and never queries MySQL. A figure that is unknown (no writes yet, ring not
 * wrapped) is removed rather than exported as NaN, so that absent() and `unless` work in PromQL.
 */
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import client from 'prom-client';

const gzipAsync = promisify(gzip);
import type { ClusterAnalysis } from '../analysis/cluster-analysis.js';
import type { CycleResult } from '../sampler/sampler.js';
import type { Config } from '../config/load.js';
import { nodeKey } from '../config/keys.js';
import { FAILURE_REASONS } from '../sampler/failure.js';
import { HISTORY_DROP_KINDS } from '../analysis/window.js';

/** Store error codes exported at 0 from the start, so that increase() sees the first one. */
const KNOWN_STORE_ERRORS = ['SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CORRUPT'];

export class Metrics {
  readonly registry = new client.Registry();
  private readonly writeRate;
  private readonly writeSetRate;
  private readonly gcacheSize;
  private readonly window;
  private readonly istBudget;
  private readonly istCoverage;
  private readonly istRemainingBytes;
  private readonly istRemainingSeconds;
  private readonly recommended;
  private readonly target;
  private readonly historyDrops;
  private readonly sampleDuration;
  private readonly sampleErrors;
  private readonly lastSample;
  private readonly up;
  private readonly skippedCycles;
  private readonly nodeSynced;
  private readonly alerts;
  private readonly storeErrors;
  private readonly storeWritable;
  private skippedSeen = 0;
  private cached: RenderedMetrics | null = null;
  private readonly storeErrorsSeen = new Map<string, number>();
  /** Nodes whose series exist, by nodeKey. */
  private readonly declared = new Map<string, { cluster: string; node: string }>();

  constructor(version: string) {
    const r = [this.registry];
    this.writeRate = new client.Gauge({
      name: 'galera_write_rate_bytes_per_second',
      help: 'gcache fill rate: Δ(wsrep_replicated_bytes + wsrep_received_bytes) per second, over the short or long horizon.',
      labelNames: ['cluster', 'node', 'horizon'],
      registers: r,
    });
    this.writeSetRate = new client.Gauge({
      name: 'galera_write_rate_writesets_per_second',
      help: 'Committed write-sets per second (Δ wsrep_last_committed), over the short or long horizon.',
      labelNames: ['cluster', 'node', 'horizon'],
      registers: r,
    });
    this.gcacheSize = new client.Gauge({ name: 'galera_gcache_size_bytes', help: 'gcache.size from wsrep_provider_options.', labelNames: ['cluster', 'node'], registers: r });
    this.window = new client.Gauge({
      name: 'galera_replication_window_seconds',
      help: 'Replication window: measured from the gcache contents, or estimated as gcache.size / rate (short or long horizon).',
      labelNames: ['cluster', 'node', 'method'],
      registers: r,
    });
    this.istBudget = new client.Gauge({
      name: 'galera_ist_budget_seconds',
      help: 'How long the node could be away, starting now, and still rejoin by IST: at the current or a pessimistic (p95) write rate, or by the time forecast (likely: its median; safe: its calibrated 5th percentile).',
      labelNames: ['cluster', 'node', 'rate'],
      registers: r,
    });
    this.istCoverage = new client.Gauge({
      name: 'galera_ist_budget_safe_coverage',
      help: "Share (0..1) of the last backtest's start points at which the safe IST budget was not optimistic; absent before the first backtest.",
      labelNames: ['cluster', 'node'],
      registers: r,
    });
    this.istRemainingBytes = new client.Gauge({
      name: 'galera_ist_remaining_bytes',
      help: 'For a node away after having been Synced: bytes the cluster can still write before no donor holds what it needs for IST (0: IST is lost). Absent while the node is not away.',
      labelNames: ['cluster', 'node'],
      registers: r,
    });
    this.istRemainingSeconds = new client.Gauge({
      name: 'galera_ist_remaining_seconds',
      help: 'For a node away after having been Synced: time left before IST is lost, by the time forecast (likely or safe). Absent while the node is not away.',
      labelNames: ['cluster', 'node', 'rate'],
      registers: r,
    });
    this.recommended = new client.Gauge({
      name: 'galera_gcache_recommended_size_bytes',
      help: 'gcache.size needed for the target window at the p95 per-minute write rate of the long horizon, with headroom.',
      labelNames: ['cluster'],
      registers: r,
    });
    this.target = new client.Gauge({
      name: 'galera_target_window_seconds',
      help: 'The replication window the cluster is configured to keep.',
      labelNames: ['cluster'],
      registers: r,
    });
    this.historyDrops = new client.Counter({
      name: 'galera_gcache_history_drops_total',
      help: 'gcache history dropped at once: page-store purges and resets, as seen by this daemon.',
      labelNames: ['cluster', 'node', 'kind'],
      registers: r,
    });
    this.nodeSynced = new client.Gauge({
      name: 'galera_node_synced',
      help: '1 when wsrep_local_state_comment is Synced and the cluster is Primary, else 0.',
      labelNames: ['cluster', 'node'],
      registers: r,
    });
    this.alerts = new client.Gauge({
      name: 'gcache_advisor_alerts',
      help: "Open alerts (pending or firing), 1 per alert, like Prometheus' ALERTS.",
      labelNames: ['alertname', 'cluster', 'node', 'severity', 'alertstate'],
      registers: r,
    });
    this.sampleDuration = new client.Histogram({
      name: 'gcache_advisor_sample_duration_seconds',
      help: 'Time taken to read one node.',
      labelNames: ['cluster', 'node'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: r,
    });
    this.sampleErrors = new client.Counter({
      name: 'gcache_advisor_sample_errors_total',
      help: 'Failed reads of a node, by reason (a node backing off after failures is not read, and not counted).',
      labelNames: ['cluster', 'node', 'reason'],
      registers: r,
    });
    this.lastSample = new client.Gauge({
      name: 'gcache_advisor_last_sample_timestamp_seconds',
      help: 'Unix time of the last successful sample of the node.',
      labelNames: ['cluster', 'node'],
      registers: r,
    });
    this.up = new client.Gauge({ name: 'gcache_advisor_up', help: '1 when the last read of the node succeeded, else 0.', labelNames: ['cluster', 'node'], registers: r });
    this.skippedCycles = new client.Counter({
      name: 'gcache_advisor_skipped_cycles_total',
      help: 'Sampling ticks skipped because the previous cycle was still running.',
      registers: r,
    });
    this.storeErrors = new client.Counter({
      name: 'gcache_advisor_store_errors_total',
      help: 'Failed writes to the SQLite store, by SQLite error code (SQLITE_FULL, SQLITE_BUSY, SQLITE_READONLY...).',
      labelNames: ['code'],
      registers: r,
    });
    this.storeWritable = new client.Gauge({ name: 'gcache_advisor_store_writable', help: '1 when the last write to the SQLite store succeeded, else 0.', registers: r });
    for (const code of KNOWN_STORE_ERRORS) this.storeErrors.inc({ code }, 0);
    this.storeWritable.set(1);
    new client.Gauge({ name: 'gcache_advisor_build_info', help: 'Build information; always 1.', labelNames: ['version', 'nodejs'], registers: r }).set(
      { version, nodejs: process.version },
      1,
    );
    client.collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges *_total, which Prometheus reserves for counters (promtool
    // flags them); the process_* and other nodejs_* metrics stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
  }

  /** Seeds every configured node, so that up and the error counters exist before the first failure. */
  declareNodes(config: Config): void {
    new client.Gauge({
      name: 'gcache_advisor_shard_info',
      help: "This instance's shard (index of count) and how many clusters it watches; always 1.",
      labelNames: ['shard', 'shards', 'clusters'],
      registers: [this.registry],
    }).set({ shard: String(config.sharding.index), shards: String(config.sharding.count), clusters: String(config.clusters.length) }, 1);
    for (const c of config.clusters) this.target.set({ cluster: c.name }, c.targetWindowSeconds);
    this.followMembers(config);
  }

  /**
   * Brings the per-node series in line with the members: a new one (configured, or discovered
   * since) gets `up` and its counters at 0; a departed one loses all its series, so that nothing
   * alerts on a node that has left the cluster.
   */
  followMembers(config: Config): void {
    const members = new Set<string>();
    for (const c of config.clusters) {
      for (const n of c.nodes) {
        if (n.departed) continue;
        const key = nodeKey(c.name, n.name);
        members.add(key);
        if (this.declared.has(key)) continue;
        const labels = { cluster: c.name, node: n.name };
        this.declared.set(key, labels);
        this.up.set(labels, 0);
        // Counters exist at 0 from the first scrape, so that dashboards show 0 rather than
        // "No data" and increase() sees the first event.
        for (const reason of FAILURE_REASONS) this.sampleErrors.inc({ ...labels, reason }, 0);
        for (const kind of HISTORY_DROP_KINDS) this.historyDrops.inc({ ...labels, kind }, 0);
      }
    }
    for (const [key, { cluster, node }] of [...this.declared]) {
      if (members.has(key)) continue;
      this.declared.delete(key);
      for (const metric of [
        this.writeRate,
        this.writeSetRate,
        this.gcacheSize,
        this.window,
        this.istBudget,
        this.istCoverage,
        this.istRemainingBytes,
        this.istRemainingSeconds,
        this.historyDrops,
        this.sampleDuration,
        this.sampleErrors,
        this.lastSample,
        this.up,
        this.nodeSynced,
      ]) {
        removeNodeSeries(metric, cluster, node);
      }
    }
  }

  recordCycle(result: CycleResult, skippedTotal: number): void {
    for (const o of result.outcomes) {
      const labels = { cluster: o.cluster, node: o.node };
      if (o.ok) {
        this.up.set(labels, 1);
        this.lastSample.set(labels, o.sample.takenAt / 1000);
        this.sampleDuration.observe(labels, o.sample.durationMs / 1000);
      } else {
        this.up.set(labels, 0);
        // A node backing off after failures was not read this cycle: no failed read to count.
        if (!o.backingOff) this.sampleErrors.inc({ ...labels, reason: o.failure.reason });
      }
    }
    if (skippedTotal > this.skippedSeen) this.skippedCycles.inc(skippedTotal - this.skippedSeen);
    this.skippedSeen = skippedTotal;
  }

  /** The store's failed-write counts since start (by code), and whether the last write went through. */
  recordStore(errorsByCode: ReadonlyMap<string, number>, health: { ok: boolean }): void {
    for (const [code, total] of errorsByCode) {
      const delta = total - (this.storeErrorsSeen.get(code) ?? 0);
      if (delta > 0) this.storeErrors.inc({ code }, delta);
      this.storeErrorsSeen.set(code, total);
    }
    this.storeWritable.set(health.ok ? 1 : 0);
  }

  recordAnalysis(a: ClusterAnalysis): void {
    setOrRemove(this.recommended, { cluster: a.cluster }, a.recommendation.recommendedGcacheSizeBytes);
    this.target.set({ cluster: a.cluster }, a.recommendation.targetWindowSeconds);
    for (const n of a.nodes) {
      const labels = { cluster: a.cluster, node: n.node };
      setOrRemove(this.gcacheSize, labels, n.gcacheSizeBytes);
      setOrRemove(this.writeRate, { ...labels, horizon: 'short' }, n.rates.short?.bytesPerSecond);
      setOrRemove(this.writeRate, { ...labels, horizon: 'long' }, n.rates.long?.bytesPerSecond);
      setOrRemove(this.writeSetRate, { ...labels, horizon: 'short' }, n.rates.short?.writeSetsPerSecond);
      setOrRemove(this.writeSetRate, { ...labels, horizon: 'long' }, n.rates.long?.writeSetsPerSecond);
      setOrRemove(this.window, { ...labels, method: 'measured' }, n.measured.measuredSeconds);
      setOrRemove(this.window, { ...labels, method: 'estimated_short' }, n.estimated.short.bestSeconds);
      setOrRemove(this.window, { ...labels, method: 'estimated_long' }, n.estimated.long.bestSeconds);
      setOrRemove(this.istBudget, { ...labels, rate: 'current' }, n.istBudget.current?.seconds);
      setOrRemove(this.istBudget, { ...labels, rate: 'pessimistic' }, n.istBudget.pessimistic?.seconds);
      setOrRemove(this.istBudget, { ...labels, rate: 'likely' }, n.istBudget.likely?.seconds);
      setOrRemove(this.istBudget, { ...labels, rate: 'safe' }, n.istBudget.safe?.seconds);
      setOrRemove(this.istCoverage, labels, n.istBudget.forecast?.calibration.coverage);
      // The countdown's series exist only while the node is away: back in the cluster, they go.
      setOrRemove(this.istRemainingBytes, labels, n.rejoin?.remainingBytes);
      setOrRemove(this.istRemainingSeconds, { ...labels, rate: 'likely' }, n.rejoin?.remainingSeconds.likely);
      setOrRemove(this.istRemainingSeconds, { ...labels, rate: 'safe' }, n.rejoin?.remainingSeconds.safe);
      this.nodeSynced.set(labels, n.reachable && n.localState === 'Synced' && n.clusterStatus === 'Primary' ? 1 : 0);
      if (n.historyDrop && n.reachable) this.historyDrops.inc({ ...labels, kind: n.historyDrop.kind });
    }
  }

  recordAlerts(open: ReadonlyArray<{ rule: string; severity: string; labels: Record<string, string>; state: string }>): void {
    this.alerts.reset();
    for (const a of open) {
      this.alerts.set({ alertname: a.rule, cluster: a.labels.cluster ?? '', node: a.labels.node ?? '', severity: a.severity, alertstate: a.state }, 1);
    }
  }

  /**
   * Renders the registry once, after a cycle has set every value: a scrape then costs a copy of
   * bytes ready to go, whatever the number of nodes. The text is also gzipped once (on the thread
   * pool), since Prometheus asks for gzip: a thousand nodes are ~3 MB of text and ~0.2 MB gzipped.
   * The process_* and nodejs_* figures are as of that moment, which at the sampling interval is as
   * fresh as Prometheus needs them.
   */
  async renderCache(): Promise<{ longestFamilyMs: number; longestFamily: string | null }> {
    // One family at a time, yielding in between: a thousand nodes make a few MB of text, and
    // rendering it in one go would hold up the HTTP requests waiting meanwhile.
    const parts: string[] = [];
    let longestFamilyMs = 0;
    let longestFamily: string | null = null;
    for (const metric of this.registry.getMetricsAsArray()) {
      const started = performance.now();
      parts.push(await this.registry.getSingleMetricAsString(metric.name));
      const took = performance.now() - started;
      if (took > longestFamilyMs) [longestFamilyMs, longestFamily] = [took, metric.name];
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const text = Buffer.from(parts.join('\n\n') + '\n'); // as prom-client's own registry.metrics() joins them
    this.cached = { text, gzip: await gzipAsync(text) };
    return { longestFamilyMs, longestFamily };
  }

  /** The last rendering (rendered now if there is none yet). */
  async rendered(): Promise<RenderedMetrics> {
    if (this.cached === null) await this.renderCache();
    return this.cached!;
  }

  /** The text of the last rendering. */
  async render(): Promise<string> {
    return (await this.rendered()).text.toString('utf8');
  }
}

/** The exposition as served: its bytes, and the same gzipped. */
export interface RenderedMetrics {
  text: Buffer;
  gzip: Buffer;
}

function setOrRemove<T extends string>(gauge: client.Gauge<T>, labels: Partial<Record<T, string>>, value: number | null | undefined): void {
  if (typeof value === 'number' && Number.isFinite(value)) gauge.set(labels, value);
  else gauge.remove(labels);
}

/** Removes every series of one node from a metric, whatever its other labels. */
function removeNodeSeries(
  metric: {
    get(): Promise<client.MetricObjectWithValues<client.MetricValue<string>>> | client.MetricObjectWithValues<client.MetricValue<string>>;
    remove(labels: Record<string, string | number>): void;
  },
  cluster: string,
  node: string,
): void {
  void Promise.resolve(metric.get()).then((m) => {
    for (const v of m.values) {
      const labels = v.labels as Record<string, string>;
      if (labels.cluster === cluster && labels.node === node) metric.remove(Object.fromEntries(Object.entries(labels).filter(([k]) => k !== 'le')));
    }
  });
}
