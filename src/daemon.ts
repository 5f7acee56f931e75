/**
 * The daemon: store, sampler and housekeeping wired together, with a clean shutdown on
 * SIGINT/SIGTERM. Sampling starts with one immediate cycle so that a new install shows data
 * at once rather than at the next cron tick.
 */
import type { Config } from './config/load.js';
import { createLogger, type Logger } from './log/logger.js';
import { Store } from './store/store.js';
import { Sampler } from './sampler/sampler.js';
import { Analyzer } from './pipeline/analyzer.js';
import { Metrics } from './http/metrics.js';
import { buildServer } from './http/app.js';
import { VERSION } from './version.js';
import type { FastifyInstance } from 'fastify';
import { RuleEngine } from './rules/engine.js';
import { Outbox } from './alerts/outbox.js';
import type { SinkTarget } from './alerts/sender.js';
import { RetentionRunner } from './pipeline/retention.js';
import { throttled } from './log/throttle.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';


export interface Daemon {
  store: Store;
  sampler: Sampler;
  analyzer: Analyzer;
  metrics: Metrics;
  engine: RuleEngine;
  outbox: Outbox;
  server: FastifyInstance;
  /** The address the HTTP server listens on. */
  url: string;
  log: Logger;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger = createLogger({ level: config.log.level })): Promise<Daemon> {
  const store = new Store(config.storage.path);
  let engine: RuleEngine;
  try {
    engine = RuleEngine.fromConfig(config, store, log);
  } catch (err) {
    store.close();
    throw err;
  }
  const sinks = new Map<string, SinkTarget>(
    config.alerting.sinks.map((s) => [
      s.name,
      {
        name: s.name,
        type: s.type,
        url: s.url.reveal(),
        hmacSecret: s.hmacSecret?.reveal() ?? null,
        timeoutMs: s.timeoutSeconds * 1000,
        alertmanagerEndsAfterMs: 4 * config.alerting.alertmanagerResendSeconds * 1000,
      },
    ]),
  );
  const outbox = new Outbox(store, sinks, log, { expireAfterMs: config.alerting.expireAfterSeconds * 1000 });
  const sampler = new Sampler(config, store, log);
  const analyzer = new Analyzer(config, store, log);
  const metrics = new Metrics(VERSION);
  metrics.declareNodes(config);
  const retention = new RetentionRunner(store, config.storage.retention, log);
  const logStoreError = throttled(log);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let lastSampleAt: number | null = null;
  const cycleStarts: number[] = [];
  const maintenance = new Map(config.clusters.map((c) => [c.name, c.maintenanceAllowanceSeconds]));
  /** Runs one step of the cycle; a failing step is logged (once a minute) and the next runs anyway. */
  const guarded = <T>(stepName: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      logStoreError(stepName, `cycle step failed: ${stepName}`, { err });
      return undefined;
    }
  };
  sampler.onCycle((result) => {
    const analyses = guarded('analysis', () => analyzer.onCycle(result)) ?? [];
    for (const analysis of analyses) metrics.recordAnalysis(analysis);
    metrics.recordCycle(result, sampler.skippedCycles);
    const missed = new Map(result.outcomes.map((o) => [`${o.cluster}\u0000${o.node}`, o.ok ? 0 : o.consecutiveFailures]));
    const hourAgo = Date.now() - 3600_000;
    guarded('rules', () =>
      engine.evaluate(
        analyses,
        (cluster, node) => ({
          missedCycles: missed.get(`${cluster}\u0000${node}`) ?? 0,
          purgesLastHour: store.countEvents(cluster, node, 'page_store_purge', hourAgo),
          maintenanceAllowanceSeconds: maintenance.get(cluster) ?? 0,
        }),
        Date.now(),
      ),
    );
    metrics.recordAlerts(engine.openAlerts());
    void outbox.tick();
    guarded('retention', () => retention.step(Date.now()));
    metrics.recordStore(store.writeErrors, store.writeHealth());
    cycleStarts.push(result.startedAt);
    if (cycleStarts.length > 2) cycleStarts.shift();
    for (const o of result.outcomes) if (o.ok) lastSampleAt = Math.max(lastSampleAt ?? 0, o.sample.takenAt);
    const ok = result.outcomes.filter((o) => o.ok).length;
    log.debug('cycle done', {
      nodes: result.outcomes.length,
      ok,
      sampleMs: result.durationMs,
      durationMs: Date.now() - result.startedAt,
      eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      eventLoopDelayMaxMs: Math.round(loopDelay.max / 1e4) / 100,
    });
    loopDelay.reset();
  });
  log.info('gcache-advisor starting', {
    rules: engine.ruleList.length,
    sinks: config.alerting.sinks.map((s) => ({ name: s.name, type: s.type })),
    clusters: config.clusters.map((c) => ({ name: c.name, nodes: c.nodes.length })),
    schedule: config.sampling.schedule,
    storage: config.storage.path,
  });
  const server = await buildServer({
    config,
    store,
    analyzer,
    metrics,
    engine,
    version: VERSION,
    log,
    health: {
      lastSampleAt: () => lastSampleAt,
      expectedIntervalMs: () => (cycleStarts.length === 2 ? cycleStarts[1]! - cycleStarts[0]! : 60_000),
    },
  });
  const url = await server.listen({ host: config.http.host, port: config.http.port });
  log.info('http listening', { url, auth: config.http.token ? 'bearer' : 'none' });
  outbox.start();
  await sampler.runCycle();
  sampler.start();
  return {
    store,
    sampler,
    analyzer,
    metrics,
    engine,
    outbox,
    server,
    url,
    log,
    async stop() {
      await server.close();
      await sampler.stop();
      await outbox.stop();
      loopDelay.disable();
      store.close();
      log.info('gcache-advisor stopped');
    },
  };
}
