/**
 * The per-node and per-cluster metric families are kept outside prom-client (to allocate nothing
 * per series and cycle, issue #8): their exposition must still be exactly what prom-client writes
 * for the same values, escaping, histogram buckets and removals included, and the families must
 * still answer prom-client's registry (getMetricsAsJSON, getSingleMetric().get()).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { Metrics } from '../../src/metrics/metrics.ts';
import { FAILURE_REASONS } from '../../src/sampler/failure.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { CycleResult, NodeOutcome } from '../../src/sampler/sampler.ts';

/**
 * One family's block of an exposition: its HELP and TYPE lines, then its series sorted (the
 * series come node by node, where prom-client lists them in the order they were first set).
 */
function family(text: string, name: string): string[] {
  const block = text.split('\n\n').find((f) => f.startsWith(`# HELP ${name} `));
  assert.ok(block, `${name} is in the exposition`);
  const lines = block.replace(/\n$/, '').split('\n');
  return [...lines.slice(0, 2), ...lines.slice(2).sort()];
}

const ok = (cluster: string, node: string, takenAt: number, durationMs: number): NodeOutcome => ({
  cluster,
  node,
  ok: true,
  sample: { cluster, node, takenAt, epoch: 1, durationMs, status: {} as never },
  newEpochReason: null,
  delta: null,
  settings: null,
  events: [],
  failures: [],
});

const failed = (cluster: string, node: string, reason: (typeof FAILURE_REASONS)[number], backingOff = false): NodeOutcome => ({
  cluster,
  node,
  ok: false,
  takenAt: 0,
  failure: { reason, message: 'x' },
  consecutiveFailures: 1,
  backingOff,
});

// A discovered member's name comes from the node itself: any characters, escaping needed.
const ODD = 'db"1\\a\nb';
const cycles: NodeOutcome[][] = [
  [ok('c', 'a', 1_000, 3), ok('c', ODD, 1_001, 700), failed('c', 'b', 'timeout')],
  [ok('c', 'a', 11_000, 0.5), failed('c', ODD, 'auth'), failed('c', 'b', 'timeout', true)],
  [ok('c', 'a', 21_000, 6000), ok('c', ODD, 21_002, 50), failed('c', 'b', 'unreachable')],
];

