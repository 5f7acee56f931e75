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
import { Metrics } from './metrics/metrics.js';
import { buildServer } from './http/app.js';
import { VERSION } from './version.js';
import type { FastifyInstance } from 'fastify';
import { RuleEngine } from './rules/engine.js';
import { Outbox } from './alerts/outbox.js';
import type { SinkTarget } from './alerts/sender.js';
import { CyclePipeline } from './pipeline/cycle.js';
import { acquireDatabaseLock } from './store/lock.js';

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
  // One daemon per database: refused here, before the store is opened, with one line naming the holder.
  const lock = acquireDatabaseLock(config.storage.path);
  let store: Store;
  let engine: RuleEngine;
  try {
    store = new Store(config.storage.path, { cacheSizeBytes: config.storage.cacheSize });
  } catch (err) {
    lock.release();
    throw err;
  }
  try {
    engine = RuleEngine.fromConfig(config, store, log);
  } catch (err) {
    store.close();
    lock.release();
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
        firingHoldMs: 4 * config.alerting.alertmanagerResendSeconds * 1000,
      },
    ]),
  );
  const outbox = new Outbox(store, sinks, log, { expireAfterMs: config.alerting.expireAfterSeconds * 1000 });
  const sampler = new Sampler(config, store, log);
  const analyzer = new Analyzer(config, store, log);
  const metrics = new Metrics(VERSION);
  metrics.declareNodes(config);
  const checkpointer = store.startCheckpointer(log, {
    // The database file may lack pages SQLite counts as written: stop at once, without closing
    // the store (its last connection would checkpoint and delete the WAL), so that the next
    // start replays the WAL (checkpointer.ts).
    onSyncLost: () => process.abort(),
  });
  const pipeline = new CyclePipeline({
    config,
    store,
    analyzer,
    metrics,
    engine,
    outbox,
    log,
    skippedCycles: () => sampler.skippedCycles,
    afterCommittedCycle: () => checkpointer?.request(),
  });
  sampler.onCycle(async (result) => {
    await pipeline.run(result);
  });
  log.info('gcache-advisor starting', {
    rules: engine.ruleList.length,
    sinks: config.alerting.sinks.map((s) => ({ name: s.name, type: s.type })),
    clusters: config.clusters.length,
    nodes: config.clusters.reduce((n, c) => n + c.nodes.length, 0),
    shard: `${config.sharding.index} of ${config.sharding.count} (${config.clusters.length} of ${config.sharding.totalClusters} clusters)`,
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
    discoveryErrors: () => sampler.discoveryErrors(),
    health: {
      lastSampleAt: () => pipeline.lastSampleAt,
      expectedIntervalMs: () => pipeline.expectedIntervalMs(),
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
      pipeline.flush();
      engine.flush(Date.now());
      pipeline.close();
      await checkpointer?.close();
      store.close();
      lock.release();
      log.info('gcache-advisor stopped');
    },
  };
}
