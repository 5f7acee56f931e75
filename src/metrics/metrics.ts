/**
 * Prometheus metrics. Values are set from memory when a cycle completes; a scrape only
 * serialises them and never queries MySQL. A figure that is unknown (no writes yet, ring not
 * wrapped) is removed rather than exported as NaN, so that absent() and `unless` work in PromQL.
 *
 * The per-node and per-cluster families (tens of thousands of series for a fleet) are kept in
 * SeriesFamily and HistogramFamily below rather than in prom-client's metrics: prom-client builds
 * a label hash string for every set() and a string per series and per label at every rendering,
 * which at 1,000 nodes was over half of everything the daemon allocated in a cycle (issue #8).
 * Here a value is a slot in a typed array, set without allocating, and the rendering writes
 * straight into one reused buffer. The other families (process, build, store, alerts) stay
 * prom-client's, and every family is in the one registry, so the exposition is as before.
 */
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { createGzip, gunzip } from 'node:zlib';
import client from 'prom-client';

const gunzipAsync = promisify(gunzip);
import type { ClusterAnalysis } from '../analysis/cluster-analysis.js';
import type { CycleResult } from '../sampler/sampler.js';
import type { Config } from '../config/load.js';
import { FAILURE_REASONS } from '../sampler/failure.js';
import { HISTORY_DROP_KINDS } from '../analysis/window.js';
import { SubjectRows } from './subject-rows.js';

/** Store error codes exported at 0 from the start, so that increase() sees the first one. */
const KNOWN_STORE_ERRORS = ['SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CORRUPT'];

/** The values of the families' own label, in slot order. */
const HORIZONS = ['short', 'long'] as const;
const WINDOW_METHODS = ['measured', 'estimated_short', 'estimated_long'] as const;
const BUDGET_RATES = ['current', 'pessimistic', 'likely', 'safe'] as const;
const REMAINING_RATES = ['likely', 'safe'] as const;
const [SHORT, LONG] = [0, 1];
const [MEASURED, ESTIMATED_SHORT, ESTIMATED_LONG] = [0, 1, 2];
const [CURRENT, PESSIMISTIC, LIKELY, SAFE] = [0, 1, 2, 3];
const [REMAINING_LIKELY, REMAINING_SAFE] = [0, 1];

