/** Probes and the scrape endpoint: public, outside the API scope and its token. */
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../app.js';

export function healthRoutes(app: FastifyInstance, { store, metrics, health }: ServerDeps): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    // Readiness never takes the write lock: it reports how the last writes went.
    const storage = store.writeHealth();
    const last = health.lastSampleAt();
    const maxAge = Math.max(30_000, 3 * health.expectedIntervalMs());
    const fresh = last !== null && Date.now() - last <= maxAge;
    const reasons = [...(storage.ok ? [] : [`storage: ${storage.reason}`]), ...(fresh ? [] : [last === null ? 'no successful sample yet' : 'no successful sample recently'])];
    const ready = reasons.length === 0;
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      storeWritable: storage.ok,
      lastSampleAt: last === null ? null : new Date(last).toISOString(),
      reasons,
    });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await metrics.render()));
}
