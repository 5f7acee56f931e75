/**
 * The forecast's routes through app.inject, on a real SQLite file filled by the real Sampler,
 * Analyzer and CyclePipeline from the recorded run (test/support/recorded-daemon.ts): node3 is
 * down for five cycles in the middle and comes back, node2 is down for the last five. Checks the
 * rejoin countdown, the window view's forecast figures, the maintenance check (safe for a few
 * seconds of writes, risky beyond the ring, risky without the history to show it), their 400s,
 * 404s and 503, the token's scope, and the OpenAPI document.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/http/app.ts';
import { maintenanceView, rejoinView, windowView } from '../../src/http/views.ts';
import { maintenanceCheck, ringCapacityOf } from '../../src/analysis/maintenance.ts';
import { recordedConfig, recordedDaemon, RECORDED_CYCLES, type RecordedDaemon } from '../support/recorded-daemon.ts';

const API = '/api/v1';
const NODE = `${API}/clusters/accuracy/nodes`;
const TOKEN = 'forecast-test-token-7';

let seeded: RecordedDaemon;
let fresh: RecordedDaemon;
let guarded: FastifyInstance;

before(async () => {
  seeded = await recordedDaemon({ down: (node, cycle) => (node === 'node3' && cycle >= 28 && cycle < 33) || (node === 'node2' && cycle >= RECORDED_CYCLES - 5) });
  fresh = await recordedDaemon({ cycles: 0 });
  guarded = await buildServer({ ...seeded.deps, config: recordedConfig(seeded.dir, TOKEN) });
});

after(async () => {
  await guarded?.close();
  await seeded?.close();
  await fresh?.close();
});

const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The body is what JSON.stringify makes of `expected`: the response schema let every field through. */
function sameJson(body: unknown, expected: unknown, message?: string): void {
  assert.deepEqual(body, asJson(expected), message);
}

async function get(url: string, app: FastifyInstance = seeded.app, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, headers });
}

