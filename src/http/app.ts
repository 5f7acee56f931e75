/**
 * The HTTP application: the fastify instance, its OpenAPI document, error handling, and the
 * route modules. Public endpoints (/healthz, /readyz, /metrics) sit at the root; the REST API
 * is its own scope under /api/v1, whose bearer-token hook guards every route registered in it,
 * the API's 404s included. Every answer comes from memory or SQLite; nothing here queries MySQL.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../config/load.js';
import type { Store } from '../store/store.js';
import type { Analyzer } from '../pipeline/analyzer.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RuleEngine } from '../rules/engine.js';
import type { Logger } from '../log/logger.js';
import { bearerTokenHook } from './auth.js';
import { makeLookup } from './lookup.js';
import { apiErrors, JsonObject } from './schemas.js';
import { healthRoutes } from './routes/health.js';
import { clusterRoutes } from './routes/clusters.js';
import { nodeRoutes } from './routes/nodes.js';
import { eventRoutes } from './routes/events.js';
import { alertRoutes } from './routes/alerts.js';

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
  log: Logger;
  /** What went wrong in the last member discovery of each cluster that uses it (null when nothing). */
  discoveryErrors?: () => ReadonlyMap<string, string | null>;
}

export const API_PREFIX = '/api/v1';

/** The instance the route modules register on: request and reply types come from the routes' TypeBox schemas. */
export type Api = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

type HttpError = Error & { statusCode?: number; validation?: Array<{ instancePath: string; params?: Record<string, unknown>; message?: string }>; validationContext?: string };

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config, log } = deps;
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { allErrors: false, removeAdditional: false } },
    // As long as the longest name a schema accepts, so that a long one gets the route's 404.
    routerOptions: { maxParamLength: 200 },
    // What the router refuses before any route (a stray %FF, a name too long) gets an answer
    // that names the path without repeating it at length.
    frameworkErrors: (err, req, reply: FastifyReply) => {
      const url = `${req.url.slice(0, 100)}${req.url.length > 100 ? '…' : ''}`;
      const status = err.code === 'FST_ERR_BAD_URL' ? 400 : ((err as { statusCode?: number }).statusCode ?? 400);
      const message = err.code === 'FST_ERR_BAD_URL' ? 'path: not a valid URL' : status === 414 ? 'path: a name longer than 200 characters' : 'path: not understood';
      void reply.status(status).send({ error: status === 414 ? 'URI Too Long' : 'Bad Request', message: `${message} (${url})` });
    },
  });
  const token = config.http.token?.reveal();

  await app.register(swagger, {
    openapi: {
      info: { title: 'gcache-advisor', version: deps.version, description: 'Galera replication window, IST budget and gcache sizing.' },
      components: token ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {},
      ...(token ? { security: [{ bearer: [] }] } : {}),
    },
  });

  app.setErrorHandler((err: HttpError, req, reply) => {
    if (err.validation) {
      const v = err.validation[0]!;
      const name = v.instancePath.replace(/^\//, '') || String(v.params?.missingProperty ?? v.params?.additionalProperty ?? err.validationContext);
      return reply.status(400).send({ error: 'Bad Request', message: `${name}: ${v.message}` });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      // The client learns nothing of the cause; the log does (through the secret scrubber).
      log.error('request failed', { method: req.method, route: req.routeOptions.url ?? null, err });
      return reply.status(500).send({ error: 'Internal Server Error', message: 'internal error' });
    }
    return reply.status(status).send({ error: status === 404 ? 'Not Found' : status === 401 ? 'Unauthorized' : 'Bad Request', message: err.message });
  });
  const notFound = (req: { method: string; url: string }, reply: { status(code: number): { send(body: unknown): unknown } }) =>
    reply.status(404).send({ error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}` });
  app.setNotFoundHandler(notFound);

  healthRoutes(app.withTypeProvider<TypeBoxTypeProvider>(), deps);

  await app.register(
    async (scope) => {
      const api = scope.withTypeProvider<TypeBoxTypeProvider>();
      if (token) api.addHook('onRequest', bearerTokenHook(token));
      // Unknown paths under the API get their 404 from this scope, after the token check.
      api.setNotFoundHandler(notFound);
      api.get('/openapi.json', { schema: { hide: true, response: { 200: JsonObject, ...apiErrors() } } }, async () => app.swagger());
      const lookup = makeLookup(config, deps.analyzer);
      clusterRoutes(api, deps, lookup);
      nodeRoutes(api, deps, lookup);
      eventRoutes(api, deps, lookup);
      alertRoutes(api, deps);
    },
    { prefix: API_PREFIX },
  );
  return app;
}
