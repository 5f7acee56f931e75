/**
 * What happens after every sampling cycle, in order: analysis (from memory), one write
 * transaction for what the cycle produced, metrics (rendered once, served from cache), rules,
 * the outbox, a slice of retention, and the health figures. A failing step is logged (at most
 * once a minute per step) and the next steps still run: a full disk must not stop the metrics,
 * nor a broken rule the analysis.
 */
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import type { Config } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { throttled } from '../log/throttle.js';
import type { NodeSettings, Store, StoredEvent } from '../store/store.js';
import type { CycleResult } from '../sampler/sampler.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RuleEngine } from '../rules/engine.js';
import type { Outbox } from '../alerts/outbox.js';
import type { ClusterAnalysis } from '../analysis/cluster-analysis.js';
import type { Analyzer } from './analyzer.js';
import { yieldToLoop } from '../loop/slices.js';
import { RetentionRunner } from './retention.js';
import { HOUR_MS, MINUTE_MS } from '../units/time.js';
import { AnalysisRecorder } from './analysis-recorder.js';
import { nodeKey } from '../config/keys.js';

export interface CycleDeps {
  config: Config;
  store: Store;
  analyzer: Analyzer;
  metrics: Metrics;
  engine: RuleEngine;
  outbox: Outbox;
  log: Logger;
  skippedCycles: () => number;
  now?: () => number;
  /** Called at the end of a cycle whose transaction committed (the daemon checkpoints the WAL then); what it resolves to says how long it held the event loop. */
  afterCommittedCycle?: () => Promise<{ loopMs: number } | null> | undefined;
}

