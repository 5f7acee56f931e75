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
import { buildServer } from './http/server.js';
import { VERSION } from './version.js';
import type { FastifyInstance } from 'fastify';

const RETENTION_EVERY_MS = 3600_000;

export interface Daemon {
  store: Store;
  sampler: Sampler;
  analyzer: Analyzer;
  metrics: Metrics;
  server: FastifyInstance;
  /** The address the HTTP server listens on. */
  url: string;
  log: Logger;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger = createLogger({ level: config.log.level })): Promise<Daemon> {
  const store = new Store(config.storage.path);
  const sampler = new Sampler(config, store, log);
  const analyzer = new Analyzer(config, store, log);
  const metrics = new Metrics(VERSION);
  metrics.declareNodes(config);
  let lastRetention = 0;
  let lastSampleAt: number | null = null;
  const cycleStarts: number[] = [];
  sampler.onCycle((result) => {
    for (const analysis of analyzer.onCycle(result)) metrics.recordAnalysis(analysis);
    metrics.recordCycle(result, sampler.skippedCycles);
    cycleStarts.push(result.startedAt);
    if (cycleStarts.length > 2) cycleStarts.shift();
    for (const o of result.outcomes) if (o.ok) lastSampleAt = Math.max(lastSampleAt ?? 0, o.sample.takenAt);
    const ok = result.outcomes.filter((o) => o.ok).length;
    log.debug('cycle done', { nodes: result.outcomes.length, ok, durationMs: result.durationMs });
    if (result.startedAt - lastRetention >= RETENTION_EVERY_MS) {
      lastRetention = result.startedAt;
      const deleted = store.applyRetention(result.startedAt, config.storage.retention.rawSeconds, config.storage.retention.rollupSeconds);
      if (deleted > 0) log.info('retention applied', { deleted });
    }
  });
  log.info('gcache-advisor starting', {
    clusters: config.clusters.map((c) => ({ name: c.name, nodes: c.nodes.length })),
    schedule: config.sampling.schedule,
    storage: config.storage.path,
  });
  const server = await buildServer({
    config,
    store,
    analyzer,
    metrics,
    version: VERSION,
    health: {
      lastSampleAt: () => lastSampleAt,
      expectedIntervalMs: () => (cycleStarts.length === 2 ? cycleStarts[1]! - cycleStarts[0]! : 60_000),
    },
  });
  const url = await server.listen({ host: config.http.host, port: config.http.port });
  log.info('http listening', { url, auth: config.http.token ? 'bearer' : 'none' });
  await sampler.runCycle();
  sampler.start();
  return {
    store,
    sampler,
    analyzer,
    metrics,
    server,
    url,
    log,
    async stop() {
      await server.close();
      await sampler.stop();
      store.close();
      log.info('gcache-advisor stopped');
    },
  };
}
