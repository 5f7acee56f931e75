/**
 * Property-based tests of the REST API's input: any path segment (percent-encoded bytes, unicode,
 * very long, dot segments) and any query string for /history, /recommendation, /events and
 * /alerts/history get a 200, 400, 404 or 503 (never a 500) with a JSON body, and a 400 names
 * the parameter at fault. The app is the daemon's own, on an in-memory store filled with a
 * recorded real run (so that the 200 paths, with their numbers and dates, are exercised too).
 * FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failing one).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { parseConfig } from '../../src/config/load.ts';
import { Store, type StoredSample } from '../../src/store/store.ts';
import { Analyzer } from '../../src/pipeline/analyzer.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { RuleEngine } from '../../src/rules/engine.ts';
import { buildServer } from '../../src/http/app.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { CycleResult } from '../../src/sampler/sampler.ts';
import type { NodeSettings } from '../../src/store/store.ts';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const runs = (numRuns: number) => ({ numRuns, includeErrorInReport: true, ...(seed === undefined ? {} : { seed }) });

type Sample = Pick<StoredSample, 'takenAt' | 'epoch' | 'status'>;

/** fastify's router refuses a path parameter longer than this (its maxParamLength) before any route runs. */
const ROUTER_MAX_PARAM_LENGTH = 200; // buildServer's maxParamLength: as long as the longest name a schema accepts

let app: FastifyInstance;
let store: Store;
const errorLogs: string[] = [];

before(async () => {
  const run = JSON.parse(fs.readFileSync(new URL('../fixtures/window-run.json', import.meta.url), 'utf8')) as {
    nodes: Record<string, Sample[]>;
    settings: Record<string, NodeSettings>;
  };
  const names = Object.keys(run.nodes);
  // Two clusters: one with a recorded real run behind it, one never sampled (its figures are 503s).
  const config = parseConfig(
    `clusters:
  - name: accuracy
    connection: { user: u, passwordEnv: PW }
    nodes: [${names.map((n) => `{ name: ${n}, host: 127.0.0.1 }`).join(', ')}]
  - name: prod.eu-1
    connection: { user: u, passwordEnv: PW }
    nodes: [{ name: db_1, host: 127.0.0.1 }]
storage: { path: ':memory:' }
rules: { dir: ${path.join(import.meta.dirname, '..', '..', 'rules')} }
http: { listen: 127.0.0.1:0 }
`,
    'fuzz-http.yaml',
    { PW: 'pw' },
  );
  store = new Store(':memory:');
  const log = createLogger({ level: 'error', write: (line) => errorLogs.push(line) });
  for (const n of names) store.recordSettings(run.settings[n]!);
  const clock = { now: 0 };
  const analyzer = new Analyzer(config, store, log, () => clock.now);
  const cycles = Math.min(...Object.values(run.nodes).map((s) => s.length));
  for (let i = 0; i < cycles; i++) {
    const outcomes = names.map((node) => ({
      cluster: 'accuracy',
      node,
      ok: true as const,
      sample: { ...run.nodes[node]![i]!, cluster: 'accuracy', node, durationMs: 1 },
      newEpochReason: null,
      delta: null,
      settings: null,
      events: [],
      failures: [],
    }));
    const result: CycleResult = { startedAt: outcomes[0]!.sample.takenAt, durationMs: 1, outcomes };
    clock.now = Math.max(...outcomes.map((o) => o.sample.takenAt));
    for (const analysis of analyzer.onCycle(result).analyses) store.recordAnalysis(analysis);
  }
  const at = clock.now;
  store.recordEvent({ cluster: 'accuracy', node: 'node1', at, kind: 'counter_epoch', detail: { reason: 'Uptime dropped', note: '😀 "quoted" \u0000' } });
  store.recordEvent({ cluster: 'prod.eu-1', node: 'db_1', at: at - 1000, kind: 'page_store_purge', detail: {} });
  store.saveAlert({
    fingerprint: 'f1',
    rule: 'GaleraWindowBelowTarget',
    severity: 'warning',
    labels: { cluster: 'accuracy', node: 'node1' },
    annotations: { summary: 's' },
    state: 'firing',
    activeAt: at,
    firedAt: at,
    resolvedAt: null,
    lastNotifiedAt: null,
  });
  store.saveAlert({
    fingerprint: 'f2',
    rule: 'GaleraNodeNotSynced',
    severity: 'critical',
    labels: {},
    annotations: {},
    state: 'resolved',
    activeAt: at - 5000,
    firedAt: null,
    resolvedAt: at,
    lastNotifiedAt: null,
  });
  app = await buildServer({
    config,
    store,
    analyzer,
    metrics: new Metrics('test'),
    engine: RuleEngine.fromConfig(config, store, log),
    log,
    version: 'test',
    health: { lastSampleAt: () => Date.now(), expectedIntervalMs: () => 10_000 },
  });
  // The fixture must give the 200 paths something to show, or the properties below test only errors.
  const history = await app.inject({
    method: 'GET',
    url: `/api/v1/clusters/accuracy/nodes/node1/history?from=${Math.floor(at / 1000) - 86400}&to=${Math.ceil(at / 1000) + 1}&step=1m`,
  });
  assert.equal(history.statusCode, 200, history.body);
  assert.ok((history.json() as { points: unknown[] }).points.length > 0, history.body);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/clusters/accuracy/recommendation' })).statusCode, 200);
});