export class CyclePipeline {
  private readonly retention: RetentionRunner;
  private readonly recorder: AnalysisRecorder;
  private readonly logFailure: ReturnType<typeof throttled>;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  /** The longest garbage-collection pause since the last cycle: a pause holds up HTTP requests as a long step does. */
  private longestGcMs = 0;
  /** The metric family whose rendering held the event loop longest in this cycle. */
  private slowestFamily: string | null = null;
  private readonly gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.longestGcMs = Math.max(this.longestGcMs, entry.duration);
  });
  private readonly maintenance: Map<string, number>;
  private readonly now: () => number;
  private cycleStarts: number[] = [];
  private readonly unsavedSettings = new Map<string, NodeSettings>();
  private stepMs: Record<string, number> = {};
  lastSampleAt: number | null = null;

  constructor(private readonly deps: CycleDeps) {
    this.now = deps.now ?? Date.now;
    this.retention = new RetentionRunner(deps.store, deps.config.storage.retention, deps.log);
    this.recorder = new AnalysisRecorder(deps.store);
    this.logFailure = throttled(deps.log, MINUTE_MS, this.now);
    this.maintenance = new Map(deps.config.clusters.map((c) => [c.name, c.maintenanceAllowanceSeconds]));
    this.loopDelay.enable();
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  /** How often cycles run, in ms (measured between the last two; a default until two have run). */
  expectedIntervalMs(): number {
    return this.cycleStarts.length === 2 ? this.cycleStarts[1]! - this.cycleStarts[0]! : MINUTE_MS;
  }

  /**
   * Runs the steps after a sampling cycle. The analysis yields to the event loop between
   * clusters and the steps yield between each other, so that HTTP requests are served between
   * them however large the fleet.
   */
  async run(result: CycleResult): Promise<ClusterAnalysis[]> {
    const { store, analyzer, metrics, engine, outbox, log } = this.deps;
    let cycle: Awaited<ReturnType<Analyzer['onCycleAsync']>> | undefined;
    try {
      cycle = await analyzer.onCycleAsync(result);
    } catch (err) {
      this.logFailure('analysis', 'cycle step failed: analysis', { err });
    }
    if (cycle) {
      this.stepMs.analysis = Math.round(cycle.longestBlockMs.clusters);
      this.stepMs.backtest = Math.round(cycle.longestBlockMs.backtest);
    }
    await yieldToLoop();
    const analyses = cycle?.analyses ?? [];
    // One transaction for the whole cycle: what was sampled, what it showed, what was analysed.
    // It is written in slices with the event loop free in between (the transaction stays open),
    // so that a fleet's cycle never holds up HTTP requests for long. When it fails (a full disk,
    // a lock held elsewhere) the cycle's rows are lost but for the gcache settings, which are
    // read once an epoch: those are kept and written with the next cycle.
    for (const o of result.outcomes) if (o.ok && o.settings) this.unsavedSettings.set(nodeKey(o.cluster, o.node), o.settings);
    const saved = await this.storeCycle(result, cycle?.events ?? [], analyses);
    if (saved) this.unsavedSettings.clear();
    await yieldToLoop();
    this.step('metrics', () => metrics.followMembers(this.deps.config));
    for (let i = 0; i < analyses.length; i += STORE_SLICE) {
      this.step('metrics', () => {
        for (const analysis of analyses.slice(i, i + STORE_SLICE)) metrics.recordAnalysis(analysis);
      });
      await yieldToLoop();
    }
    this.step('metrics', () => metrics.recordCycle(result, this.deps.skippedCycles()));
    await yieldToLoop();
    const missed = new Map(result.outcomes.map((o) => [nodeKey(o.cluster, o.node), o.ok ? 0 : o.consecutiveFailures]));
    const now = this.now();
    try {
      const rules = await engine.evaluateAsync(
        analyses,
        (cluster, node) => ({
          missedCycles: missed.get(nodeKey(cluster, node)) ?? 0,
          purgesLastHour: analyzer.purgesSince(cluster, node, now - HOUR_MS),
          maintenanceAllowanceSeconds: this.maintenance.get(cluster) ?? 0,
        }),
        now,
      );
      this.stepMs.rules = Math.round(rules.longestSliceMs);
    } catch (err) {
      this.logFailure('rules', 'cycle step failed: rules', { err });
    }
    void outbox.tick();
    await yieldToLoop();
    this.step('retention', () => this.retention.step(this.now()));
    this.cycleStarts.push(result.startedAt);
    if (this.cycleStarts.length > 2) this.cycleStarts.shift();
    for (const o of result.outcomes) if (o.ok) this.lastSampleAt = Math.max(this.lastSampleAt ?? 0, o.sample.takenAt);
    this.step('metrics', () => {
      metrics.recordAlerts(engine.openAlerts());
      metrics.recordStore(store.writeErrors, store.writeHealth());
    });
    try {
      const rendered = await metrics.renderCache();
      this.stepMs.render = Math.round(rendered.longestFamilyMs);
      this.slowestFamily = rendered.longestFamily;
    } catch (err) {
      this.logFailure('metrics', 'cycle step failed: metrics', { err });
    }
    // The WAL is checkpointed once the cycle's work is done (the retention's deletes and the
    // outbox's writes included): its copy, a stretch of 13-20 ms at 1,002 nodes, then falls in
    // the idle rest of the interval rather than next to a slice of rules or rendering, where a
    // request would wait behind both. It ends after the syncs, a turn or more later, and is
    // noted in the cycle it ends in.
    if (saved) void this.deps.afterCommittedCycle?.()?.then((done) => done && this.note('checkpoint', done.loopMs));
    log.debug('cycle done', {
      nodes: result.outcomes.length,
      ok: result.outcomes.filter((o) => o.ok).length,
      sampleMs: result.durationMs,
      durationMs: this.now() - result.startedAt,
      eventLoopDelayP99Ms: Math.round(this.loopDelay.percentile(99) / 1e4) / 100,
      eventLoopDelayMaxMs: Math.round(this.loopDelay.max / 1e4) / 100,
      analysisStateBytes: analyzer.stateBytes(),
      heapUsedBytes: process.memoryUsage().heapUsed,
      longestStepMs: { ...this.stepMs, gc: Math.round(this.longestGcMs) },
      slowestMetricFamily: this.slowestFamily,
    });
    this.stepMs = {};
    this.longestGcMs = 0;
    this.loopDelay.reset();
    return analyses;
  }

  private async storeCycle(result: CycleResult, events: readonly StoredEvent[], analyses: readonly ClusterAnalysis[]): Promise<boolean> {
    const { store } = this.deps;
    const slice = async <T>(items: readonly T[], write: (chunk: readonly T[]) => void): Promise<void> => {
      for (let i = 0; i < items.length; i += STORE_SLICE) {
        this.timed('store', () => write(items.slice(i, i + STORE_SLICE)));
        await yieldToLoop();
      }
    };
    try {
      store.beginCycle();
      await slice(result.outcomes, (chunk) => store.recordCycle(chunk));
      this.timed('store', () => {
        for (const settings of this.unsavedSettings.values()) store.recordSettings(settings);
        for (const e of events) store.recordEvent(e);
      });
      await slice(analyses, (chunk) => this.recorder.record(chunk));
      this.timed('commit', () => store.commitCycle());
      this.recorder.committed();
      return true;
    } catch (err) {
      store.rollbackCycle();
      this.recorder.rolledBack();
      this.logFailure('store', 'cycle step failed: store', { err });
      return false;
    }
  }

  /** Writes what is pending (the latest analyses) before the store closes. */
  flush(): void {
    this.step('store', () => this.recorder.flush());
  }

  close(): void {
    this.loopDelay.disable();
    this.gcObserver.disconnect();
  }

  /** Runs `fn`, noting how long it held the event loop; errors go to the caller. */
  private timed<T>(name: string, fn: () => T): T {
    const started = performance.now();
    try {
      return fn();
    } finally {
      this.note(name, performance.now() - started);
    }
  }

  /** Notes a stretch of `ms` that a step held the event loop: the longest of each is logged with the cycle. */
  private note(name: string, ms: number): void {
    this.stepMs[name] = Math.max(this.stepMs[name] ?? 0, Math.round(ms));
  }

  private step<T>(name: string, fn: () => T): T | undefined {
    const started = performance.now();
    try {
      return fn();
    } catch (err) {
      this.logFailure(name, `cycle step failed: ${name}`, { err });
      return undefined;
    } finally {
      // The longest synchronous stretch of each step: what an HTTP request may wait behind.
      this.note(name, performance.now() - started);
    }
  }
}

/** Rows (node outcomes, cluster analyses) written or recorded between two turns of the event loop. */
const STORE_SLICE = 100;
