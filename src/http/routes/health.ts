/** Probes and the scrape endpoint: public, outside the API scope and its token. */
import { Type } from '@sinclair/typebox';
import type { Api, ServerDeps } from '../app.js';
import { NullableTime, StringEnum } from '../schemas.js';

const Readiness = Type.Object({
  status: StringEnum(['ready', 'not ready']),
  storeWritable: Type.Boolean(),
  lastSampleAt: NullableTime('the newest successful sample of any node'),
  reasons: Type.Array(Type.String(), { description: 'why not ready; empty when ready' }),
});

export function healthRoutes(app: Api, { store, metrics, health }: ServerDeps): void {
  app.get('/healthz', { schema: { hide: true, response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));
  app.get('/readyz', { schema: { hide: true, response: { 200: Readiness, 503: Readiness } } }, async (_req, reply) => {
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
  // The text exposition format, as rendered after the last cycle: gzipped for a client that
  // accepts it, as Prometheus does. A Buffer payload with its own content type is sent as it is.
  app.get(
    '/metrics',
    { schema: { hide: true, response: { 200: Type.Unsafe<Buffer>(Type.String({ description: 'Prometheus text format 0.0.4, gzipped when asked for' })) } } },
    async (req, reply) => {
      const rendered = await metrics.rendered();
      reply.type('text/plain; version=0.0.4; charset=utf-8').header('vary', 'accept-encoding');
      if (acceptsGzip(req.headers['accept-encoding'])) return reply.header('content-encoding', 'gzip').send(rendered.gzip);
      return reply.send(await rendered.text());
    },
  );
}

/** True when an Accept-Encoding header accepts gzip: by its own entry if listed (its quality not 0), else by `*`. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  const quality = new Map<string, number>();
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    quality.set(coding!.trim(), q === undefined ? 1 : Number(q.slice(2)));
  }
  const q = quality.get('gzip') ?? quality.get('*') ?? 0;
  return q > 0;
}
