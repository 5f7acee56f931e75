/**
 * Every route of the HTTP API through app.inject, on a real SQLite file filled the way the daemon
 * fills it: the recorded statuses of test/fixtures go through the real Sampler, Analyzer and
 * CyclePipeline (no MySQL), with the project's rules. Checks each route's 200 body against what
 * the analysis and the store hold (the response schemas must let every field through), the 404s
 * of unknown names, the 400s that name the parameter, the token's scope, and the OpenAPI
 * document's response shapes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { parseConfig, type Config } from '../../src/config/load.ts';
import { Store } from '../../src/store/store.ts';
import { Sampler, type ReaderFactory } from '../../src/sampler/sampler.ts';
import { parseStatusRows, type NodeStatus } from '../../src/sampler/status.ts';
import { parseGcacheSettings } from '../../src/sampler/provider-options.ts';
import { Analyzer } from '../../src/pipeline/analyzer.ts';
import { CyclePipeline } from '../../src/pipeline/cycle.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { acceptsGzip } from '../../src/http/routes/health.ts';
import { gunzipSync } from 'node:zlib';
import { RuleEngine } from '../../src/rules/engine.ts';
import { Outbox } from '../../src/alerts/outbox.ts';
import { buildServer, type ServerDeps } from '../../src/http/app.ts';
import { alertView, nodeSummaries, nodeSummary, windowView } from '../../src/http/views.ts';
import { recommendGcacheSize } from '../../src/analysis/sizing.ts';
import { createLogger } from '../../src/log/logger.ts';

interface RecordedRun {
  settings: Record<string, { sizeBytes: number; pageSizeBytes: number; keepPagesSizeBytes: number; recover: boolean; segment: number; sstDonor: string }>;
  nodes: Record<string, Array<{ takenAt: number; status: NodeStatus }>>;
}
type Snapshot = { takenAt: number; rows: Array<{ Variable_name: string; Value: string }> };

const fixture = (name: string) => JSON.parse(fs.readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
/** A 4-minute run of a 3-node cluster under load. */
const run = fixture('window-run.json') as RecordedRun;
/** One node before and after writes, then after a restart. */
const real = fixture('real-cluster.json');
const RESTART: Snapshot[] = [real.node2.before, real.node2.afterWrites, real.node2.afterRestart];
const NODES = Object.keys(run.nodes);
const CYCLES = Math.min(...Object.values(run.nodes).map((s) => s.length));
const TOKEN = 'routes-test-token-42';
const API = '/api/v1';

function configFor(dir: string, token: boolean): Config {
  return parseConfig(
    `clusters:
  - name: accuracy
    connection: { user: u, passwordEnv: PW }
    nodes: [${NODES.map((n) => `{ name: ${n}, host: 127.0.0.1 }`).join(', ')}]
  - name: restart
    connection: { user: u, passwordEnv: PW }
    nodes: [{ name: node2, host: 127.0.0.2 }]
storage: { path: ${path.join(dir, 'ga.db')} }
rules: { dir: ${path.join(import.meta.dirname, '..', '..', 'rules')} }
http: { listen: 127.0.0.1:0${token ? ', tokenEnv: TOKEN' : ''} }
`,
    'http-routes.yaml',
    { PW: 'pw-for-test', TOKEN },
  );
}

/**
 * The daemon's parts on a store in a new folder, after `cycles` sampling cycles: cluster
 * "accuracy" plays the recorded run (shifted to end now, so that the default time ranges see it);
 * cluster "restart" is refused until its recorded snapshots play in the last cycles, the last
 * one after a restart.
 */
