/**
 * The disk under the database fills up while the daemon runs. The database lives on a small
 * tmpfs mounted by the test; a file of zeros takes the rest of it. The daemon (`serve`, a child
 * process, sampling a real one-node sandbox under a steady load every second) must carry on from
 * memory: samples, the API and /metrics stay current, /readyz answers 503 naming SQLITE_FULL,
 * gcache_advisor_store_errors_total{code="SQLITE_FULL"} counts the failed writes, and each error
 * is logged once a minute at most rather than every cycle. When the filler goes, writing resumes
 * by itself, /readyz is 200 again, and after a clean stop the database passes
 * `PRAGMA integrity_check` with everything committed before the fault still in it.
 * The rules carry on from memory too: an alert that arises while nothing can be written shows in
 * /api/v1/alerts and /metrics at once, and its notification goes out once space returns.
 *
 * Needs root (mount). Ports 26210-26213 (the sandbox) and 26250 (a webhook receiver).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sleep, type GaleraSandbox } from '../../tools/sandbox/galera-sandbox.ts';
import { startCluster, configYaml, queryDatabase, ADVISOR_PASSWORD, ADVISOR_USER, PASSWORD_ENV } from './helpers.ts';
import { SHIPPED_RULES, SteadyWriter, get, metricValue, waitFor, webhookReceiver } from './faults/common.ts';
import { SmallTmpfs } from './faults/filesystems.ts';
import { DaemonChild } from './faults/daemon-child.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-faults-full-'));
let sandbox: GaleraSandbox;
let writer: SteadyWriter | undefined;
let disk: SmallTmpfs | undefined;
let daemon: DaemonChild | undefined;

before(async () => {
  sandbox = await startCluster({ nodes: 1, basePort: 26200 });
  await SteadyWriter.prepare(sandbox);
  writer = new SteadyWriter(sandbox, 1, 20);
  disk = SmallTmpfs.mount(path.join(tmp, 'disk'), 8 * 1024 * 1024);
});

after(async () => {
  await daemon?.stop('SIGKILL');
  await writer?.stop();
  disk?.unmount();
  await sandbox?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const SAMPLES = 'SELECT COUNT(*) AS n FROM samples';
/** How long after the fill a write may first fail (see withBallast). */
const FIRST_FAILURE_MS = 60_000;
const BALLAST_CLUSTERS = 30;

/**
 * The config, with the sandbox's node watched BALLAST_CLUSTERS more times under other cluster
 * names. The WAL is reused after every checkpoint, so on a full disk the first write to fail is
 * the one that must grow the database file: at one sample a second that can take minutes, at
 * thirty a few seconds.
 */
function withBallast(yaml: string): string {
  const node = sandbox.nodes[0]!;
  const ballast = Array.from(
    { length: BALLAST_CLUSTERS },
    (_, i) =>
      `  - name: ballast${i}\n    connection: { user: ${ADVISOR_USER}, passwordEnv: ${PASSWORD_ENV} }\n    nodes: [{ name: ${node.name}, host: 127.0.0.1, port: ${node.sqlPort} }]\n`,
  ).join('');
  return yaml.replace(/^clusters:\n/m, `clusters:\n${ballast}`);
}