after(async () => {
  await app?.close();
  store?.close();
});

interface Answer {
  status: number;
  message: string | null;
}

/** One GET: the status is one the API documents, the body is JSON, an error has a message. */
async function get(url: string): Promise<Answer> {
  const res = await app.inject({ method: 'GET', url });
  assert.notEqual(res.statusCode, 500, `500 for ${url}: ${res.body} ${errorLogs.at(-1) ?? ''}`);
  const body = res.json() as { message?: unknown; code?: unknown };
  if (res.statusCode === 200) return { status: 200, message: null };
  assert.ok([400, 404, 414, 503].includes(res.statusCode), `${res.statusCode} for ${url}: ${res.body}`);
  assert.equal(typeof body.message, 'string', `no message for ${url}: ${res.body}`);
  const message = body.message as string;
  assert.ok(message.length > 0, `an empty message for ${url}`);
  // The API's own messages are short whatever was sent; fastify's router errors (FST_ERR_*) repeat the whole URL.
  if (!String(body.code ?? '').startsWith('FST_ERR_')) assert.ok(message.length <= 600, `message of ${message.length} chars for ${url.slice(0, 100)}`);
  return { status: res.statusCode, message };
}

// --- path segments ---------------------------------------------------------------------------

const KNOWN_CLUSTERS = ['accuracy', 'prod.eu-1'];
const KNOWN_NODES = ['node1', 'node2', 'db_1'];

/** A path segment as it goes on the wire, with what the router should decode it to (null: not decodable). */
const segment: fc.Arbitrary<{ raw: string; decoded: string | null }> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KNOWN_CLUSTERS, ...KNOWN_NODES).map((s) => ({ raw: s, decoded: s })) },
  // Any text (surrogates replaced: encodeURIComponent refuses a lone one), percent-encoded as a client would.
  {
    weight: 3,
    arbitrary: fc
      .string({ unit: 'binary', minLength: 1, maxLength: 40 })
      .map((s) => s.replace(/[\uD800-\uDFFF]/g, '?'))
      .map((s) => ({ raw: encodeURIComponent(s), decoded: s })),
  },
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 12 }).map((bytes) => {
    const raw = bytes.map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
    let decoded: string | null;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      decoded = null;
    }
    return { raw, decoded };
  }),
  fc.constantFrom('%', '%G1', '%E0%A4', '%C0%AF', '%2F', '%2E%2E', '%00', '%25', '..', '.', '~', "!$&'()*+,;=:@").map((raw) => {
    try {
      return { raw, decoded: decodeURIComponent(raw) };
    } catch {
      return { raw, decoded: null };
    }
  }),
  fc.integer({ min: 90, max: 10_000 }).map((n) => ({ raw: 'a'.repeat(n), decoded: 'a'.repeat(n) })),
  fc.integer({ min: 30, max: 300 }).map((n) => ({ raw: '%C3%A9'.repeat(n), decoded: 'é'.repeat(n) })),
);

const ROUTES = ['/clusters/:c', '/clusters/:c/nodes', '/clusters/:c/nodes/:n', '/clusters/:c/nodes/:n/window', '/clusters/:c/nodes/:n/history', '/clusters/:c/recommendation'];

test('path segments: any cluster and node name gets 200, 400, 404 or 503, never a 500, and an error names the input', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ROUTES), segment, segment, async (route, c, n) => {
      const url = `/api/v1${route.replace(':c', c.raw).replace(':n', n.raw)}`;
      const { status, message } = await get(url);
      const used = route.includes(':n') ? [c, n] : [c];
      if (status === 414) {
        // fastify's router, before any route: a segment beyond its maxParamLength (see the report to the lead).
        assert.ok(
          used.some((s) => s.raw.length > ROUTER_MAX_PARAM_LENGTH),
          `414 for ${url}`,
        );
      } else if (status === 400) {
        // Either the schema (maxLength) naming the parameter, or the router refusing a bad escape (app.ts frameworkErrors).
        assert.ok(
          /^(cluster|node): /.test(message!) || (/^path: not a valid URL/.test(message!) && message!.length < 200 && used.some((s) => s.decoded === null || s.raw.includes('%'))),
          `400 for ${url}: ${message}`,
        );
      } else if (status === 404) {
        assert.ok(/^unknown (cluster|node) "|^no route GET /.test(message!), `404 for ${url}: ${message}`);
      } else if (status === 200 || status === 503) {
        // Only configured names get figures (or a 503 before the first analysis).
        assert.ok(KNOWN_CLUSTERS.includes(c.decoded ?? ''), `${status} for ${url}`);
      }
    }),
    runs(400),
  );
});

// --- query strings ---------------------------------------------------------------------------

