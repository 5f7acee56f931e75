/** /clusters: the configured clusters, their recommendation and trend. */
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../app.js';
import type { Lookup } from '../lookup.js';
import { BadParameter, clusterParams, durationParam } from '../params.js';
import { nodeSummary } from '../views.js';
import { recommendGcacheSize } from '../../analysis/sizing.js';

export function clusterRoutes(app: FastifyInstance, { config, analyzer, discoveryErrors }: ServerDeps, lookup: Lookup): void {
  /** How the cluster's nodes are known: listed, or discovered (with the last discovery problem). */
  const membership = (c: (typeof config.clusters)[number]) =>
    c.discovery ? { mode: 'seeds' in c.discovery ? 'seeds' : 'dns', error: discoveryErrors?.().get(c.name) ?? null } : { mode: 'list', error: null };

  app.get('/clusters', { schema: { summary: 'Configured clusters with their target and recommendation', tags: ['clusters'] } }, async () => ({
    clusters: config.clusters.map((c) => {
      const a = analyzer.latest(c.name);
      return {
        name: c.name,
        nodes: c.nodes.filter((n) => !n.departed).map((n) => n.name),
        departedNodes: c.nodes.filter((n) => n.departed).map((n) => n.name),
        membership: membership(c),
        targetWindowSeconds: c.targetWindowSeconds,
        maintenanceAllowanceSeconds: c.maintenanceAllowanceSeconds,
        recommendedGcacheSizeBytes: a?.recommendation.recommendedGcacheSizeBytes ?? null,
        computedAt: a ? new Date(a.computedAt).toISOString() : null,
      };
    }),
  }));

  app.get<{ Params: { cluster: string } }>('/clusters/:cluster', { schema: { summary: 'One cluster: nodes, recommendation and trend', tags: ['clusters'], params: clusterParams } }, async (req) => {
    const c = lookup.cluster(req.params.cluster);
    const a = analyzer.latest(c.name);
    return {
      name: c.name,
      membership: membership(c),
      targetWindowSeconds: c.targetWindowSeconds,
      maintenanceAllowanceSeconds: c.maintenanceAllowanceSeconds,
      computedAt: a ? new Date(a.computedAt).toISOString() : null,
      nodes: c.nodes.map((n) => nodeSummary(n, a?.nodes.find((x) => x.node === n.name) ?? null)),
      recommendation: a?.recommendation ?? null,
      trend: a?.trend ?? null,
    };
  });

  app.get<{ Params: { cluster: string }; Querystring: { targetWindow?: string } }>(
    '/clusters/:cluster/recommendation',
    {
      schema: {
        summary: 'gcache.size needed for a target window, with the arithmetic and warnings',
        tags: ['clusters'],
        params: clusterParams,
        querystring: { type: 'object', additionalProperties: false, properties: { targetWindow: { type: 'string', maxLength: 100, description: 'a duration such as 2h; default: the cluster\'s targetWindow' } } },
      },
    },
    async (req, reply) => {
      const c = lookup.cluster(req.params.cluster);
      const target = req.query.targetWindow === undefined ? c.targetWindowSeconds : durationParam('targetWindow', req.query.targetWindow);
      if (target <= 0) throw new BadParameter('targetWindow', 'a duration greater than zero', req.query.targetWindow);
      const a = analyzer.latest(c.name);
      if (!a) return reply.status(503).send({ error: 'Service Unavailable', message: 'no analysis yet: wait for the first sampling cycle' });
      return { cluster: c.name, computedAt: new Date(a.computedAt).toISOString(), ...recommendGcacheSize({ ...a.sizingInput, targetWindowSeconds: target }) };
    },
  );
}
