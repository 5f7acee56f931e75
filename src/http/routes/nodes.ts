/** /clusters/:cluster/nodes: each node's state, window, IST budget and history. */
import { Type } from '@sinclair/typebox';
import type { Api, ServerDeps } from '../app.js';
import type { Lookup } from '../lookup.js';
import { BadParameter, ClusterParams, DurationQuery, durationParam, NodeParams, parseTime, TimeQuery } from '../params.js';
import { apiErrors, HistoryPoint, NodeAnalysisView, NodeSummary, Time, WindowView } from '../schemas.js';
import { historyPointView, nodeSummaries, nodeSummary, windowView } from '../views.js';

/** Maximum points a history query may return, as in Prometheus' range queries. */
export const MAX_POINTS = 11_000;

/** The whole analysis of the node; before its first analysis, its summary with empty figures. */
const NodeDetail = Type.Union([NodeAnalysisView, NodeSummary], { description: "The node's latest analysis, or its summary before the first" });
const NodeList = Type.Object({ nodes: Type.Array(NodeSummary) }, { description: "The cluster's nodes, departed ones included" });

const History = Type.Object(
  { cluster: Type.String(), node: Type.String(), from: Time(), to: Time(), stepSeconds: Type.Number(), points: Type.Array(HistoryPoint) },
  { description: 'The figures averaged per step, steps without data left out' },
);

export function nodeRoutes(app: Api, { analyzer, store }: ServerDeps, lookup: Lookup): void {
  app.get(
    '/clusters/:cluster/nodes',
    { schema: { summary: 'Nodes with their state and latest figures', tags: ['nodes'], params: ClusterParams, response: { 200: NodeList, ...apiErrors(400, 404) } } },
    async (req) => {
      const c = lookup.cluster(req.params.cluster);
      return { nodes: nodeSummaries(c.nodes, analyzer.latest(c.name)) };
    },
  );

  app.get(
    '/clusters/:cluster/nodes/:node',
    { schema: { summary: 'Everything computed for one node, with explanations', tags: ['nodes'], params: NodeParams, response: { 200: NodeDetail, ...apiErrors(400, 404) } } },
    async (req) => lookup.node(req.params.cluster, req.params.node) ?? nodeSummary({ name: req.params.node }, null),
  );

  app.get(
    '/clusters/:cluster/nodes/:node/window',
    {
      schema: { summary: "The node's replication window, IST budget and write rates", tags: ['nodes'], params: NodeParams, response: { 200: WindowView, ...apiErrors(400, 404) } },
    },
    async (req) => windowView(req.params.cluster, req.params.node, lookup.node(req.params.cluster, req.params.node)),
  );

  app.get(
    '/clusters/:cluster/nodes/:node/history',
    {
      schema: {
        summary: "History of the node's windows, IST budget and rates, averaged per step",
        tags: ['nodes'],
        params: NodeParams,
        querystring: Type.Object({ from: TimeQuery('to - 1h'), to: TimeQuery('now'), step: DurationQuery('a duration such as 1m; default 1m') }, { additionalProperties: false }),
        response: { 200: History, ...apiErrors(400, 404) },
      },
    },
    async (req) => {
      lookup.node(req.params.cluster, req.params.node);
      const to = req.query.to === undefined ? Date.now() : parseTime('to', req.query.to);
      const from = req.query.from === undefined ? to - 3600_000 : parseTime('from', req.query.from);
      const stepMs = req.query.step === undefined ? 60_000 : durationParam('step', req.query.step) * 1000;
      if (from >= to) throw new BadParameter('from', 'a time before "to"', req.query.from);
      if (stepMs < 1000) throw new BadParameter('step', 'a duration of at least 1s', req.query.step);
      if ((to - from) / stepMs > MAX_POINTS) throw new BadParameter('step', `a step giving at most ${MAX_POINTS} points between from and to`, req.query.step);
      const points = store.nodeAnalysisSeries(req.params.cluster, req.params.node, from, to, stepMs, MAX_POINTS).map(historyPointView);
      return { cluster: req.params.cluster, node: req.params.node, from: new Date(from).toISOString(), to: new Date(to).toISOString(), stepSeconds: stepMs / 1000, points };
    },
  );
}