test('a full disk: sampling, API and metrics carry on, /readyz says why, the error is logged once, and writing resumes when space returns', async () => {
  const db = path.join(disk!.dir, 'advisor.db');
  const configFile = path.join(tmp, 'config.yaml');
  fs.writeFileSync(
    configFile,
    withBallast(
      configYaml(sandbox, `sampling: { schedule: "* * * * * *", timeout: 2s }\nhorizons: { short: 1m, long: 1h }\nrules: { dir: ${SHIPPED_RULES} }\nlog: { level: debug }\n`, db),
    ),
  );
  daemon = DaemonChild.start(configFile, { [PASSWORD_ENV]: ADVISOR_PASSWORD });
  const url = await daemon.url();
  await waitFor('ready, with samples stored', async () => (await get(url, '/readyz')).status === 200 && queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n >= 3, 30_000);

  const filledAt = Date.now();
  const filled = disk!.fill();

  // The first write to fail is one that must grow the database file (see withBallast).
  let ready = await get(url, '/readyz');
  await waitFor(
    '/readyz 503 naming SQLITE_FULL',
    async () => (ready = await get(url, '/readyz')).status === 503 && JSON.stringify(ready.body.reasons).includes('SQLITE_FULL'),
    FIRST_FAILURE_MS,
    () => ready.body,
  );
  const failedAfterMs = Date.now() - filledAt;
  // The cycle in flight as the disk filled may still have landed in the WAL's space (reused after
  // each checkpoint), but once a write has failed nothing more is stored until space returns.
  const storedBefore = queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n;
  assert.equal(ready.body.storeWritable, false);
  assert.ok(
    ready.body.reasons.some((r: string) => /^storage: SQLITE_FULL/.test(r)),
    JSON.stringify(ready.body),
  );

  // Carrying on from memory: fresh samples and figures in the API and /metrics, cycle after cycle.
  // /metrics is rendered once a cycle: a failed background checkpoint shows there from the next one.
  let first = await get(url, '/metrics');
  await waitFor(
    'the failed write counted in /metrics',
    async () => (metricValue((first = await get(url, '/metrics')).text, 'gcache_advisor_store_errors_total', { code: 'SQLITE_FULL' }) ?? 0) >= 1,
    10_000,
  );
  const errorsFirst = metricValue(first.text, 'gcache_advisor_store_errors_total', { code: 'SQLITE_FULL' })!;
  const sampledFirst = metricValue(first.text, 'gcache_advisor_last_sample_timestamp_seconds', { cluster: 'sandbox', node: 'node1' })!;
  const windowFirst = (await get(url, '/api/v1/clusters/sandbox/nodes/node1/window')).body;
  // For the whole fault, every probe says not ready: no write in between counts as recovery.
  const readiness: number[] = [];
  for (let i = 0; i < 20; i++) {
    readiness.push((await get(url, '/readyz')).status);
    await sleep(1000);
  }
  assert.deepEqual(
    readiness.filter((s) => s !== 503),
    [],
    `/readyz answers during the fault: ${readiness.join(' ')}`,
  );
  const second = await get(url, '/metrics');
  assert.equal(second.status, 200);
  const errorsSecond = metricValue(second.text, 'gcache_advisor_store_errors_total', { code: 'SQLITE_FULL' }) ?? 0;
  assert.ok(errorsFirst >= 1 && errorsSecond >= errorsFirst + 10, `store errors counted every cycle: ${errorsFirst} → ${errorsSecond}`);
  assert.equal(metricValue(second.text, 'gcache_advisor_store_writable'), 0);
  const sampledSecond = metricValue(second.text, 'gcache_advisor_last_sample_timestamp_seconds', { cluster: 'sandbox', node: 'node1' })!;
  assert.ok(sampledSecond - sampledFirst >= 15, `sampling went on: last sample ${sampledFirst} → ${sampledSecond}`);
  assert.equal(metricValue(second.text, 'galera_node_synced', { cluster: 'sandbox', node: 'node1' }), 1);
  assert.ok((metricValue(second.text, 'galera_write_rate_bytes_per_second', { cluster: 'sandbox', node: 'node1', horizon: 'short' }) ?? 0) > 0, 'rates still computed');
  const windowSecond = await get(url, '/api/v1/clusters/sandbox/nodes/node1/window');
  assert.equal(windowSecond.status, 200);
  assert.ok(
    Date.parse(windowSecond.body.sampledAt) - Date.parse(windowFirst.sampledAt) >= 15_000,
    `the API's figures are current: ${windowFirst.sampledAt} → ${windowSecond.body.sampledAt}`,
  );
  assert.ok(windowSecond.body.writeRateBytesPerSecond.short > 0);
  assert.equal((await get(url, '/api/v1/clusters')).status, 200);
  assert.equal(queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n, storedBefore, 'nothing could be stored meanwhile');

  // Logged once a minute at most, though every cycle failed: the lines of each message are a
  // minute apart or more.
  const cycles = daemon.cyclesSince(filledAt);
  assert.ok(cycles >= 15, `${cycles} cycles ran during the fault`);
  const fullErrors = daemon.records.filter((r) => r.readAt >= filledAt && r.level === 'error' && JSON.stringify(r).includes('SQLITE_FULL'));
  assert.ok(fullErrors.length >= 1, 'the full disk is logged');
  const perMessage = new Map<string, number[]>();
  for (const r of fullErrors) perMessage.set(r.msg, [...(perMessage.get(r.msg) ?? []), Date.parse(r.time)]);
  for (const [msg, times] of perMessage) {
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(
      gaps.every((gap) => gap >= 60_000),
      `"${msg}" logged ${times.length} times in ${cycles} cycles, ${gaps.map((g) => `${g} ms`).join(', ')} apart`,
    );
  }

  // Space returns: writing resumes by itself.
  disk!.unfill();
  await waitFor(
    '/readyz 200 again',
    async () => (ready = await get(url, '/readyz')).status === 200,
    20_000,
    () => ready.body,
  );
  await waitFor('new samples stored', () => queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n >= storedBefore + 3, 20_000);
  // /metrics is rendered once a cycle, so the gauge can read the cycle before the recovery: waited for.
  let writable: number | null = null;
  await waitFor(
    'gcache_advisor_store_writable 1 in /metrics',
    async () => (writable = metricValue((await get(url, '/metrics')).text, 'gcache_advisor_store_writable')) === 1,
    20_000,
    () => writable,
  );

  const exit = await daemon.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, daemon.logText().slice(-3000));
  const check = new Database(db, { readonly: true, fileMustExist: true });
  try {
    assert.deepEqual(check.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    assert.ok((check.prepare(SAMPLES).get() as { n: number }).n >= storedBefore + 3);
  } finally {
    check.close();
  }
  assert.ok(!daemon.otherLines.some((l) => /^\s+at |Uncaught|SqliteError/.test(l)), `no crash trace: ${daemon.otherLines.join('\n')}`);
  console.log(
    `# disk full: filler ${filled} bytes; first failed write ${(failedAfterMs / 1000).toFixed(1)} s after the fill; ${cycles} cycles in the fault; store errors ${errorsSecond}; error lines: ${[...perMessage].map(([m, t]) => `${m} ×${t.length}`).join('; ')}`,
  );
});

