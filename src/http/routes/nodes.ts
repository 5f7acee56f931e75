/** /clusters/:cluster/nodes: each node's state, window, IST budget and history. */
import { Type } from '@sinclair/typebox';
import type { Api, ServerDeps } from '../app.js';
import type { Lookup } from '../lookup.js';
import { BadParameter, ClusterParams, DurationQuery, durationParam, NodeParams, parseTime, TimeQuery } from '../params.js';
import { apiErrors, HistoryPoint, MaintenanceView, NodeAnalysisView, NodeSummary, RejoinView, Time, WindowViewWithForecast } from '../schemas.js';
import { historyPointView, maintenanceView, nodeSummaries, nodeSummary, rejoinView, windowView } from '../views.js';
import { maintenanceCheck, ringCapacityOf } from '../../analysis/maintenance.js';
import { HOUR_MS, MINUTE_MS } from '../../units/time.js';

/** Maximum points a history query may return, as in Prometheus' range queries. */
export const MAX_POINTS = 11_000;

/** The longest maintenance the check answers for: beyond it the write history is too short to say. */
export const MAX_MAINTENANCE_SECONDS = 30 * 86400;

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
      schema: {
        summary: "The node's replication window, IST budget and write rates",
        tags: ['nodes'],
        params: NodeParams,
        response: { 200: WindowViewWithForecast, ...apiErrors(400, 404) },
      },
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
      const from = req.query.from === undefined ? to - HOUR_MS : parseTime('from', req.query.from);
      const stepMs = req.query.step === undefined ? MINUTE_MS : durationParam('step', req.query.step) * 1000;
      if (from >= to) throw new BadParameter('from', 'a time before "to"', req.query.from);
      if (stepMs < 1000) throw new BadParameter('step', 'a duration of at least 1s', req.query.step);
      if ((to - from) / stepMs > MAX_POINTS) throw new BadParameter('step', `a step giving at most ${MAX_POINTS} points between from and to`, req.query.step);
      const points = store.nodeAnalysisSeries(req.params.cluster, req.params.node, from, to, stepMs, MAX_POINTS).map(historyPointView);
      return { cluster: req.params.cluster, node: req.params.node, from: new Date(from).toISOString(), to: new Date(to).toISOString(), stepSeconds: stepMs / 1000, points };
    },
  );

  app.get(
    '/clusters/:cluster/nodes/:node/rejoin',
    {
      schema: {
        summary: 'While the node is away, how long it can stay away and still rejoin by IST; how it came back last time',
        tags: ['nodes'],
        params: NodeParams,
        response: { 200: RejoinView, ...apiErrors(400, 404) },
      },
    },
    async (req) => rejoinView(req.params.cluster, req.params.node, lookup.node(req.params.cluster, req.params.node)),
  );

  app.get(
    '/clusters/:cluster/nodes/:node/maintenance',
    {
      schema: {
        summary: 'Whether the node can be taken down for a duration and rejoin by IST',
        tags: ['nodes'],
        params: NodeParams,
        querystring: Type.Object({ duration: Type.String({ maxLength: 100, description: 'how long the node will be away, such as 45m' }) }, { additionalProperties: false }),
        response: { 200: MaintenanceView, ...apiErrors(400, 404, 503) },
      },
    },
    async (req, reply) => {
      const n = lookup.node(req.params.cluster, req.params.node);
      const seconds = durationParam('duration', req.query.duration);
      if (seconds <= 0) throw new BadParameter('duration', 'a duration greater than zero', req.query.duration);
      if (seconds > MAX_MAINTENANCE_SECONDS) throw new BadParameter('duration', 'a duration of at most 30d', req.query.duration);
      if (!n) return reply.status(503).send({ error: 'Service Unavailable', message: 'no analysis yet: wait for the first sampling cycle' });
      // The budget counts on the donor's ring: its size and capacity give the gcache.size for the p99.
      const donor = analyzer.latest(req.params.cluster)?.nodes.find((x) => x.node === n.istBudget.current?.donor && x.gcacheSizeBytes !== null);
      const ring = donor ?? n;
      const check = maintenanceCheck({
        node: n,
        writes: analyzer.writesOf(req.params.cluster) ?? null,
        now: Date.now(),
        durationSeconds: seconds,
        gcacheSizeBytes: ring.gcacheSizeBytes,
        capacityBytes: ringCapacityOf(ring),
      });
      return maintenanceView(req.params.cluster, req.params.node, n.computedAt, check);
    },
  );
}
