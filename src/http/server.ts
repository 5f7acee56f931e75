/**
 * The HTTP side: the REST API under /api/v1 (with its OpenAPI document), /metrics, /healthz and
 * /readyz. Every answer comes from memory or SQLite; nothing here queries MySQL.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Config } from '../config/load.js';
import type { Store } from '../store/store.js';
import type { Analyzer } from '../pipeline/analyzer.js';
import type { Metrics } from './metrics.js';
import type { ClusterAnalysis, NodeAnalysis } from '../analysis/cluster-analysis.js';
import { recommendGcacheSize } from '../analysis/sizing.js';
import { parseDuration, UnitParseError } from '../units/parse.js';
import type { RuleEngine } from '../rules/engine.js';
import type { StoredAlert } from '../store/store.js';

export interface Health {
  /** ms of the newest successful sample of any node, or null. */
  lastSampleAt(): number | null;
  /** How often cycles run, in ms (measured between cycles; a default until two have run). */
  expectedIntervalMs(): number;
}

export interface ServerDeps {
  config: Config;
  store: Store;
  analyzer: Analyzer;
  metrics: Metrics;
  engine: RuleEngine;
  health: Health;
  version: string;
}

/** A 400 that names the parameter at fault. */
class BadParameter extends Error {
  readonly statusCode = 400;
  constructor(param: string, expected: string, got: unknown) {
    super(`${param}: expected ${expected}, got ${JSON.stringify(got)}`);
  }
}

class NotFound extends Error {
  readonly statusCode = 404;
}