test('the sampling families render exactly as prom-client renders the same observations', async () => {
  const metrics = new Metrics('test');
  const registry = new client.Registry();
  const up = new client.Gauge({ name: 'gcache_advisor_up', help: '1 when the last read of the node succeeded, else 0.', labelNames: ['cluster', 'node'], registers: [registry] });
  const last = new client.Gauge({
    name: 'gcache_advisor_last_sample_timestamp_seconds',
    help: 'Unix time of the last successful sample of the node.',
    labelNames: ['cluster', 'node'],
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'gcache_advisor_sample_duration_seconds',
    help: 'Time taken to read one node.',
    labelNames: ['cluster', 'node'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  const errors = new client.Counter({
    name: 'gcache_advisor_sample_errors_total',
    help: 'Failed reads of a node, by reason (a node backing off after failures is not read, and not counted).',
    labelNames: ['cluster', 'node', 'reason'],
    registers: [registry],
  });
  for (const outcomes of cycles) {
    metrics.recordCycle({ startedAt: 0, durationMs: 1, outcomes } as CycleResult, 0);
    for (const o of outcomes) {
      const labels = { cluster: o.cluster, node: o.node };
      if (o.ok) {
        up.set(labels, 1);
        last.set(labels, o.sample.takenAt / 1000);
        duration.observe(labels, o.sample.durationMs / 1000);
      } else {
        up.set(labels, 0);
        if (!o.backingOff) errors.inc({ ...labels, reason: o.failure.reason });
      }
    }
    await metrics.renderCache();
    const ours = await metrics.render();
    for (const metric of [up, last, duration, errors]) {
      const name = (metric as unknown as { name: string }).name;
      assert.deepEqual(family(ours, name), family(await registry.getSingleMetricAsString(name), name), name);
    }
  }
  assert.match(await metrics.render(), /^gcache_advisor_up\{cluster="c",node="db\\"1\\\\a\\nb"\} 1$/m, 'label values escaped as prom-client escapes them');
});

test('a departed node loses every series; back again, its counters start at 0; the registry still lists every family', async () => {
  const config = parseConfig(`clusters: [{ name: c, connection: { user: u, passwordEnv: PW }, nodes: [{ name: a, host: h1 }, { name: b, host: h2 }] }]`, 'test.yaml', {
    PW: 'x',
  });
  const metrics = new Metrics('test');
  metrics.declareNodes(config);
  metrics.recordCycle({ startedAt: 0, durationMs: 1, outcomes: [ok('c', 'a', 1_000, 2), failed('c', 'b', 'auth')] } as CycleResult, 0);
  await metrics.renderCache();
  assert.match(await metrics.render(), /^gcache_advisor_sample_errors_total\{cluster="c",node="b",reason="auth"\} 1$/m);

  const b = config.clusters[0]!.nodes[1]!;
  b.departed = true;
  metrics.followMembers(config);
  await metrics.renderCache();
  const without = await metrics.render();
  assert.doesNotMatch(without, /node="b"/, 'no series of the departed node');
  assert.match(without, /^gcache_advisor_up\{cluster="c",node="a"\} 1$/m, 'the others keep theirs');

  b.departed = false;
  metrics.followMembers(config);
  await metrics.renderCache();
  const back = await metrics.render();
  assert.match(back, /^gcache_advisor_sample_errors_total\{cluster="c",node="b",reason="auth"\} 0$/m, 'a new start for a returning node');
  assert.match(back, /^gcache_advisor_up\{cluster="c",node="b"\} 0$/m);

  const json = await metrics.registry.getMetricsAsJSON();
  const byName = new Map(json.map((m) => [m.name, m]));
  assert.equal(String(byName.get('gcache_advisor_sample_duration_seconds')?.type), 'histogram');
  assert.equal(String(byName.get('galera_gcache_history_drops_total')?.type), 'counter');
  const up = await metrics.registry.getSingleMetric('gcache_advisor_up')!.get();
  assert.deepEqual(
    up.values.map((v) => [v.labels, v.value]),
    [
      [{ cluster: 'c', node: 'a' }, 1],
      [{ cluster: 'c', node: 'b' }, 0],
    ],
  );
});

test('the exposition is rendered into a reused buffer, but each rendering served stays as it was', async () => {
  const metrics = new Metrics('test');
  metrics.recordCycle({ startedAt: 0, durationMs: 1, outcomes: [ok('c', 'a', 1_000, 2)] } as CycleResult, 0);
  const first = await metrics.rendered();
  const firstText = (await first.text()).toString('utf8');
  metrics.recordCycle({ startedAt: 0, durationMs: 1, outcomes: [failed('c', 'a', 'timeout')] } as CycleResult, 0);
  await metrics.renderCache();
  assert.equal((await first.text()).toString('utf8'), firstText, 'a rendering being sent is not overwritten by the next one');
  assert.match(firstText, /^gcache_advisor_up\{cluster="c",node="a"\} 1$/m);
  assert.match(await metrics.render(), /^gcache_advisor_up\{cluster="c",node="a"\} 0$/m);
  assert.match(await metrics.render(), /\n$/, 'ends with a newline, as prom-client ends it');
});

test('renderings asked for at once run one after the other, each whole', async () => {
  const metrics = new Metrics('test');
  metrics.recordCycle({ startedAt: 0, durationMs: 1, outcomes: [ok('c', 'a', 1_000, 2), ok('c', 'b', 1_000, 2)] } as CycleResult, 0);
  await Promise.all([metrics.renderCache(), metrics.renderCache(), metrics.rendered()]);
  const alone = new Metrics('test');
  alone.recordCycle({ startedAt: 0, durationMs: 1, outcomes: [ok('c', 'a', 1_000, 2), ok('c', 'b', 1_000, 2)] } as CycleResult, 0);
  await alone.renderCache();
  // Process-wide figures (CPU, heap, garbage collections) differ between two registries.
  const strip = (text: string) =>
    text
      .split('\n')
      .filter((line) => line !== '' && !/^(# (HELP|TYPE) )?(process|nodejs)_/.test(line))
      .join('\n');
  assert.equal(strip(await metrics.render()), strip(await alone.render()));
});