async function daemonAfter(cycles: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-http-routes-'));
  const config = configFor(dir, false);
  const store = new Store(config.storage.path);
  const log = createLogger({ level: 'error', write: () => undefined });
  const shift = Date.now() - 5000 - Math.max(...NODES.map((n) => run.nodes[n]![CYCLES - 1]!.takenAt));
  let cycle = 0;
  let clock = run.nodes.node1![0]!.takenAt + shift;
  const now = () => clock;
  // The restart snapshots keep the pace they were recorded at: Uptime follows the clock.
  const restartOffset = run.nodes.node1![CYCLES - RESTART.length]!.takenAt + shift - RESTART[0]!.takenAt;
  const readers: ReaderFactory = (target) => ({
    readStatus: async () => {
      if (target.cluster === 'accuracy') return run.nodes[target.name]![cycle]!.status;
      const snapshot = RESTART[cycle - (CYCLES - RESTART.length)];
      if (!snapshot) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.2:3306'), { code: 'ECONNREFUSED' });
      const status = parseStatusRows(snapshot.rows);
      return { ...status, uptimeSeconds: status.uptimeSeconds + Math.round((clock - snapshot.takenAt - restartOffset) / 1000) };
    },
    readSettings: async () => {
      if (target.cluster !== 'accuracy') return { gcache: parseGcacheSettings(real.providerOptions), sstDonor: '' };
      const { sstDonor, ...gcache } = run.settings[target.name]!;
      return { gcache, sstDonor };
    },
    close: async () => undefined,
  });
  // No backoff: a refused node is tried again every cycle, as the recording needs.
  const sampler = new Sampler(config, store, log, { now, readerFactory: readers, backoff: { initialMs: 0, maxMs: 0, jitter: 0 } });
  const metrics = new Metrics('test');
  metrics.declareNodes(config);
  const engine = RuleEngine.fromConfig(config, store, log);
  const analyzer = new Analyzer(config, store, log, now);
  const pipeline = new CyclePipeline({
    config,
    store,
    analyzer,
    metrics,
    engine,
    outbox: new Outbox(store, new Map(), log, { expireAfterMs: 86400_000 }),
    log,
    skippedCycles: () => 0,
    now,
  });
  for (cycle = 0; cycle < cycles; cycle++) {
    clock = run.nodes.node1![cycle]!.takenAt + shift;
    await pipeline.run((await sampler.runCycle())!);
  }
  await sampler.stop();
  pipeline.close();
  const deps: ServerDeps = {
    config,
    store,
    analyzer,
    metrics,
    engine,
    log,
    version: 'test',
    health: { lastSampleAt: () => pipeline.lastSampleAt, expectedIntervalMs: () => pipeline.expectedIntervalMs() },
  };
  return { deps, dir, app: await buildServer(deps) };
}

let seeded: Awaited<ReturnType<typeof daemonAfter>>;
let fresh: Awaited<ReturnType<typeof daemonAfter>>;
/** The seeded daemon's parts behind a token. */
let guarded: FastifyInstance;

before(async () => {
  seeded = await daemonAfter(CYCLES);
  fresh = await daemonAfter(0);
  guarded = await buildServer({ ...seeded.deps, config: configFor(seeded.dir, true) });
});

after(async () => {
  await guarded?.close();
  for (const d of [seeded, fresh]) {
    await d?.app.close();
    d?.deps.store.close();
    if (d) fs.rmSync(d.dir, { recursive: true, force: true });
  }
});

/** What JSON.stringify makes of a value: what the API answered before it had response schemas. */
const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The body is what JSON.stringify makes of `expected`: the response schema let every field through. */
function sameJson(body: unknown, expected: unknown, message?: string): void {
  assert.deepEqual(body, asJson(expected), message);
}
const iso = (t: number) => new Date(t).toISOString();

