/** /events: counter epochs, page-store purges, gcache resets and rejoins. */
import { Type } from '@sinclair/typebox';
import type { Api, ServerDeps } from '../app.js';
import type { Lookup } from '../lookup.js';
import { LimitQuery, limitParam, parseTime, TimeQuery } from '../params.js';
import { apiErrors, EventView } from '../schemas.js';
import { eventView } from '../views.js';
import { DAY_MS } from '../../units/time.js';

export function eventRoutes(app: Api, { store }: ServerDeps, lookup: Lookup): void {
  app.get(
    '/events',
    {
      schema: {
        summary: 'Recorded events: counter epochs, page-store purges, gcache resets, rejoins',
        tags: ['events'],
        querystring: Type.Object(
          { cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "only this cluster's events" })), since: TimeQuery('24 h ago'), limit: LimitQuery },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ events: Type.Array(EventView) }, { description: 'Events, newest first' }), ...apiErrors(400, 404) },
      },
    },
    async (req) => {
      if (req.query.cluster !== undefined) lookup.cluster(req.query.cluster);
      const since = req.query.since === undefined ? Date.now() - DAY_MS : parseTime('since', req.query.since);
      return { events: store.recentEvents(req.query.cluster ?? null, since, limitParam(req.query.limit, 100)).map(eventView) };
    },
  );
}
