/** /alerts and /rules: open alerts, their history, and the loaded rules. */
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../app.js';
import { limitParam, parseTime } from '../params.js';
import { alertView } from '../views.js';

export function alertRoutes(app: FastifyInstance, { engine, store }: ServerDeps): void {
  app.get('/alerts', { schema: { summary: 'Open alerts: pending and firing', tags: ['alerts'] } }, async () => ({
    alerts: engine.openAlerts().map(alertView),
  }));

  app.get<{ Querystring: { since?: string; limit?: number } }>(
    '/alerts/history',
    {
      schema: {
        summary: 'Alerts that were active since a time, newest first, resolved ones included',
        tags: ['alerts'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: { type: 'string', maxLength: 100, description: 'RFC 3339 time or Unix seconds; default: 7 days ago' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
      },
    },
    async (req) => {
      const since = req.query.since === undefined ? Date.now() - 7 * 86400_000 : parseTime('since', req.query.since);
      return { alerts: store.alertHistory(since, limitParam(req.query.limit, 100)).map(alertView) };
    },
  );

  app.get('/rules', { schema: { summary: 'The loaded rules', tags: ['rules'] } }, async () => ({
    rules: engine.ruleList.map((r) => ({ name: r.name, file: r.file, scope: r.scope, condition: r.conditionText, forSeconds: r.forSeconds, severity: r.severity, labels: r.labels, summary: r.summary })),
  }));
}