async function get(app: FastifyInstance, url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse & { body: string }> {
  return app.inject({ method: 'GET', url, headers });
}

async function ok(url: string, app: FastifyInstance = seeded.app): Promise<any> {
  const res = await get(app, url);
  assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  return res.json();
}

const latest = (cluster: string) => {
  const a = seeded.deps.analyzer.latest(cluster);
  assert.ok(a, `an analysis of ${cluster}`);
  return a;
};

test('the recorded run gives every route something to show', () => {
  const accuracy = latest('accuracy');
  assert.ok(
    accuracy.nodes.every((n) => n.reachable && n.measured.ring === 'full' && n.measured.measuredSeconds! > 0),
    'the ring wrapped in the recorded run',
  );
  assert.ok(accuracy.recommendation.recommendedGcacheSizeBytes! > 0);
  const restarted = latest('restart').nodes[0]!;
  assert.ok(restarted.reachable && restarted.istBudget.current !== null, 'the restart cluster was sampled in the end');
});

test('/clusters: every configured cluster with its target and recommendation', async () => {
  const body = await ok(`${API}/clusters`);
  const accuracy = latest('accuracy');
  assert.deepEqual(body.clusters[0], {
    name: 'accuracy',
    nodes: NODES,
    departedNodes: [],
    membership: { mode: 'list', error: null },
    targetWindowSeconds: 3600,
    maintenanceAllowanceSeconds: 1800,
    recommendedGcacheSizeBytes: accuracy.recommendation.recommendedGcacheSizeBytes,
    computedAt: iso(accuracy.computedAt),
  });
  assert.deepEqual(
    body.clusters.map((c: { name: string }) => c.name),
    ['accuracy', 'restart'],
  );
  const before = await ok(`${API}/clusters`, fresh.app);
  assert.equal(before.clusters[0].computedAt, null);
  assert.equal(before.clusters[0].recommendedGcacheSizeBytes, null);
});

test('/clusters/:cluster: the nodes, and the recommendation and trend exactly as analysed', async () => {
  for (const name of ['accuracy', 'restart']) {
    const a = latest(name);
    const config = seeded.deps.config.clusters.find((c) => c.name === name)!;
    const body = await ok(`${API}/clusters/${name}`);
    sameJson(body, {
      name,
      membership: { mode: 'list', error: null },
      targetWindowSeconds: 3600,
      maintenanceAllowanceSeconds: 1800,
      computedAt: iso(a.computedAt),
      nodes: nodeSummaries(config.nodes, a),
      recommendation: a.recommendation,
      trend: a.trend,
    });
  }
  const before = await ok(`${API}/clusters/accuracy`, fresh.app);
  assert.equal(before.recommendation, null);
  assert.equal(before.trend, null);
  sameJson(before.nodes[0], nodeSummary({ name: 'node1' }, null));
});

test('/clusters/:cluster/nodes: each node with its state and latest figures', async () => {
  const body = await ok(`${API}/clusters/accuracy/nodes`);
  sameJson(body, { nodes: nodeSummaries(seeded.deps.config.clusters[0]!.nodes, latest('accuracy')) });
  assert.ok(body.nodes.every((n: { reachable: boolean; localState: string | null; ring: string }) => n.reachable && n.localState === 'Synced' && n.ring === 'full'));
});

test('/clusters/:cluster/nodes/:node: the whole analysis, every field of it; the summary before the first', async () => {
  for (const [cluster, node] of [
    ['accuracy', 'node1'],
    ['accuracy', 'node3'],
    ['restart', 'node2'],
  ] as const) {
    const body = await ok(`${API}/clusters/${cluster}/nodes/${node}`);
    sameJson(
      body,
      latest(cluster).nodes.find((n) => n.node === node),
    );
  }
  sameJson(await ok(`${API}/clusters/accuracy/nodes/node1`, fresh.app), nodeSummary({ name: 'node1' }, null));
});

test('/clusters/:cluster/nodes/:node/window: the window view of the analysis', async () => {
  const node2 = latest('accuracy').nodes.find((n) => n.node === 'node2')!;
  const body = await ok(`${API}/clusters/accuracy/nodes/node2/window`);
  sameJson(body, windowView('accuracy', 'node2', node2));
  assert.ok(body.measuredSeconds! > 0 && body.estimatedSeconds.short! > 0 && body.writeRateBytesPerSecond.short! > 0);
  assert.ok(['node1', 'node3'].includes(body.donor ?? ''), `donor ${body.donor}`);
  sameJson(await ok(`${API}/clusters/accuracy/nodes/node2/window`, fresh.app), windowView('accuracy', 'node2', null));
});

test('/clusters/:cluster/nodes/:node/history: every stored figure, averaged per step', async () => {
  const to = Date.now() + 1000;
  const from = to - 3600_000;
  const body = await ok(`${API}/clusters/accuracy/nodes/node1/history?from=${from / 1000}&to=${to / 1000}&step=1m`);
  const rows = seeded.deps.store.nodeAnalysisSeries('accuracy', 'node1', from, to, 60_000, 11_000);
  assert.ok(rows.length >= 4, `a row a minute over the 4-minute run: ${rows.length}`);
  sameJson(body, { cluster: 'accuracy', node: 'node1', from: iso(from), to: iso(to), stepSeconds: 60, points: rows.map((p) => ({ ...p, at: iso(p.at!) })) });
  assert.ok(body.points.every((p: { samples: number }) => p.samples >= 1));
  assert.ok(body.points.some((p: { measuredSeconds: number | null }) => p.measuredSeconds !== null && p.measuredSeconds > 0));
});

test('/clusters/:cluster/recommendation: recomputed for any target window; a 503 before the first analysis', async () => {
  const a = latest('accuracy');
  const body = await ok(`${API}/clusters/accuracy/recommendation?targetWindow=2h`);
  sameJson(body, { cluster: 'accuracy', computedAt: iso(a.computedAt), ...recommendGcacheSize({ ...a.sizingInput, targetWindowSeconds: 7200 }) });
  assert.equal((await ok(`${API}/clusters/accuracy/recommendation`)).recommendedGcacheSizeBytes, a.recommendation.recommendedGcacheSizeBytes);
  const res = await get(fresh.app, `${API}/clusters/accuracy/recommendation`);
  assert.equal(res.statusCode, 503);
  assert.deepEqual(res.json(), { error: 'Service Unavailable', message: 'no analysis yet: wait for the first sampling cycle' });
});

test('/events: the restart recorded as a new counter epoch', async () => {
  const body = await ok(`${API}/events`);
  const stored = seeded.deps.store.recentEvents(null, 0, 100);
  sameJson(body, { events: stored.map((e) => ({ ...e, at: iso(e.at) })) });
  const restart = body.events.find((e: { kind: string }) => e.kind === 'epoch_start');
  assert.ok(restart, JSON.stringify(body));
  assert.equal(restart.node, 'node2');
  assert.equal(restart.detail.epoch, 2);
  assert.match(restart.detail.reason, /^Uptime dropped/);
  sameJson(await ok(`${API}/events?cluster=accuracy&limit=5`), { events: seeded.deps.store.recentEvents('accuracy', 0, 5).map((e) => ({ ...e, at: iso(e.at) })) });
});

test('/alerts and /alerts/history: the open alerts, and the one that fired and resolved', async () => {
  const open = await ok(`${API}/alerts`);
  sameJson(open, { alerts: seeded.deps.engine.openAlerts().map(alertView) });
  const critical = open.alerts.filter(
    (a: { alertname: string; labels: { cluster: string } }) => a.alertname === 'GaleraReplicationWindowCritical' && a.labels.cluster === 'accuracy',
  );
  assert.equal(critical.length, 3, 'a window of a minute against a 1h target, on each node of the recorded run');
  assert.ok(
    critical.every((a: { state: string; firedAt: string | null }) => a.state === 'pending' && a.firedAt === null),
    'pending for its 5m',
  );

  const history = await ok(`${API}/alerts/history`);
  sameJson(history, { alerts: seeded.deps.store.alertHistory(0, 100).map(alertView) });
  const notSampled = history.alerts.find((a: { alertname: string }) => a.alertname === 'GcacheAdvisorNodeNotSampled');
  assert.ok(notSampled, JSON.stringify(history));
  assert.equal(notSampled.state, 'resolved');
  assert.equal(notSampled.labels.node, 'node2');
  assert.ok(Date.parse(notSampled.activeAt) <= Date.parse(notSampled.firedAt) && Date.parse(notSampled.firedAt) < Date.parse(notSampled.resolvedAt));
});

test('/rules: the loaded rules', async () => {
  const body = await ok(`${API}/rules`);
  assert.deepEqual(
    body.rules.map((r: { name: string }) => r.name),
    seeded.deps.engine.ruleList.map((r) => r.name),
  );
  const rule = seeded.deps.engine.ruleList.find((r) => r.name === 'GcacheAdvisorNodeNotSampled')!;
  assert.deepEqual(
    body.rules.find((r: { name: string }) => r.name === rule.name),
    { name: rule.name, file: rule.file, scope: 'node', condition: 'missed_cycles >= 3', forSeconds: 0, severity: 'critical', labels: {}, summary: rule.summary },
  );
});

test('probes and /metrics', async () => {
  assert.deepEqual(await ok('/healthz'), { status: 'ok' });
  const ready = await ok('/readyz');
  assert.deepEqual(ready, { status: 'ready', storeWritable: true, lastSampleAt: ready.lastSampleAt, reasons: [] });
  assert.ok(Date.now() - Date.parse(ready.lastSampleAt) < 60_000);
  const notReady = await get(fresh.app, '/readyz');
  assert.equal(notReady.statusCode, 503);
  assert.deepEqual(notReady.json(), { status: 'not ready', storeWritable: true, lastSampleAt: null, reasons: ['no successful sample yet'] });
  const metrics = await get(seeded.app, '/metrics');
  assert.equal(metrics.statusCode, 200);
  assert.equal(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(metrics.body, /^galera_gcache_size_bytes\{cluster="accuracy",node="node1"\} 8388608$/m);
  assert.equal(metrics.headers['content-encoding'], undefined, 'no gzip unless asked for');
  // Prometheus asks for gzip: the same text, compressed once per cycle.
  const gzipped = await get(seeded.app, '/metrics', { 'accept-encoding': 'gzip' });
  assert.equal(gzipped.headers['content-encoding'], 'gzip');
  assert.equal(gzipped.headers.vary, 'accept-encoding');
  assert.equal(gunzipSync(gzipped.rawPayload).toString('utf8'), metrics.body);
  assert.ok(gzipped.rawPayload.length * 4 < metrics.rawPayload.length, `gzip: ${gzipped.rawPayload.length} of ${metrics.rawPayload.length} bytes`);
  const refused = await get(seeded.app, '/metrics', { 'accept-encoding': 'gzip;q=0, identity' });
  assert.equal(refused.headers['content-encoding'], undefined, 'q=0 refuses gzip');
  assert.equal(refused.body, metrics.body);
});

test('Accept-Encoding: gzip is taken as HTTP says', () => {
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip('gzip'), true);
  assert.equal(acceptsGzip('br, GZIP;q=0.5'), true);
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip('gzip;q=0, *'), false, 'its own entry decides, not *');
  assert.equal(acceptsGzip('*;q=0'), false);
  assert.equal(acceptsGzip('identity, *;q=0.5'), true);
  assert.equal(acceptsGzip('deflate, identity'), false);
});