/** Maximum points a history query may return, as in Prometheus' range queries. */
const MAX_POINTS = 11_000;

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config, store, analyzer, metrics, health, engine } = deps;
  const app = Fastify({ logger: false, ajv: { customOptions: { allErrors: false, removeAdditional: false } } });

  await app.register(swagger, {
    openapi: {
      info: { title: 'gcache-advisor', version: deps.version, description: 'Galera replication window, IST budget and gcache sizing.' },
      components: config.http.token ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {},
      ...(config.http.token ? { security: [{ bearer: [] }] } : {}),
    },
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: Array<{ instancePath: string; params?: Record<string, unknown>; message?: string }>; validationContext?: string }, _req, reply) => {
    if (err.validation) {
      const v = err.validation[0]!;
      const name = v.instancePath.replace(/^\//, '') || String(v.params?.missingProperty ?? v.params?.additionalProperty ?? err.validationContext);
      return reply.status(400).send({ error: 'Bad Request', message: `${name}: ${v.message}` });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) return reply.status(500).send({ error: 'Internal Server Error', message: 'internal error' });
    return reply.status(status).send({ error: status === 404 ? 'Not Found' : status === 401 ? 'Unauthorized' : 'Bad Request', message: err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));

  const token = config.http.token?.reveal();
  if (token) {
    const expected = Buffer.from(`Bearer ${token}`);
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (!req.url.startsWith('/api/')) return;
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        await reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', message: 'a valid bearer token is required' });
      }
    });
  }

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const writable = store.isWritable();
    const last = health.lastSampleAt();
    const maxAge = Math.max(30_000, 3 * health.expectedIntervalMs());
    const fresh = last !== null && Date.now() - last <= maxAge;
    const body = { status: writable && fresh ? 'ready' : 'not ready', storeWritable: writable, lastSampleAt: last === null ? null : new Date(last).toISOString() };
    return reply.status(writable && fresh ? 200 : 503).send(body);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await metrics.render()));
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const clusterParam = { type: 'object', properties: { cluster: { type: 'string' } }, required: ['cluster'] } as const;
  const nodeParams = { type: 'object', properties: { cluster: { type: 'string' }, node: { type: 'string' } }, required: ['cluster', 'node'] } as const;

  const clusterConfig = (name: string) => {
    const c = config.clusters.find((x) => x.name === name);
    if (!c) throw new NotFound(`unknown cluster "${name}"`);
    return c;
  };
  const analysisOf = (name: string): ClusterAnalysis | undefined => {
    clusterConfig(name);
    return analyzer.latest(name);
  };
  const nodeOf = (cluster: string, node: string): NodeAnalysis | null => {
    const c = clusterConfig(cluster);
    if (!c.nodes.some((n) => n.name === node)) throw new NotFound(`unknown node "${node}" in cluster "${cluster}"`);
    return analyzer.latest(cluster)?.nodes.find((n) => n.node === node) ?? null;
  };

  app.get('/api/v1/clusters', { schema: { summary: 'Configured clusters with their target and recommendation', tags: ['clusters'] } }, async () => ({
    clusters: config.clusters.map((c) => {
      const a = analyzer.latest(c.name);
      return {
        name: c.name,
        nodes: c.nodes.map((n) => n.name),
        targetWindowSeconds: c.targetWindowSeconds,
        maintenanceAllowanceSeconds: c.maintenanceAllowanceSeconds,
        recommendedGcacheSizeBytes: a?.recommendation.recommendedGcacheSizeBytes ?? null,
        computedAt: a ? new Date(a.computedAt).toISOString() : null,
      };
    }),
  }));

  app.get<{ Params: { cluster: string } }>('/api/v1/clusters/:cluster', { schema: { summary: 'One cluster: nodes, recommendation and trend', tags: ['clusters'], params: clusterParam } }, async (req) => {
    const c = clusterConfig(req.params.cluster);
    const a = analyzer.latest(c.name);
    return {
      name: c.name,
      targetWindowSeconds: c.targetWindowSeconds,
      maintenanceAllowanceSeconds: c.maintenanceAllowanceSeconds,
      computedAt: a ? new Date(a.computedAt).toISOString() : null,
      nodes: c.nodes.map((n) => nodeSummary(n.name, a?.nodes.find((x) => x.node === n.name) ?? null)),
      recommendation: a?.recommendation ?? null,
      trend: a?.trend ?? null,
    };
  });

  app.get<{ Params: { cluster: string } }>('/api/v1/clusters/:cluster/nodes', { schema: { summary: 'Nodes with their state and latest figures', tags: ['nodes'], params: clusterParam } }, async (req) => {
    const c = clusterConfig(req.params.cluster);
    const a = analyzer.latest(c.name);
    return { nodes: c.nodes.map((n) => nodeSummary(n.name, a?.nodes.find((x) => x.node === n.name) ?? null)) };
  });

  app.get<{ Params: { cluster: string; node: string } }>('/api/v1/clusters/:cluster/nodes/:node', { schema: { summary: 'Everything computed for one node, with explanations', tags: ['nodes'], params: nodeParams } }, async (req) => {
    const n = nodeOf(req.params.cluster, req.params.node);
    return n ?? nodeSummary(req.params.node, null);
  });

  app.get<{ Params: { cluster: string; node: string } }>('/api/v1/clusters/:cluster/nodes/:node/window', { schema: { summary: 'The node\'s replication window, IST budget and write rates', tags: ['nodes'], params: nodeParams } }, async (req) => {
    const n = nodeOf(req.params.cluster, req.params.node);
    return windowView(req.params.cluster, req.params.node, n);
  });

  app.get<{ Params: { cluster: string; node: string }; Querystring: { from?: string; to?: string; step?: string } }>(
    '/api/v1/clusters/:cluster/nodes/:node/history',
    {
      schema: {
        summary: 'History of the node\'s windows, IST budget and rates, averaged per step',
        tags: ['nodes'],
        params: nodeParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string', description: 'RFC 3339 time or Unix seconds; default: to - 1h' },
            to: { type: 'string', description: 'RFC 3339 time or Unix seconds; default: now' },
            step: { type: 'string', description: 'a duration such as 1m; default 1m' },
          },
        },
      },
    },
    async (req) => {
      nodeOf(req.params.cluster, req.params.node);
      const to = req.query.to === undefined ? Date.now() : parseTime('to', req.query.to);
      const from = req.query.from === undefined ? to - 3600_000 : parseTime('from', req.query.from);
      const stepMs = req.query.step === undefined ? 60_000 : durationParam('step', req.query.step) * 1000;
      if (from >= to) throw new BadParameter('from', 'a time before "to"', req.query.from);
      if (stepMs < 1000) throw new BadParameter('step', 'a duration of at least 1s', req.query.step);
      if ((to - from) / stepMs > MAX_POINTS) throw new BadParameter('step', `a step giving at most ${MAX_POINTS} points between from and to`, req.query.step);
      const points = store.nodeAnalysisSeries(req.params.cluster, req.params.node, from, to, stepMs).map((p) => ({ ...p, at: new Date(p.at!).toISOString() }));
      return { cluster: req.params.cluster, node: req.params.node, from: new Date(from).toISOString(), to: new Date(to).toISOString(), stepSeconds: stepMs / 1000, points };
    },
  );

  app.get<{ Params: { cluster: string }; Querystring: { targetWindow?: string } }>(
    '/api/v1/clusters/:cluster/recommendation',
    {
      schema: {
        summary: 'gcache.size needed for a target window, with the arithmetic and warnings',
        tags: ['clusters'],
        params: clusterParam,
        querystring: { type: 'object', additionalProperties: false, properties: { targetWindow: { type: 'string', description: 'a duration such as 2h; default: the cluster\'s targetWindow' } } },
      },
    },
    async (req, reply) => {
      const c = clusterConfig(req.params.cluster);
      const target = req.query.targetWindow === undefined ? c.targetWindowSeconds : durationParam('targetWindow', req.query.targetWindow);
      if (target <= 0) throw new BadParameter('targetWindow', 'a duration greater than zero', req.query.targetWindow);
      const a = analysisOf(c.name);
      if (!a) return reply.status(503).send({ error: 'Service Unavailable', message: 'no analysis yet: wait for the first sampling cycle' });
      return { cluster: c.name, computedAt: new Date(a.computedAt).toISOString(), ...recommendGcacheSize({ ...a.sizingInput, targetWindowSeconds: target }) };
    },
  );

  app.get<{ Querystring: { cluster?: string; since?: string; limit?: number } }>(
    '/api/v1/events',
    {
      schema: {
        summary: 'Recorded events: counter epochs, page-store purges, gcache resets',
        tags: ['events'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cluster: { type: 'string' },
            since: { type: 'string', description: 'RFC 3339 time or Unix seconds; default: 24 h ago' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
      },
    },
    async (req) => {
      if (req.query.cluster !== undefined) clusterConfig(req.query.cluster);
      const since = req.query.since === undefined ? Date.now() - 86400_000 : parseTime('since', req.query.since);
      const events = store.recentEvents(req.query.cluster ?? null, since, req.query.limit ?? 100);
      return { events: events.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) };
    },
  );

  app.get('/api/v1/alerts', { schema: { summary: 'Open alerts: pending and firing', tags: ['alerts'] } }, async () => ({
    alerts: engine.openAlerts().map(alertView),
  }));

  app.get<{ Querystring: { since?: string; limit?: number } }>(
    '/api/v1/alerts/history',
    {
      schema: {
        summary: 'Alerts that were active since a time, newest first, resolved ones included',
        tags: ['alerts'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { since: { type: 'string', description: 'RFC 3339 time or Unix seconds; default: 7 days ago' }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
      },
    },
    async (req) => {
      const since = req.query.since === undefined ? Date.now() - 7 * 86400_000 : parseTime('since', req.query.since);
      return { alerts: store.alertHistory(since, req.query.limit ?? 100).map(alertView) };
    },
  );

  app.get('/api/v1/rules', { schema: { summary: 'The loaded rules', tags: ['rules'] } }, async () => ({
    rules: engine.ruleList.map((r) => ({ name: r.name, file: r.file, scope: r.scope, condition: r.conditionText, forSeconds: r.forSeconds, severity: r.severity, labels: r.labels, summary: r.summary })),
  }));

  return app;
}

function alertView(a: StoredAlert) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return { alertname: a.rule, state: a.state, severity: a.severity, labels: a.labels, annotations: a.annotations, activeAt: iso(a.activeAt), firedAt: iso(a.firedAt), resolvedAt: iso(a.resolvedAt) };
}

function nodeSummary(name: string, n: NodeAnalysis | null) {
  return {
    name,
    reachable: n?.reachable ?? false,
    localState: n?.localState ?? null,
    clusterStatus: n?.clusterStatus ?? null,
    gcacheSizeBytes: n?.gcacheSizeBytes ?? null,
    ring: n?.measured.ring ?? 'unknown',
    measuredSeconds: n?.measured.measuredSeconds ?? null,
    effectiveWindowSeconds: n?.effectiveWindowSeconds ?? null,
    istBudgetSeconds: n?.istBudget.current?.seconds ?? null,
    donor: n?.istBudget.current?.donor ?? null,
    computedAt: n ? new Date(n.computedAt).toISOString() : null,
  };
}

function windowView(cluster: string, node: string, n: NodeAnalysis | null) {
  return {
    cluster,
    node,
    sampledAt: n ? new Date(n.computedAt).toISOString() : null,
    ring: n?.measured.ring ?? 'unknown',
    summary: n?.measured.summary ?? 'no samples yet',
    measuredSeconds: n?.measured.measuredSeconds ?? null,
    oldestCachedSeqno: n?.measured.oldestSeqno ?? null,
    oldestCachedAt: n?.measured.oldestCommittedAt ? new Date(n.measured.oldestCommittedAt).toISOString() : null,
    oldestCachedAgeIsLowerBound: n?.measured.lowerBound ?? false,
    estimatedSeconds: {
      short: n?.estimated.short.bestSeconds ?? null,
      long: n?.estimated.long.bestSeconds ?? null,
      classicShort: n?.estimated.short.classicSeconds ?? null,
      classicLong: n?.estimated.long.classicSeconds ?? null,
    },
    istBudgetSeconds: { current: n?.istBudget.current?.seconds ?? null, pessimistic: n?.istBudget.pessimistic?.seconds ?? null },
    istBudgetBytes: n?.istBudget.current?.bytes ?? null,
    istBudgetReason: n?.istBudget.current?.reason ?? null,
    donor: n?.istBudget.current?.donor ?? null,
    gcacheSizeBytes: n?.gcacheSizeBytes ?? null,
    writeRateBytesPerSecond: { short: n?.rates.short?.bytesPerSecond ?? null, long: n?.rates.long?.bytesPerSecond ?? null },
    writeSetsPerSecond: { short: n?.rates.short?.writeSetsPerSecond ?? null, long: n?.rates.long?.writeSetsPerSecond ?? null },
    overheadFactor: n?.overheadFactor ?? null,
  };
}

function durationParam(param: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new BadParameter(param, (err as UnitParseError).message.replace(/^expected /, '').replace(/, got .*$/, ''), value);
  }
}

/** RFC 3339 or Unix seconds, as Prometheus' HTTP API takes them. */
function parseTime(param: string, value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const t = Date.parse(value);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) throw new BadParameter(param, 'an RFC 3339 time or Unix seconds', value);
  return t;
}
