/** /events: counter epochs, page-store purges and gcache resets. */
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../app.js';
import type { Lookup } from '../lookup.js';
import { limitParam, parseTime } from '../params.js';

export function eventRoutes(app: FastifyInstance, { store }: ServerDeps, lookup: Lookup): void {
  app.get<{ Querystring: { cluster?: string; since?: string; limit?: number } }>(
    '/events',
    {
      schema: {
        summary: 'Recorded events: counter epochs, page-store purges, gcache resets',
        tags: ['events'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cluster: { type: 'string', minLength: 1, maxLength: 200 },
            since: { type: 'string', maxLength: 100, description: 'RFC 3339 time or Unix seconds; default: 24 h ago' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
      },
    },
    async (req) => {
      if (req.query.cluster !== undefined) lookup.cluster(req.query.cluster);
      const since = req.query.since === undefined ? Date.now() - 86400_000 : parseTime('since', req.query.since);
      const events = store.recentEvents(req.query.cluster ?? null, since, limitParam(req.query.limit, 100));
      return { events: events.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) };
    },
  );
}