test('unknown clusters and nodes are 404s that name them', async () => {
  const unknownCluster = [
    '/clusters/nope',
    '/clusters/nope/nodes',
    '/clusters/nope/recommendation',
    '/clusters/nope/nodes/node1',
    '/clusters/nope/nodes/node1/window',
    '/clusters/nope/nodes/node1/history',
    '/events?cluster=nope',
  ];
  for (const url of unknownCluster) {
    const res = await get(seeded.app, API + url);
    assert.equal(res.statusCode, 404, url);
    assert.deepEqual(res.json(), { error: 'Not Found', message: 'unknown cluster "nope"' }, url);
  }
  for (const url of ['/clusters/accuracy/nodes/node9', '/clusters/accuracy/nodes/node9/window', '/clusters/accuracy/nodes/node9/history', '/clusters/restart/nodes/node1']) {
    const res = await get(seeded.app, API + url);
    assert.equal(res.statusCode, 404, url);
    assert.match(res.json().message, /^unknown node "node\d" in cluster "(accuracy|restart)"$/, url);
  }
});

test('bad parameters are 400s whose message starts with the parameter', async () => {
  const cases: Array<[string, RegExp]> = [
    ['/clusters/accuracy/recommendation?targetWindow=soon', /^targetWindow: expected a duration such as 90s/],
    ['/clusters/accuracy/recommendation?targetWindow=0s', /^targetWindow: expected a duration greater than zero, got "0s"$/],
    ['/clusters/accuracy/recommendation?target=2h', /^target: must NOT have additional properties$/],
    ['/clusters/accuracy/nodes/node1/history?step=1ms', /^step: /],
    ['/clusters/accuracy/nodes/node1/history?from=yesterday', /^from: expected an RFC 3339 time or Unix seconds, got "yesterday"$/],
    ['/clusters/accuracy/nodes/node1/history?to=later', /^to: expected an RFC 3339 time or Unix seconds/],
    ['/clusters/accuracy/nodes/node1/history?from=200&to=100', /^from: expected a time before "to", got "200"$/],
    ['/clusters/accuracy/nodes/node1/history?from=0&to=86400000', /^step: expected a step giving at most 11000 points between from and to, got its default$/],
    ['/events?limit=0', /^limit: must be >= 1$/],
    ['/events?limit=many', /^limit: must be integer$/],
    ['/events?cluster=', /^cluster: must NOT have fewer than 1 characters$/],
    ['/alerts/history?since=last%20week', /^since: expected an RFC 3339 time or Unix seconds, got "last week"$/],
    ['/alerts/history?limit=1001', /^limit: must be <= 1000$/],
    [`/events?cluster=${'c'.repeat(201)}`, /^cluster: must NOT have more than 200 characters$/],
  ];
  for (const [url, message] of cases) {
    const res = await get(seeded.app, API + url);
    assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
    assert.deepEqual(Object.keys(res.json()), ['error', 'message']);
    assert.equal(res.json().error, 'Bad Request');
    assert.match(res.json().message, message, url);
  }
});

