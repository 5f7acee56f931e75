/** /clusters: the configured clusters, their recommendation and trend. */
import { Type } from '@sinclair/typebox';
import type { Api, ServerDeps } from '../app.js';
import type { Lookup } from '../lookup.js';
import { BadParameter, ClusterParams, DurationQuery, durationParam } from '../params.js';
import { apiErrors, Nullable, NullableTime, NodeSummary, RecommendationView, StringEnum, Time, TrendView } from '../schemas.js';
import { nodeSummaries } from '../views.js';
import { recommendGcacheSize } from '../../analysis/sizing.js';

const Membership = Type.Object({
  mode: StringEnum(['list', 'seeds', 'dns'], { description: 'listed in the config, or found by discovery from seeds or DNS' }),
  error: Nullable(Type.String({ description: 'what went wrong in the last member discovery' })),
});

/** Fields of both the list and the detail (the serializer writes them in the order declared). */
const Common = {
  name: Type.String(),
  membership: Membership,
  targetWindowSeconds: Type.Number(),
  maintenanceAllowanceSeconds: Type.Number(),
  computedAt: NullableTime('when the latest analysis was computed; null before the first'),
};

const ClusterListItem = Type.Object({
  name: Common.name,
  nodes: Type.Array(Type.String(), { description: 'the current members' }),
  departedNodes: Type.Array(Type.String(), { description: 'members that left, kept for their history' }),
  membership: Common.membership,
  targetWindowSeconds: Common.targetWindowSeconds,
  maintenanceAllowanceSeconds: Common.maintenanceAllowanceSeconds,
  recommendedGcacheSizeBytes: Nullable(Type.Number()),
  computedAt: Common.computedAt,
});
const ClusterList = Type.Object({ clusters: Type.Array(ClusterListItem) }, { description: 'Every configured cluster' });

const ClusterDetail = Type.Object(
  {
    ...Common,
    nodes: Type.Array(NodeSummary),
    recommendation: Nullable(RecommendationView),
    trend: Nullable(TrendView),
  },
  { description: 'The cluster, its nodes, and its latest recommendation and trend (null before the first analysis)' },
);

const RecommendationAnswer = Type.Object(
  { cluster: Type.String(), computedAt: Time(), ...RecommendationView.properties },
  { description: 'The recommendation for the target window, from the latest analysis' },
);

export function clusterRoutes(app: Api, { config, analyzer, discoveryErrors }: ServerDeps, lookup: Lookup): void {
  /** How the cluster's nodes are known: listed, or discovered (with the last discovery problem). */
  const membership = (c: (typeof config.clusters)[number]) =>
    c.discovery ? { mode: 'seeds' in c.discovery ? ('seeds' as const) : ('dns' as const), error: discoveryErrors?.().get(c.name) ?? null } : { mode: 'list' as const, error: null };

  app.get(
    '/clusters',
    { schema: { summary: 'Configured clusters with their target and recommendation', tags: ['clusters'], response: { 200: ClusterList, ...apiErrors() } } },
    async () => ({
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
    }),
  );

  app.get(
    '/clusters/:cluster',
    { schema: { summary: 'One cluster: nodes, recommendation and trend', tags: ['clusters'], params: ClusterParams, response: { 200: ClusterDetail, ...apiErrors(400, 404) } } },
    async (req) => {
      const c = lookup.cluster(req.params.cluster);
      const a = analyzer.latest(c.name);
      return {
        name: c.name,
        membership: membership(c),
        targetWindowSeconds: c.targetWindowSeconds,
        maintenanceAllowanceSeconds: c.maintenanceAllowanceSeconds,
        computedAt: a ? new Date(a.computedAt).toISOString() : null,
        nodes: nodeSummaries(c.nodes, a),
        recommendation: a?.recommendation ?? null,
        trend: a?.trend ?? null,
      };
    },
  );

  app.get(
    '/clusters/:cluster/recommendation',
    {
      schema: {
        summary: 'gcache.size needed for a target window, with the arithmetic and warnings',
        tags: ['clusters'],
        params: ClusterParams,
        querystring: Type.Object({ targetWindow: DurationQuery("a duration such as 2h; default: the cluster's targetWindow") }, { additionalProperties: false }),
        response: { 200: RecommendationAnswer, ...apiErrors(400, 404, 503) },
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
