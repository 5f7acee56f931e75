/**
 * The daemon's HTTP side against a real sandbox: the REST API (auth, 400s naming the parameter,
 * 404s, the window and recommendation), /metrics checked by promtool, readiness, and a scrape
 * that answers while every MySQL server is frozen.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { GaleraSandbox, sleep } from '../../tools/sandbox/galera-sandbox.ts';
import { prepareSysbench, SysbenchRun } from '../../tools/sandbox/workload.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { createLogger } from '../../src/log/logger.ts';
import { parseConfig } from '../../src/config/load.ts';
import { startCluster, configYaml, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';

const TOKEN = 'Api-token-for-tests-123';
let sandbox: GaleraSandbox;
let daemon: Daemon;
let load: SysbenchRun[] = [];
const logLines: string[] = [];

before(async () => {
  sandbox = await startCluster({ nodes: 3, basePort: 24500, gcacheSize: '8M' });
  await prepareSysbench(sandbox, { tables: 2, tableSize: 1000 });
  load = [1, 2].map((i) => new SysbenchRun(sandbox, i, { rate: 20, threads: 1, tables: 2, tableSize: 1000 }));
  const config = parseConfig(
    configYaml(sandbox, `sampling: { schedule: "* * * * * *", timeout: 2s }\nhttp: { listen: 127.0.0.1:0, tokenEnv: GA_TEST_TOKEN }\nhorizons: { short: 1m, long: 1h }\n`),
    'http-test.yaml',
    { [PASSWORD_ENV]: ADVISOR_PASSWORD, GA_TEST_TOKEN: TOKEN },
  );
  daemon = await startDaemon(config, createLogger({ level: 'debug', write: (l) => logLines.push(l) }));
  await sleep(4000);
});

after(async () => {
  await Promise.all(load.map((l) => l.stop()));
  await daemon?.stop();
  await sandbox?.destroy();
});

const auth = { authorization: `Bearer ${TOKEN}` };
async function get(path: string, headers: Record<string, string> = auth): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(daemon.url + path, { headers });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // /metrics is text
  }
  return { status: res.status, body, text };
}

test('health and readiness', async () => {
  assert.equal((await get('/healthz', {})).status, 200);
  const ready = await get('/readyz', {});
  assert.equal(ready.status, 200, ready.text);
  assert.equal(ready.body.storeWritable, true);
});

test('the API needs the bearer token when one is configured', async () => {
  assert.equal((await get('/api/v1/clusters', {})).status, 401);
  assert.equal((await get('/api/v1/clusters', { authorization: 'Bearer wrong' })).status, 401);
  const ok = await get('/api/v1/clusters');
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.clusters[0].nodes, ['node1', 'node2', 'node3']);
  assert.equal(ok.body.clusters[0].targetWindowSeconds, 3600);
});

test('clusters, nodes and the per-node window', async () => {
  const cluster = await get('/api/v1/clusters/sandbox');
  assert.equal(cluster.status, 200);
  assert.equal(cluster.body.nodes.length, 3);
  const nodes = await get('/api/v1/clusters/sandbox/nodes');
  assert.ok(nodes.body.nodes.every((n: { reachable: boolean; localState: string }) => n.reachable && n.localState === 'Synced'));
  const w = await get('/api/v1/clusters/sandbox/nodes/node2/window');
  assert.equal(w.status, 200);
  for (const key of ['measuredSeconds', 'estimatedSeconds', 'istBudgetSeconds', 'donor', 'gcacheSizeBytes', 'writeRateBytesPerSecond', 'sampledAt']) {
    assert.ok(key in w.body, `window has ${key}`);
  }
  assert.ok('short' in w.body.estimatedSeconds && 'long' in w.body.estimatedSeconds);
  assert.ok('current' in w.body.istBudgetSeconds && 'pessimistic' in w.body.istBudgetSeconds);
  assert.equal(w.body.gcacheSizeBytes, 8 * 2 ** 20);
  assert.ok(w.body.writeRateBytesPerSecond.short > 0, JSON.stringify(w.body));
  assert.ok(w.body.estimatedSeconds.short > 0);
  assert.ok(['node1', 'node3'].includes(w.body.donor), `donor ${w.body.donor}`);
  assert.ok(Date.now() - Date.parse(w.body.sampledAt) < 10_000);
  const full = await get('/api/v1/clusters/sandbox/nodes/node2');
  assert.equal(full.body.node, 'node2');
  assert.ok(full.body.measured.summary);
});

test('the recommendation for any target window, with its arithmetic', async () => {
  const oneHour = await get('/api/v1/clusters/sandbox/recommendation');
  assert.equal(oneHour.status, 200);
  assert.equal(oneHour.body.targetWindowSeconds, 3600);
  const twoHours = await get('/api/v1/clusters/sandbox/recommendation?targetWindow=2h');
  assert.equal(twoHours.body.targetWindowSeconds, 7200);
  assert.ok(
    twoHours.body.recommendedGcacheSizeBytes > oneHour.body.recommendedGcacheSizeBytes,
    `${twoHours.body.recommendedGcacheSizeBytes} vs ${oneHour.body.recommendedGcacheSizeBytes}`,
  );
  assert.match(twoHours.body.arithmetic.text[0], / × 2 h × /);
  assert.ok(Array.isArray(twoHours.body.warnings));
});

test('bad parameters get a 400 naming them; unknown names a 404', async () => {
  const bad = await get('/api/v1/clusters/sandbox/recommendation?targetWindow=soon');
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /^targetWindow: expected a duration such as 90s/);
  const extra = await get('/api/v1/clusters/sandbox/recommendation?target=2h');
  assert.equal(extra.status, 400);
  assert.match(extra.body.message, /target/);
  const step = await get('/api/v1/clusters/sandbox/nodes/node1/history?step=1ms');
  assert.equal(step.status, 400);
  assert.match(step.body.message, /^step: /);
  const from = await get('/api/v1/clusters/sandbox/nodes/node1/history?from=yesterday');
  assert.equal(from.status, 400);
  assert.match(from.body.message, /^from: expected an RFC 3339 time or Unix seconds/);
  const limit = await get('/api/v1/events?limit=0');
  assert.equal(limit.status, 400);
  assert.match(limit.body.message, /limit/);
  assert.equal((await get('/api/v1/clusters/nope')).status, 404);
  const node = await get('/api/v1/clusters/sandbox/nodes/node9/window');
  assert.equal(node.status, 404);
  assert.match(node.body.message, /unknown node "node9"/);
});

test('history of the figures, averaged per step', async () => {
  // The analysis history is stored a row per node and minute (see pipeline/analysis-recorder.ts).
  const h = await get('/api/v1/clusters/sandbox/nodes/node1/history?step=1m');
  assert.equal(h.status, 200);
  assert.ok(h.body.points.length >= 1, JSON.stringify(h.body));
  assert.ok(h.body.points.every((p: { samples: number }) => p.samples >= 1));
  assert.ok(h.body.points.every((p: { writeRateShortBytesPerSecond: number | null }) => p.writeRateShortBytesPerSecond === null || p.writeRateShortBytesPerSecond >= 0));
});

test('the OpenAPI document describes the API', async () => {
  const doc = await get('/api/v1/openapi.json');
  assert.equal(doc.status, 200);
  assert.ok(doc.body.openapi.startsWith('3.'));
  for (const p of ['/api/v1/clusters', '/api/v1/clusters/{cluster}/nodes/{node}/window', '/api/v1/clusters/{cluster}/recommendation']) {
    assert.ok(p in doc.body.paths, `documents ${p}`);
  }
});

test('/metrics: the required families, and promtool finds nothing to complain about', async () => {
  const m = await get('/metrics', {});
  assert.equal(m.status, 200);
  for (const family of [
    'galera_write_rate_bytes_per_second{cluster="sandbox",node="node1",horizon="short"}',
    'galera_gcache_size_bytes{cluster="sandbox",node="node1"}',
    'galera_replication_window_seconds{cluster="sandbox",node="node1",method="estimated_short"}',
    'galera_ist_budget_seconds{cluster="sandbox",node="node2",rate="current"}',
    'galera_gcache_recommended_size_bytes{cluster="sandbox"}',
    'gcache_advisor_sample_duration_seconds_bucket',
    'gcache_advisor_last_sample_timestamp_seconds{cluster="sandbox",node="node3"}',
    'gcache_advisor_up{cluster="sandbox",node="node1"} 1',
    'gcache_advisor_build_info{',
    'process_cpu_seconds_total',
  ]) {
    assert.ok(m.text.includes(family), `exports ${family}`);
  }
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
  assert.equal(promtool.error, undefined, 'promtool is installed (Debian package prometheus)');
  assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
  assert.equal((promtool.stdout + promtool.stderr).trim(), '', 'promtool reports nothing');
});

test('a scrape never queries MySQL: it answers while every server is frozen', async () => {
  const pids = sandbox.nodes.map((n) => n.pid!);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  try {
    const started = Date.now();
    const m = await get('/metrics', {});
    assert.equal(m.status, 200);
    assert.ok(m.text.includes('galera_gcache_size_bytes'));
    assert.ok(Date.now() - started < 1000, 'answered from memory');
    const w = await get('/api/v1/clusters/sandbox/nodes/node1/window');
    assert.equal(w.status, 200);
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  }
});

test('no secret in the logs', () => {
  const all = logLines.join('\n');
  assert.ok(all.includes('http listening'));
  assert.ok(!all.includes(TOKEN), 'no token');
  assert.ok(!all.includes(ADVISOR_PASSWORD), 'no password');
});