test('behind a token: the API needs it, its 404s included; the probes and /metrics do not', async () => {
  for (const url of [`${API}/clusters`, `${API}/clusters/accuracy/nodes/node1/window`, `${API}/openapi.json`, `${API}/clusters/nope`]) {
    const res = await get(guarded, url);
    assert.equal(res.statusCode, 401, url);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.deepEqual(res.json(), { error: 'Unauthorized', message: 'a valid bearer token is required' });
  }
  const auth = { authorization: `Bearer ${TOKEN}` };
  const window = await get(guarded, `${API}/clusters/accuracy/nodes/node1/window`, auth);
  assert.equal(window.statusCode, 200);
  assert.deepEqual(window.json(), await ok(`${API}/clusters/accuracy/nodes/node1/window`));
  assert.equal((await get(guarded, `${API}/clusters/nope`, auth)).statusCode, 404);
  for (const url of ['/healthz', '/readyz', '/metrics']) assert.equal((await get(guarded, url)).statusCode, 200, url);
  const doc = JSON.parse((await get(guarded, `${API}/openapi.json`, auth)).body);
  assert.deepEqual(doc.components.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } });
});

const DOCUMENTED = {
  '/clusters': [],
  '/clusters/{cluster}': ['400', '404'],
  '/clusters/{cluster}/recommendation': ['400', '404', '503'],
  '/clusters/{cluster}/nodes': ['400', '404'],
  '/clusters/{cluster}/nodes/{node}': ['400', '404'],
  '/clusters/{cluster}/nodes/{node}/window': ['400', '404'],
  '/clusters/{cluster}/nodes/{node}/history': ['400', '404'],
  '/clusters/{cluster}/nodes/{node}/rejoin': ['400', '404'],
  '/clusters/{cluster}/nodes/{node}/maintenance': ['400', '404', '503'],
  '/events': ['400', '404'],
  '/alerts': [],
  '/alerts/history': ['400'],
  '/rules': [],
} as const;