const TIMES = [
  '0',
  '1',
  '1795347476',
  '1795347476.5',
  '999999999999',
  '9999999999999',
  '2026-11-26T12:00:00Z',
  '2026-11-26T12:00:00.123+02:00',
  '2026-11-26',
  '2026-13-45T99:99:99Z',
  '9999-12-31T23:59:59Z',
  '0000-01-01T00:00:00Z',
  '275760-09-13T00:00:00Z',
  '-1',
  '1e9',
  'now',
  'NaN',
  '',
];
const DURATIONS = ['1s', '1m', '90s', '1h30m', '1d', '0s', '0.5s', '1.0001s', '999ms', '99999999999999999999w', '9'.repeat(300) + 's', '1e400s', '1w', '-1m', '60', '', 'PT1H'];
const LIMITS = ['1', '100', '1000', '1001', '0', '-1', '1.5', '1e3', '1e309', 'Infinity', 'abc', '', '99999999999999999999'];

/** A value as a client could send it: from the lists above, unicode, raw percent bytes, very long. */
function queryValue(likely: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...likely).map(encodeURIComponent) },
    fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
    fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }).map((b) => b.map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')),
    fc.constantFrom('%', '%zz', '+', '%2B', '&', '=', '#'),
    fc.integer({ min: 90, max: 20_000 }).map((n) => '7'.repeat(n)),
  );
}

function queryProperty(route: string, params: Record<string, string[]>) {
  const names = Object.keys(params);
  const pair = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...names).chain((name) => queryValue(params[name]!).map((value) => [name, value] as const)) },
    fc.tuple(fc.constantFrom('unknown', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'FROM', 'limit[]', ''), queryValue(['1'])),
  );
  return fc.asyncProperty(fc.array(pair, { maxLength: 4 }), fc.boolean(), async (pairs, noEquals) => {
    const query = pairs.map(([k, v]) => (noEquals && v === '' ? k : `${k}=${v}`)).join('&');
    const url = `/api/v1${route}${query ? `?${query}` : ''}`;
    const { status, message } = await get(url);
    if (status === 400) {
      // The message starts with the name of a parameter of the route (one left to its default
      // can be the one at fault: a default step for a long range), or of an unknown one that was sent.
      const named = new Set([...names, ...pairs.map(([k]) => decodeName(k))]);
      assert.ok(
        [...named].some((k) => message!.startsWith(`${k}: `)),
        `400 for ${url.slice(0, 200)}: ${message}`,
      );
      assert.ok(!message!.includes('got undefined'), message!);
    } else if (status === 404) {
      assert.ok(names.includes('cluster') && message!.startsWith('unknown cluster "'), `404 for ${url.slice(0, 200)}: ${message}`);
    } else {
      assert.ok(status === 200 || status === 503, `${status} for ${url.slice(0, 200)}: ${message}`);
    }
  });
}

function decodeName(k: string): string {
  try {
    return decodeURIComponent(k);
  } catch {
    return k;
  }
}

test('/history: any from, to and step gets 200 or a 400 naming the parameter, never a 500', async () => {
  await fc.assert(queryProperty('/clusters/accuracy/nodes/node1/history', { from: TIMES, to: TIMES, step: DURATIONS }), runs(500));
});

test('/recommendation: any targetWindow gets 200, 503 or a 400 naming the parameter, never a 500', async () => {
  await fc.assert(queryProperty('/clusters/accuracy/recommendation', { targetWindow: DURATIONS }), runs(300));
  await fc.assert(queryProperty('/clusters/prod.eu-1/recommendation', { targetWindow: DURATIONS }), runs(50));
});

test('/events: any cluster, since and limit gets 200, 404 for an unknown cluster, or a 400 naming the parameter', async () => {
  const events = fc.asyncProperty(
    fc.record({
      cluster: fc.option(fc.oneof(fc.constantFrom(...KNOWN_CLUSTERS), fc.string({ unit: 'grapheme', maxLength: 250 }))),
      since: fc.option(queryValue(TIMES)),
      limit: fc.option(queryValue(LIMITS)),
    }),
    async ({ cluster, since, limit }) => {
      const parts = [cluster === null ? null : `cluster=${encodeURIComponent(cluster)}`, since === null ? null : `since=${since}`, limit === null ? null : `limit=${limit}`].filter(
        Boolean,
      );
      const url = `/api/v1/events${parts.length ? `?${parts.join('&')}` : ''}`;
      const { status, message } = await get(url);
      if (status === 404) assert.ok(cluster !== null && !KNOWN_CLUSTERS.includes(cluster) && message!.startsWith('unknown cluster "'), `404 for ${url}: ${message}`);
      else if (status === 400) assert.ok(/^(cluster|since|limit): /.test(message!), `400 for ${url}: ${message}`);
      else assert.equal(status, 200, `${status} for ${url}: ${message}`);
    },
  );
  await fc.assert(events, runs(400));
  await fc.assert(queryProperty('/events', { cluster: KNOWN_CLUSTERS, since: TIMES, limit: LIMITS }), runs(200));
});

test('/alerts/history: any since and limit gets 200 or a 400 naming the parameter', async () => {
  await fc.assert(queryProperty('/alerts/history', { since: TIMES, limit: LIMITS }), runs(400));
});