async function ok(url: string, app: FastifyInstance = seeded.app): Promise<any> {
  const res = await get(url, app);
  assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`);
  return res.json();
}

function analysed(node: string) {
  const n = seeded.deps.analyzer.latest('accuracy')?.nodes.find((x) => x.node === node);
  assert.ok(n, `an analysis of ${node}`);
  return n;
}

test('/rejoin: synced with no countdown; away with the countdown; the last return once back', async () => {
  const synced = await ok(`${NODE}/node1/rejoin`);
  sameJson(synced, rejoinView('accuracy', 'node1', analysed('node1')));
  assert.equal(synced.status, 'synced');
  assert.equal(synced.rejoin, null);

  const away = await ok(`${NODE}/node2/rejoin`);
  sameJson(away, rejoinView('accuracy', 'node2', analysed('node2')));
  assert.equal(away.status, 'away');
  assert.equal(away.rejoin.awaySeconds, 25, 'last seen Synced five 5-second cycles ago');
  assert.equal(away.rejoin.needsSeqno, away.rejoin.lastCommitted + 1);
  assert.ok(['node1', 'node3'].includes(away.rejoin.donor), `donor ${away.rejoin.donor}`);
  assert.ok(away.rejoin.remainingBytes > 0 && ['ist-possible', 'sst-likely'].includes(away.rejoin.verdict), JSON.stringify(away.rejoin));

  const back = await ok(`${NODE}/node3/rejoin`);
  assert.equal(back.status, 'synced');
  assert.equal(back.rejoin, null);
  sameJson(back.lastRejoin, analysed('node3').lastRejoin);
  assert.ok(back.lastRejoin.awaySeconds >= 25 && ['ist', 'sst'].includes(back.lastRejoin.method), JSON.stringify(back.lastRejoin));

  assert.deepEqual(await ok(`${NODE}/node1/rejoin`, fresh.app), { cluster: 'accuracy', node: 'node1', computedAt: null, status: 'unknown', rejoin: null, lastRejoin: null });
});

test('/window: the IST budget by the forecast, its coverage and the countdown', async () => {
  for (const node of ['node1', 'node2']) {
    const body = await ok(`${NODE}/${node}/window`);
    sameJson(body, windowView('accuracy', node, analysed(node)));
  }
  const synced = await ok(`${NODE}/node1/window`);
  const budget = analysed('node1').istBudget;
  assert.deepEqual(synced.istBudgetSeconds, {
    current: budget.current!.seconds,
    pessimistic: budget.pessimistic!.seconds,
    likely: budget.likely!.seconds,
    safe: budget.safe!.seconds,
  });
  assert.ok(synced.istBudgetSeconds.likely > 0 && synced.istBudgetSeconds.safe > 0 && synced.istBudgetSeconds.safe <= synced.istBudgetSeconds.likely);
  assert.equal(synced.istForecastCoverage, budget.forecast!.calibration.coverage);
  assert.equal(synced.rejoin, null);
  sameJson((await ok(`${NODE}/node2/window`)).rejoin, analysed('node2').rejoin);
  const before = await ok(`${NODE}/node1/window`, fresh.app);
  assert.deepEqual([before.istBudgetSeconds, before.istForecastCoverage, before.rejoin], [{ current: null, pessimistic: null, likely: null, safe: null }, null, null]);
});

test('/maintenance: the check of the analysis, on the donor ring, with the cluster write history', async () => {
  const n = analysed('node1');
  const donor = analysed(n.istBudget.current!.donor!);
  const body = await ok(`${NODE}/node1/maintenance?duration=10s`);
  const expected = maintenanceCheck({
    node: n,
    writes: seeded.deps.analyzer.writesOf('accuracy')!,
    now: Date.now(),
    durationSeconds: 10,
    gcacheSizeBytes: donor.gcacheSizeBytes,
    capacityBytes: ringCapacityOf(donor),
  });
  sameJson(body, maintenanceView('accuracy', 'node1', n.computedAt, expected));
  // Ten seconds of the recorded load is about half of what the 8 MiB rings can spare.
  assert.equal(body.verdict, 'safe', body.reason);
  assert.equal(body.fitShare, 1);
  assert.ok(body.comparedStartPoints >= 20 && body.p99Bytes < body.budgetBytes, JSON.stringify(body));
  assert.match(
    body.reason,
    new RegExp(`^10 s of writes fitted in the [\\d.]+ MiB IST budget from 100% of \\d+ comparable past start points \\(p99 [\\d.]+ MiB\\); donor ${donor.node}$`),
  );
});

test('/maintenance: risky when the writes outgrow the ring, without the history, or away', async () => {
  const long = await ok(`${NODE}/node1/maintenance?duration=2m`);
  assert.equal(long.verdict, 'risky');
  assert.ok(long.fitShare < 0.99 && long.p99Bytes > long.budgetBytes, JSON.stringify(long));
  assert.ok(long.gcacheSizeForP99Bytes > 8 * 1024 * 1024 && long.gcacheSizeForP99Bytes % (1024 * 1024) === 0, `${long.gcacheSizeForP99Bytes}`);
  assert.match(long.reason, /^2 min of writes fitted in the .* IST budget from only [\d.]+% of \d+ comparable past start points .*; gcache\.size [\d.]+ MiB would hold the p99$/);

  const beyond = await ok(`${NODE}/node1/maintenance?duration=10m`);
  assert.equal(beyond.verdict, 'risky');
  assert.equal(beyond.fitShare, null);
  assert.match(beyond.reason, /^not enough write history to show that 10 min of writes fit/);

  const away = await ok(`${NODE}/node2/maintenance?duration=1s`);
  assert.equal(away.verdict, 'risky');
  assert.equal(away.reason, 'the node was not sampled by the latest cycle: its state is unknown');

  const res = await get(`${NODE}/node1/maintenance?duration=10s`, fresh.app);
  assert.equal(res.statusCode, 503);
  assert.deepEqual(res.json(), { error: 'Service Unavailable', message: 'no analysis yet: wait for the first sampling cycle' });
});

test('bad durations are 400s that name duration; unknown names are 404s', async () => {
  const cases: Array<[string, RegExp]> = [
    ['', /^duration: must have required property 'duration'$/],
    ['?duration=soon', /^duration: expected a duration such as 90s, 15m, 2h, 7d or 1h30m, got "soon"$/],
    ['?duration=', /^duration: expected a duration such as 90s/],
    ['?duration=0s', /^duration: expected a duration greater than zero, got "0s"$/],
    ['?duration=30d1s', /^duration: expected a duration of at most 30d, got "30d1s"$/],
    ['?duration=5w', /^duration: expected a duration of at most 30d, got "5w"$/],
    ['?duration=45m&for=x', /^for: must NOT have additional properties$/],
  ];
  for (const [query, message] of cases) {
    const res = await get(`${NODE}/node1/maintenance${query}`);
    assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
    assert.deepEqual(Object.keys(res.json()), ['error', 'message']);
    assert.match(res.json().message, message, query);
  }
  assert.equal((await ok(`${NODE}/node1/maintenance?duration=30d`)).verdict, 'risky', 'thirty days is accepted');

  for (const url of [`${NODE}/node9/rejoin`, `${NODE}/node9/maintenance?duration=45m`]) {
    const res = await get(url);
    assert.equal(res.statusCode, 404, url);
    assert.deepEqual(res.json(), { error: 'Not Found', message: 'unknown node "node9" in cluster "accuracy"' });
  }
  for (const url of [`${API}/clusters/nope/nodes/node1/rejoin`, `${API}/clusters/nope/nodes/node1/maintenance?duration=45m`]) {
    assert.deepEqual((await get(url)).json(), { error: 'Not Found', message: 'unknown cluster "nope"' }, url);
  }
});

test('behind a token: both routes need it', async () => {
  for (const url of [`${NODE}/node1/rejoin`, `${NODE}/node1/maintenance?duration=10s`, `${NODE}/node1/maintenance`]) {
    const res = await get(url, guarded);
    assert.equal(res.statusCode, 401, url);
    assert.deepEqual(res.json(), { error: 'Unauthorized', message: 'a valid bearer token is required' });
    const wrong = await get(url, guarded, { authorization: `Bearer ${TOKEN}x` });
    assert.equal(wrong.statusCode, 401, url);
  }
  const auth = { authorization: `Bearer ${TOKEN}` };
  for (const url of [`${NODE}/node1/rejoin`, `${NODE}/node1/maintenance?duration=10s`]) {
    const res = await get(url, guarded, auth);
    assert.equal(res.statusCode, 200, url);
    assert.deepEqual(res.json(), await ok(url));
  }
});

test('the OpenAPI document gives both routes their shapes and error answers', async () => {
  const doc = await ok(`${API}/openapi.json`);
  const routes = { '/rejoin': ['400', '401', '404', '500'], '/maintenance': ['400', '401', '404', '500', '503'] };
  for (const [suffix, errors] of Object.entries(routes)) {
    const op = doc.paths[`${API}/clusters/{cluster}/nodes/{node}${suffix}`]?.get;
    assert.ok(op, `${suffix} is documented`);
    assert.deepEqual(Object.keys(op.responses).sort(), ['200', ...errors].sort(), suffix);
    assert.ok(op.responses['200'].description && op.responses['200'].description !== 'Default Response', suffix);
    for (const status of errors) assert.deepEqual(op.responses[status].content['application/json'].schema.required, ['error', 'message'], `${suffix} ${status}`);
  }
  const shape = (suffix: string) => doc.paths[`${API}/clusters/{cluster}/nodes/{node}${suffix}`].get.responses['200'].content['application/json'].schema;
  assert.deepEqual(Object.keys(shape('/rejoin').properties), Object.keys(rejoinView('c', 'n', null)));
  const maintenance = shape('/maintenance');
  assert.deepEqual(Object.keys(maintenance.properties), Object.keys(await ok(`${NODE}/node1/maintenance?duration=10s`)));
  assert.deepEqual(maintenance.properties.verdict.enum, ['safe', 'risky']);
  const duration = doc.paths[`${API}/clusters/{cluster}/nodes/{node}/maintenance`].get.parameters.find((p: { name: string }) => p.name === 'duration');
  assert.equal(duration.required, true);
  assert.deepEqual(Object.keys(shape('/window').properties), Object.keys(windowView('c', 'n', null)));
  assert.deepEqual(Object.keys(shape('/window').properties.istBudgetSeconds.properties), ['current', 'pessimistic', 'likely', 'safe']);
});