test('the OpenAPI document gives every route its 200 shape and its error answers', async () => {
  const doc = await ok(`${API}/openapi.json`);
  assert.deepEqual(
    Object.keys(doc.paths).sort(),
    Object.keys(DOCUMENTED)
      .map((p) => API + p)
      .sort(),
  );
  for (const [p, errors] of Object.entries(DOCUMENTED)) {
    assert.ok(seeded.app.hasRoute({ method: 'GET', url: API + p.replace(/\{(\w+)\}/g, ':$1') }), `${p} is a route`);
    const responses = doc.paths[API + p].get.responses;
    const shape = responses['200']?.content?.['application/json']?.schema;
    assert.ok(shape?.type === 'object' || shape?.anyOf, `${p}: a 200 response schema`);
    assert.ok(responses['200'].description && responses['200'].description !== 'Default Response', `${p}: the 200 response says what it is`);
    assert.deepEqual(Object.keys(responses).sort(), ['200', '401', '500', ...errors].sort(), p);
    for (const status of ['401', '500', ...errors]) {
      assert.deepEqual(responses[status].content['application/json'].schema.required, ['error', 'message'], `${p} ${status}`);
    }
  }
  const window = doc.paths[`${API}/clusters/{cluster}/nodes/{node}/window`].get.responses['200'].content['application/json'].schema;
  assert.deepEqual(Object.keys(window.properties), Object.keys(windowView('c', 'n', null)));
  assert.deepEqual(window.properties.donor, { type: 'string', nullable: true });
  assert.deepEqual(window.properties.sampledAt, { description: 'when the figures were computed', type: 'string', format: 'date-time', nullable: true });
});