test('while the disk is full, an alert that arises is shown from memory at once and notified once space returns', async () => {
  // If the test before failed midway its daemon still runs, writing to the same small disk.
  await daemon?.stop('SIGKILL');
  const db = path.join(disk!.dir, 'alerts.db');
  const hook = await webhookReceiver(26250);
  const configFile = path.join(tmp, 'alerts.yaml');
  fs.writeFileSync(
    configFile,
    withBallast(
      configYaml(
        sandbox,
        `http: { listen: "127.0.0.1:0" }\nsampling: { schedule: "* * * * * *", timeout: 1s }\nrules: { dir: ${SHIPPED_RULES} }\nalerting:\n  sinks:\n    - { name: hook, type: webhook, url: "http://127.0.0.1:26250/hook" }\n`,
        db,
      ),
    ),
  );
  const alerts = DaemonChild.start(configFile, { [PASSWORD_ENV]: ADVISOR_PASSWORD });
  daemon = alerts;
  try {
    const url = await alerts.url();
    await waitFor('ready', async () => (await get(url, '/readyz')).status === 200, 30_000);
    disk!.fill();
    await waitFor(
      'a failed write',
      async () => (metricValue((await get(url, '/metrics')).text, 'gcache_advisor_store_errors_total', { code: 'SQLITE_FULL' }) ?? 0) >= 1,
      FIRST_FAILURE_MS,
    );
    const storedBefore = queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n;

    // Not ready, for the reason: with a sink configured the outbox ticks every cycle, and its
    // writes that change nothing must not count as the store being writable again.
    await sleep(3000);
    assert.equal(queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n, storedBefore, 'no sample could be stored');
    const ready = await get(url, '/readyz');
    assert.equal(ready.status, 503, `/readyz while every cycle fails to store: ${ready.text}`);
    assert.match(JSON.stringify(ready.body.reasons), /storage: SQLITE_FULL/);

    // The node goes away while nothing can be written.
    await sandbox.stopNode(1);
    const firingAt = Date.now();
    let open: any[] = [];
    const alert = await waitFor(
      'GcacheAdvisorNodeNotSampled firing in /api/v1/alerts',
      async () => (open = (await get(url, '/api/v1/alerts')).body.alerts).find((a: any) => a.alertname === 'GcacheAdvisorNodeNotSampled' && a.state === 'firing'),
      20_000,
      () => open,
    );
    assert.equal(alert.labels.node, 'node1');
    assert.ok(Date.parse(alert.activeAt) - firingAt < 10_000, `active since ${alert.activeAt}, the node stopped at ${new Date(firingAt).toISOString()}`);
    const m = await get(url, '/metrics');
    assert.equal(metricValue(m.text, 'gcache_advisor_alerts', { alertname: 'GcacheAdvisorNodeNotSampled', node: 'node1', alertstate: 'firing' }), 1);
    assert.equal(hook.got.filter((r) => r.body?.commonLabels?.alertname === 'GcacheAdvisorNodeNotSampled').length, 0, 'nothing could be queued, so nothing was sent yet');

    // Space returns: the firing notification goes out.
    disk!.unfill();
    const sent = await waitFor(
      'the firing notification',
      () => hook.got.find((r) => r.body?.status === 'firing' && r.body?.commonLabels?.alertname === 'GcacheAdvisorNodeNotSampled'),
      30_000,
      () => hook.got.map((r) => r.body?.commonLabels),
    );
    console.log(`# disk full + alert: notified ${Math.round((sent.at - firingAt) / 1000)} s after the node stopped`);

    // And its resolution, once the node is back.
    await sandbox.startNode(1);
    await waitFor('the resolution', () => hook.got.some((r) => r.body?.status === 'resolved' && r.body?.commonLabels?.alertname === 'GcacheAdvisorNodeNotSampled'), 60_000);
    const exit = await alerts.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    const check = new Database(db, { readonly: true, fileMustExist: true });
    try {
      assert.deepEqual(check.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    } finally {
      check.close();
    }
  } finally {
    await alerts.stop('SIGKILL');
    disk!.unfill();
    if (!sandbox.isRunning(1)) await sandbox.startNode(1);
    await hook.close();
  }
});
