/** /clusters/:cluster/nodes: each node's state, window, IST budget and history. */
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../app.js';
import type { Lookup } from '../lookup.js';
import { BadParameter, clusterParams, durationParam, nodeParams, parseTime } from '../params.js';
import { nodeSummary, windowView } from '../views.js';

/** Maximum points a history query may return, as in Prometheus' range queries. */
export const MAX_POINTS = 11_000;

export function nodeRoutes(app: FastifyInstance, { analyzer, store }: ServerDeps, lookup: Lookup): void {
  app.get<{ Params: { cluster: string } }>('/clusters/:cluster/nodes', { schema: { summary: 'Nodes with their state and latest figures', tags: ['nodes'], params: clusterParams } }, async (req) => {
    const c = lookup.cluster(req.params.cluster);
    const a = analyzer.latest(c.name);
    return { nodes: c.nodes.map((n) => nodeSummary(n, a?.nodes.find((x) => x.node === n.name) ?? null)) };
  });

  app.get<{ Params: { cluster: string; node: string } }>('/clusters/:cluster/nodes/:node', { schema: { summary: 'Everything computed for one node, with explanations', tags: ['nodes'], params: nodeParams } }, async (req) => {
    return lookup.node(req.params.cluster, req.params.node) ?? nodeSummary({ name: req.params.node }, null);
  });

  app.get<{ Params: { cluster: string; node: string } }>(
    '/clusters/:cluster/nodes/:node/window',
    { schema: { summary: 'The node\'s replication window, IST budget and write rates', tags: ['nodes'], params: nodeParams } },
    async (req) => windowView(req.params.cluster, req.params.node, lookup.node(req.params.cluster, req.params.node)),
  );

  app.get<{ Params: { cluster: string; node: string }; Querystring: { from?: string; to?: string; step?: string } }>(
    '/clusters/:cluster/nodes/:node/history',
    {
      schema: {
        summary: 'History of the node\'s windows, IST budget and rates, averaged per step',
        tags: ['nodes'],
        params: nodeParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string', maxLength: 100, description: 'RFC 3339 time or Unix seconds; default: to - 1h' },
            to: { type: 'string', maxLength: 100, description: 'RFC 3339 time or Unix seconds; default: now' },
            step: { type: 'string', maxLength: 100, description: 'a duration such as 1m; default 1m' },
          },
        },
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
      const points = store.nodeAnalysisSeries(req.params.cluster, req.params.node, from, to, stepMs, MAX_POINTS).map((p) => ({ ...p, at: new Date(p.at!).toISOString() }));
      return { cluster: req.params.cluster, node: req.params.node, from: new Date(from).toISOString(), to: new Date(to).toISOString(), stepSeconds: stepMs / 1000, points };
    },
  );
}
