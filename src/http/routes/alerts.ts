/** /alerts and /rules: open alerts, their history, and the loaded rules. */
import { Type } from '@sinclair/typebox';
import type { Api, ServerDeps } from '../app.js';
import { LimitQuery, limitParam, parseTime, TimeQuery } from '../params.js';
import { AlertView, apiErrors, StringEnum, StringMap } from '../schemas.js';
import { alertView } from '../views.js';
import { SEVERITIES } from '../../rules/rule-file.js';
import { DAY_MS } from '../../units/time.js';

const Alerts = Type.Object({ alerts: Type.Array(AlertView) }, { description: 'Alerts with their labels, annotations and times' });

const RuleView = Type.Object({
  name: Type.String(),
  file: Type.String(),
  scope: StringEnum(['node', 'cluster']),
  condition: Type.String(),
  forSeconds: Type.Number({ description: 'how long the condition must hold before the alert fires' }),
  severity: StringEnum(SEVERITIES),
  labels: StringMap,
  summary: Type.String({ description: 'the summary template' }),
});

export function alertRoutes(app: Api, { engine, store }: ServerDeps): void {
  app.get('/alerts', { schema: { summary: 'Open alerts: pending and firing', tags: ['alerts'], response: { 200: Alerts, ...apiErrors() } } }, async () => ({
    alerts: engine.openAlerts().map(alertView),
  }));

  app.get(
    '/alerts/history',
    {
      schema: {
        summary: 'Alerts that were active since a time, newest first, resolved ones included',
        tags: ['alerts'],
        querystring: Type.Object({ since: TimeQuery('7 days ago'), limit: LimitQuery }, { additionalProperties: false }),
        response: { 200: Alerts, ...apiErrors(400) },
      },
    },
    async (req) => {
      const since = req.query.since === undefined ? Date.now() - 7 * DAY_MS : parseTime('since', req.query.since);
      return { alerts: store.alertHistory(since, limitParam(req.query.limit, 100)).map(alertView) };
    },
  );

  app.get(
    '/rules',
    {
      schema: {
        summary: 'The loaded rules',
        tags: ['rules'],
        response: { 200: Type.Object({ rules: Type.Array(RuleView) }, { description: 'The rules, as loaded from rules.dir' }), ...apiErrors() },
      },
    },
    async () => ({
      rules: engine.ruleList.map((r) => ({
        name: r.name,
        file: r.file,
        scope: r.scope,
        condition: r.conditionText,
        forSeconds: r.forSeconds,
        severity: r.severity,
        labels: r.labels,
        summary: r.summary,
      })),
    }),
  );
}
