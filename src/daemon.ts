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

const RETENTION_EVERY_MS = 3600_000;

export interface Daemon {
  store: Store;
  sampler: Sampler;
  analyzer: Analyzer;
  log: Logger;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger = createLogger({ level: config.log.level })): Promise<Daemon> {
  const store = new Store(config.storage.path);
  const sampler = new Sampler(config, store, log);
  const analyzer = new Analyzer(config, store, log);
  let lastRetention = 0;
  sampler.onCycle((result) => {
    analyzer.onCycle(result);
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
  await sampler.runCycle();
  sampler.start();
  return {
    store,
    sampler,
    analyzer,
    log,
    async stop() {
      await sampler.stop();
      store.close();
      log.info('gcache-advisor stopped');
    },
  };
}