/** The help texts of the families kept here, by name. */
const HELP = {
  galera_write_rate_bytes_per_second: 'gcache fill rate: Δ(wsrep_replicated_bytes + wsrep_received_bytes) per second, over the short or long horizon.',
  galera_write_rate_writesets_per_second: 'Committed write-sets per second (Δ wsrep_last_committed), over the short or long horizon.',
  galera_gcache_size_bytes: 'gcache.size from wsrep_provider_options.',
  galera_replication_window_seconds: 'Replication window: measured from the gcache contents, or estimated as gcache.size / rate (short or long horizon).',
  galera_ist_budget_seconds:
    'How long the node could be away, starting now, and still rejoin by IST: at the current or a pessimistic (p95) write rate, or by the time forecast (likely: its median; safe: its calibrated 5th percentile).',
  galera_ist_budget_safe_coverage: "Share (0..1) of the last backtest's start points at which the safe IST budget was not optimistic; absent before the first backtest.",
  galera_ist_remaining_bytes:
    'For a node away after having been Synced: bytes the cluster can still write before no donor holds what it needs for IST (0: IST is lost). Absent while the node is not away.',
  galera_ist_remaining_seconds: 'For a node away after having been Synced: time left before IST is lost, by the time forecast (likely or safe). Absent while the node is not away.',
  galera_gcache_recommended_size_bytes: 'gcache.size needed for the target window at the p95 per-minute write rate of the long horizon, with headroom.',
  galera_target_window_seconds: 'The replication window the cluster is configured to keep.',
  galera_gcache_history_drops_total: 'gcache history dropped at once: page-store purges and resets, as seen by this daemon.',
  galera_node_synced: '1 when wsrep_local_state_comment is Synced and the cluster is Primary, else 0.',
  gcache_advisor_sample_duration_seconds: 'Time taken to read one node.',
  gcache_advisor_sample_errors_total: 'Failed reads of a node, by reason (a node backing off after failures is not read, and not counted).',
  gcache_advisor_last_sample_timestamp_seconds: 'Unix time of the last successful sample of the node.',
  gcache_advisor_up: '1 when the last read of the node succeeded, else 0.',
};

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
  /** Every family with a series per node: a node that departs loses them all. */
  private readonly nodeFamilies: readonly SubjectFamily[];
  private skippedSeen = 0;
  private cached: RenderedMetrics | null = null;
  private rendering: Promise<unknown> = Promise.resolve();
  private readonly output = new TextBuffer();
  private readonly storeErrorsSeen = new Map<string, number>();
  /** Label sets by cluster, and by cluster and node: made once, reused by every cycle. */
  private readonly clusters = new Map<string, Subject>();
  private readonly nodes = new Map<string, Map<string, Subject>>();
  /** Nodes whose series exist because they are members (see followMembers). */
  private readonly declared = new Set<Subject>();
  private memberPass = 0;

  constructor(version: string) {
    const r = [this.registry];
    const own = <F extends SubjectFamily>(family: F): F => {
      // Registered as prom-client's own, so that getMetricsAsJSON and getSingleMetric see it.
      this.registry.registerMetric(family as unknown as client.Metric);
      return family;
    };
    const gauge = (name: keyof typeof HELP, label?: OwnLabel) => own(new SeriesFamily(name, HELP[name], 'gauge', label));
    const counter = (name: keyof typeof HELP, label: OwnLabel) => own(new SeriesFamily(name, HELP[name], 'counter', label));
    this.writeRate = gauge('galera_write_rate_bytes_per_second', { name: 'horizon', values: HORIZONS });
    this.writeSetRate = gauge('galera_write_rate_writesets_per_second', { name: 'horizon', values: HORIZONS });
    this.gcacheSize = gauge('galera_gcache_size_bytes');
    this.window = gauge('galera_replication_window_seconds', { name: 'method', values: WINDOW_METHODS });
    this.istBudget = gauge('galera_ist_budget_seconds', { name: 'rate', values: BUDGET_RATES });
    this.istCoverage = gauge('galera_ist_budget_safe_coverage');
    this.istRemainingBytes = gauge('galera_ist_remaining_bytes');
    this.istRemainingSeconds = gauge('galera_ist_remaining_seconds', { name: 'rate', values: REMAINING_RATES });
    this.recommended = gauge('galera_gcache_recommended_size_bytes');
    this.target = gauge('galera_target_window_seconds');
    this.historyDrops = counter('galera_gcache_history_drops_total', { name: 'kind', values: HISTORY_DROP_KINDS });
    this.nodeSynced = gauge('galera_node_synced');
    this.alerts = new client.Gauge({
      name: 'gcache_advisor_alerts',
      help: "Open alerts (pending or firing), 1 per alert, like Prometheus' ALERTS.",
      labelNames: ['alertname', 'cluster', 'node', 'severity', 'alertstate'],
      registers: r,
    });
    const sampleDurationName = 'gcache_advisor_sample_duration_seconds';
    this.sampleDuration = own(new HistogramFamily(sampleDurationName, HELP[sampleDurationName], [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]));
    this.sampleErrors = counter('gcache_advisor_sample_errors_total', { name: 'reason', values: FAILURE_REASONS });
    this.lastSample = gauge('gcache_advisor_last_sample_timestamp_seconds');
    this.up = gauge('gcache_advisor_up');
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
    this.nodeFamilies = [
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
    ];
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
    for (const c of config.clusters) this.target.set(this.clusterSubject(c.name), 0, c.targetWindowSeconds);
    this.followMembers(config);
  }

  /**
   * Brings the per-node series in line with the members: a new one (configured, or discovered
   * since) gets `up` and its counters at 0; a departed one loses all its series, so that nothing
   * alerts on a node that has left the cluster.
   */
  followMembers(config: Config): void {
    const pass = ++this.memberPass;
    for (const c of config.clusters) {
      for (const n of c.nodes) {
        if (n.departed) continue;
        const subject = this.nodeSubject(c.name, n.name);
        subject.seen = pass;
        if (this.declared.has(subject)) continue;
        this.declared.add(subject);
        this.up.set(subject, 0, 0);
        // Counters exist at 0 from the first scrape, so that dashboards show 0 rather than
        // "No data" and increase() sees the first event.
        for (let reason = 0; reason < FAILURE_REASONS.length; reason++) this.sampleErrors.inc(subject, reason, 0);
        for (let kind = 0; kind < HISTORY_DROP_KINDS.length; kind++) this.historyDrops.inc(subject, kind, 0);
      }
    }
    for (const subject of this.declared) {
      if (subject.seen === pass) continue;
      this.declared.delete(subject);
      for (const family of this.nodeFamilies) family.remove(subject);
      this.nodes.get(subject.labels.cluster!)?.delete(subject.labels.node!);
    }
  }

  recordCycle(result: CycleResult, skippedTotal: number): void {
    for (const o of result.outcomes) {
      const subject = this.nodeSubject(o.cluster, o.node);
      if (o.ok) {
        this.up.set(subject, 0, 1);
        this.lastSample.set(subject, 0, o.sample.takenAt / 1000);
        this.sampleDuration.observe(subject, o.sample.durationMs / 1000);
      } else {
        this.up.set(subject, 0, 0);
        // A node backing off after failures was not read this cycle: no failed read to count.
        if (!o.backingOff) this.sampleErrors.inc(subject, this.sampleErrors.slotOf(o.failure.reason), 1);
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
    const cluster = this.clusterSubject(a.cluster);
    this.recommended.setOrRemove(cluster, 0, a.recommendation.recommendedGcacheSizeBytes);
    this.target.set(cluster, 0, a.recommendation.targetWindowSeconds);
    for (const n of a.nodes) {
      const node = this.nodeSubject(a.cluster, n.node);
      this.gcacheSize.setOrRemove(node, 0, n.gcacheSizeBytes);
      this.writeRate.setOrRemove(node, SHORT, n.rates.short?.bytesPerSecond);
      this.writeRate.setOrRemove(node, LONG, n.rates.long?.bytesPerSecond);
      this.writeSetRate.setOrRemove(node, SHORT, n.rates.short?.writeSetsPerSecond);
      this.writeSetRate.setOrRemove(node, LONG, n.rates.long?.writeSetsPerSecond);
      this.window.setOrRemove(node, MEASURED, n.measured.measuredSeconds);
      this.window.setOrRemove(node, ESTIMATED_SHORT, n.estimated.short.bestSeconds);
      this.window.setOrRemove(node, ESTIMATED_LONG, n.estimated.long.bestSeconds);
      this.istBudget.setOrRemove(node, CURRENT, n.istBudget.current?.seconds);
      this.istBudget.setOrRemove(node, PESSIMISTIC, n.istBudget.pessimistic?.seconds);
      this.istBudget.setOrRemove(node, LIKELY, n.istBudget.likely?.seconds);
      this.istBudget.setOrRemove(node, SAFE, n.istBudget.safe?.seconds);
      this.istCoverage.setOrRemove(node, 0, n.istBudget.forecast?.calibration.coverage);
      // The countdown's series exist only while the node is away: back in the cluster, they go.
      this.istRemainingBytes.setOrRemove(node, 0, n.rejoin?.remainingBytes);
      this.istRemainingSeconds.setOrRemove(node, REMAINING_LIKELY, n.rejoin?.remainingSeconds.likely);
      this.istRemainingSeconds.setOrRemove(node, REMAINING_SAFE, n.rejoin?.remainingSeconds.safe);
      this.nodeSynced.set(node, 0, n.reachable && n.localState === 'Synced' && n.clusterStatus === 'Primary' ? 1 : 0);
      if (n.historyDrop && n.reachable) this.historyDrops.inc(node, this.historyDrops.slotOf(n.historyDrop.kind), 1);
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
   * bytes ready to go, whatever the number of nodes. The text is gzipped as it is rendered (on
   * the thread pool), one family at a time, and only the gzipped exposition is kept, since
   * Prometheus asks for gzip: a thousand nodes are ~3 MB of text and ~0.2 MB gzipped. A client
   * that does not accept gzip gets the text inflated for it. The process_* and nodejs_* figures
   * are as of that moment, which at the sampling interval is as fresh as Prometheus needs them.
   */
  renderCache(): Promise<{ longestFamilyMs: number; longestFamily: string | null }> {
    // One rendering at a time: they share the buffer, and a scrape before the first cycle's
    // rendering would otherwise interleave with it.
    const next = this.rendering.then(
      () => this.renderOnce(),
      () => this.renderOnce(),
    );
    this.rendering = next;
    return next;
  }

  private async renderOnce(): Promise<{ longestFamilyMs: number; longestFamily: string | null }> {
    // One family at a time, each handed to zlib before the next is rendered into the same
    // buffer: a thousand nodes make a few MB of text, which is never held whole, and waiting
    // for zlib between families lets the HTTP requests in.
    const out = this.output;
    const gzip = createGzip();
    const chunks: Buffer[] = [];
    gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<void>((resolve, reject) => gzip.on('end', resolve).on('error', reject));
    // A zlib error also fails the pending write, which is what renderCache reports.
    ended.catch(() => undefined);
    const compress = async (): Promise<void> => {
      if (out.length === 0) return;
      await new Promise<void>((resolve, reject) => gzip.write(out.view(), (err) => (err ? reject(err) : resolve())));
      out.clear();
    };
    let longestFamilyMs = 0;
    let longestFamily: string | null = null;
    for (const [index, metric] of this.registry.getMetricsAsArray().entries()) {
      const started = performance.now();
      const family: unknown = metric; // the registry types its entries as prom-client's, ours among them
      // Families apart by a blank line, as prom-client's own registry.metrics() joins them.
      if (index > 0) out.write('\n\n');
      if (family instanceof SubjectFamily) family.renderInto(out);
      else out.write(await this.registry.getSingleMetricAsString(metric.name));
      const took = performance.now() - started;
      if (took > longestFamilyMs) [longestFamilyMs, longestFamily] = [took, metric.name];
      await compress();
    }
    out.write('\n');
    await compress();
    gzip.end();
    await ended;
    this.cached = new Rendered(Buffer.concat(chunks));
    return { longestFamilyMs, longestFamily };
  }

  /** The last rendering (rendered now if there is none yet). */
  async rendered(): Promise<RenderedMetrics> {
    if (this.cached === null) await this.renderCache();
    return this.cached!;
  }

  /** The text of the last rendering. */
  async render(): Promise<string> {
    return (await (await this.rendered()).text()).toString('utf8');
  }

  private clusterSubject(cluster: string): Subject {
    let subject = this.clusters.get(cluster);
    if (!subject) this.clusters.set(cluster, (subject = new Subject({ cluster })));
    return subject;
  }

  private nodeSubject(cluster: string, node: string): Subject {
    let inCluster = this.nodes.get(cluster);
    if (!inCluster) this.nodes.set(cluster, (inCluster = new Map()));
    let subject = inCluster.get(node);
    if (!subject) inCluster.set(node, (subject = new Subject({ cluster, node })));
    return subject;
  }
}

/** The exposition as served: gzipped, and its text inflated on demand. */
export interface RenderedMetrics {
  readonly gzip: Buffer;
  text(): Promise<Buffer>;
}

class Rendered implements RenderedMetrics {
  constructor(readonly gzip: Buffer) {}
  text(): Promise<Buffer> {
    return gunzipAsync(this.gzip);
  }
}

/** The labels of one node or one cluster, and the same formatted once for the exposition (`cluster="c",node="n"`). */
class Subject {
  readonly text: string;
  /** The last followMembers pass that found the node among the members. */
  seen = 0;

  constructor(readonly labels: Readonly<Record<string, string>>) {
    this.text = formatLabels(labels);
  }
}

/** How prom-client's exposition writes a label set: in the object's order, values escaped. */
function formatLabels(labels: Readonly<Record<string, string | number>>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabelValue(String(value))}"`)
    .join(',');
}

function escapeLabelValue(value: string): string {
  return escapeText(value).replace(/"/g, '\\"');
}

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** One value as prom-client writes it: the number as JavaScript prints it, and its spellings of NaN and infinity. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return String(value);
}

/** What prom-client's metric.get() answers, which its registry (getMetricsAsJSON) and the tests read. */
interface FamilySnapshot {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
  aggregator: 'sum';
}

/** A family's own label (besides cluster and node), with every value it takes, in slot order. */
interface OwnLabel {
  name: string;
  values: readonly string[];
}

/** What every family kept here has: a row of numbers per subject, and its HELP and TYPE lines. */
abstract class SubjectFamily {
  protected readonly rows: SubjectRows<Subject>;
  protected readonly header: string;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter' | 'histogram',
    /** Numbers in a subject's row, and what a new row holds. */
    width: number,
    initial: number,
  ) {
    this.rows = new SubjectRows(width, initial);
    this.header = `# HELP ${escapeText(name)} ${escapeText(help)}\n# TYPE ${escapeText(name)} ${type}`;
  }

  /** Every series of one subject goes. */
  remove(subject: Subject): void {
    this.rows.delete(subject);
  }

  reset(): void {
    this.rows.clear();
  }

  /** Writes the family's block of the exposition (no newline at its end, as prom-client's). */
  abstract renderInto(out: TextBuffer): void;

  abstract get(): FamilySnapshot;
}

/**
 * A gauge or counter family with a series per subject (a node or a cluster) and, optionally, per
 * value of one more label of its own (horizon, method, rate...), whose values are known up front:
 * each subject has a slot per value, and NaN in a slot means "no such series".
 */
class SeriesFamily extends SubjectFamily {
  /** `,horizon="short"` and so on, in slot order (one empty one without an own label). */
  private readonly slotTexts: string[];

  constructor(
    name: string,
    help: string,
    type: 'gauge' | 'counter',
    private readonly own: OwnLabel | null = null,
  ) {
    super(name, help, type, own ? own.values.length : 1, Number.NaN);
    this.slotTexts = own ? own.values.map((v) => `,${own.name}="${escapeLabelValue(v)}"`) : [''];
  }

  /** The slot of a value of the family's own label; a value it was not made with is a programming error. */
  slotOf(value: string): number {
    const slot = this.own ? this.own.values.indexOf(value) : -1;
    if (slot < 0) throw new Error(`${this.name}: no series for ${this.own?.name ?? 'a label'} "${value}"`);
    return slot;
  }

  set(subject: Subject, slot: number, value: number): void {
    const offset = this.rows.offsetOf(subject);
    this.rows.array[offset + slot] = value;
  }

  /** Sets a finite value, or removes the series for anything else (an unknown figure is absent, not NaN). */
  setOrRemove(subject: Subject, slot: number, value: number | null | undefined): void {
    if (typeof value === 'number' && Number.isFinite(value)) this.set(subject, slot, value);
    else {
      const offset = this.rows.find(subject);
      if (offset >= 0) this.rows.array[offset + slot] = Number.NaN;
    }
  }

  /** Adds to a counter (a delta of 0 makes the series exist at 0). */
  inc(subject: Subject, slot: number, delta: number): void {
    const offset = this.rows.offsetOf(subject);
    const values = this.rows.array;
    values[offset + slot] = (Number.isNaN(values[offset + slot]!) ? 0 : values[offset + slot]!) + delta;
  }

  renderInto(out: TextBuffer): void {
    out.write(this.header);
    const values = this.rows.array;
    this.rows.forEach((offset, subject) => {
      for (let slot = 0; slot < this.slotTexts.length; slot++) {
        const value = values[offset + slot]!;
        if (Number.isNaN(value)) continue;
        out.write('\n');
        out.write(this.name);
        out.write('{');
        out.write(subject.text);
        out.write(this.slotTexts[slot]!);
        out.write('} ');
        out.write(formatValue(value));
      }
    });
  }

  get(): FamilySnapshot {
    const values: FamilySnapshot['values'] = [];
    const row = this.rows.array;
    this.rows.forEach((offset, subject) => {
      for (let slot = 0; slot < this.slotTexts.length; slot++) {
        const value = row[offset + slot]!;
        if (!Number.isNaN(value)) values.push({ labels: this.own ? { ...subject.labels, [this.own.name]: this.own.values[slot]! } : { ...subject.labels }, value });
      }
    });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

/**
 * A histogram with a series per subject, as prom-client's writes it: cumulative `_bucket`s with
 * `le` first, then `le="+Inf"`, `_sum` and `_count`. Per subject: the count of each bucket (not
 * cumulative), then the sum and the count.
 */
class HistogramFamily extends SubjectFamily {
  private readonly bucketTexts: string[];

  constructor(
    name: string,
    help: string,
    private readonly buckets: readonly number[],
  ) {
    super(name, help, 'histogram', buckets.length + 2, 0);
    this.bucketTexts = [...buckets.map((b) => `\n${name}_bucket{le="${b}",`), `\n${name}_bucket{le="+Inf",`];
  }

  observe(subject: Subject, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: not a finite value: ${value}`);
    const n = this.buckets.length;
    const offset = this.rows.offsetOf(subject);
    const row = this.rows.array;
    let bucket = 0;
    while (bucket < n && !(value <= this.buckets[bucket]!)) bucket++;
    if (bucket < n) row[offset + bucket]!++;
    row[offset + n]! += value;
    row[offset + n + 1]!++;
  }

  renderInto(out: TextBuffer): void {
    out.write(this.header);
    const n = this.buckets.length;
    const row = this.rows.array;
    this.rows.forEach((offset, subject) => {
      let cumulative = 0;
      for (let i = 0; i <= n; i++) {
        cumulative = i < n ? cumulative + row[offset + i]! : row[offset + n + 1]!;
        out.write(this.bucketTexts[i]!);
        out.write(subject.text);
        out.write('} ');
        out.write(formatValue(cumulative));
      }
      // The sum and the count follow the buckets in the row: no array of pairs made per node.
      for (let i = 0; i < 2; i++) {
        out.write('\n');
        out.write(this.name);
        out.write(i === 0 ? '_sum{' : '_count{');
        out.write(subject.text);
        out.write('} ');
        out.write(formatValue(row[offset + n + i]!));
      }
    });
  }

  get(): FamilySnapshot {
    const values: FamilySnapshot['values'] = [];
    const n = this.buckets.length;
    const row = this.rows.array;
    this.rows.forEach((offset, subject) => {
      let cumulative = 0;
      for (let i = 0; i < n; i++) {
        cumulative += row[offset + i]!;
        values.push({ labels: { le: this.buckets[i]!, ...subject.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', ...subject.labels }, value: row[offset + n + 1]!, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...subject.labels }, value: row[offset + n]!, metricName: `${this.name}_sum` });
      values.push({ labels: { ...subject.labels }, value: row[offset + n + 1]!, metricName: `${this.name}_count` });
    });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }
}

/** The exposition being rendered: one buffer, grown as needed and reused from one rendering to the next. */
class TextBuffer {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  length = 0;

  clear(): void {
    this.length = 0;
  }

  write(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const needed = this.length + text.length * 3;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, Math.ceil(this.buffer.length * 1.5)));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  /** The text so far, in the buffer itself: valid until the next write or clear. */
  view(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
