/**
 * `gcache-advisor sample --once`: reads every configured node once and prints one JSON line
 * per node. Nothing is stored. It is the quickest check of connectivity and privileges.
 */
import type { Config } from '../config/load.js';
import { NodeReader } from '../sampler/node-reader.js';
import { classifyFailure } from '../sampler/failure.js';

export async function sampleOnce(config: Config, write: (line: string) => void): Promise<number> {
  const targets = config.clusters.flatMap((c) => c.nodes);
  const results = await Promise.all(
    targets.map(async (target) => {
      const reader = new NodeReader(target, config.sampling.timeoutSeconds * 1000);
      const takenAt = new Date().toISOString();
      try {
        const status = await reader.readStatus();
        const settings = await reader.readSettings();
        return { cluster: target.cluster, node: target.name, ok: true, takenAt, status, gcache: settings.gcache, sstDonor: settings.sstDonor };
      } catch (err) {
        const failure = classifyFailure(err);
        return { cluster: target.cluster, node: target.name, ok: false, takenAt, reason: failure.reason, error: failure.message };
      } finally {
        await reader.close();
      }
    }),
  );
  for (const r of results) write(JSON.stringify(r));
  return results.every((r) => r.ok) ? 0 : 1;
}
