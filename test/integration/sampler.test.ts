/**
 * The sampler against a real 3-node Galera sandbox: samples land in SQLite, a real restart
 * starts a new epoch with no bad rate, a dead or hung node is reported while the others are
 * still sampled on time, and the USAGE-only account is enough.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GaleraSandbox, sleep } from '../../tools/sandbox/galera-sandbox.ts';
import { prepareSysbench, SysbenchRun } from '../../tools/sandbox/workload.ts';
import { Store } from '../../src/store/store.ts';
import type { CycleResult } from '../../src/sampler/sampler.ts';
import { Sampler } from '../../src/sampler/sampler.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { Config } from '../../src/config/load.ts';
import { startCluster, makeConfig, writeConfigFile, runCli, ADVISOR_USER, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';

let sandbox: GaleraSandbox;
let config: Config;
let store: Store;
let sampler: Sampler;
const logLines: string[] = [];

before(async () => {
  sandbox = await startCluster({ nodes: 3, basePort: 24100, gcacheSize: '8M' });
  await prepareSysbench(sandbox, { tables: 2, tableSize: 1000 });
  // Every second: the cycles here are run by hand, and a failing node's backoff starts at one interval.
  config = makeConfig(sandbox, 'sampling: { schedule: "* * * * * *", timeout: 2s }');
  store = new Store(config.storage.path);
  sampler = new Sampler(config, store, createLogger({ level: 'debug', write: (l) => logLines.push(l) }));
});

/** One cycle, stored as the daemon's cycle pipeline stores it. */
async function runCycle(): Promise<CycleResult | null> {
  const result = await sampler.runCycle();
  if (result) store.recordCycle(result.outcomes);
  return result;
}

after(async () => {
  await sampler?.stop();
  store?.close();
  await sandbox?.destroy();
});

test('the documented account has nothing beyond USAGE, and sample --once reads every node with it', async () => {
  const grants = await sandbox.query<Record<string, string>>(1, `SHOW GRANTS FOR '${ADVISOR_USER}'@'127.0.0.1'`);
  assert.equal(grants.length, 1);
  assert.match(Object.values(grants[0]!)[0]!, /^GRANT USAGE ON \*\.\* TO/);

  const result = await runCli(['sample', '-c', writeConfigFile(sandbox), '--once'], { [PASSWORD_ENV]: ADVISOR_PASSWORD });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => [l.node, l.ok]),
    [
      ['node1', true],
      ['node2', true],
      ['node3', true],
    ],
  );
  for (const l of lines) {
    assert.equal(l.status.localState, 'Synced');
    assert.equal(l.gcache.sizeBytes, 8 * 2 ** 20);
    assert.equal(l.gcache.recover, true);
  }
  assert.doesNotMatch(result.stdout + result.stderr, new RegExp(ADVISOR_PASSWORD));
});

test('under a multi-writer load, samples of all nodes land in SQLite with positive rates', async () => {
  const load = [1, 2, 3].map((n) => new SysbenchRun(sandbox, n, { rate: 15, threads: 1, tables: 2, tableSize: 1000 }));
  try {
    for (let i = 0; i < 6; i++) {
      const result = await runCycle();
      assert.ok(result);
      assert.ok(
        result.outcomes.every((o) => o.ok),
        JSON.stringify(result.outcomes),
      );
      await sleep(1000);
    }
  } finally {
    await Promise.all(load.map((l) => l.stop()));
  }
  for (const node of ['node1', 'node2', 'node3']) {
    const samples = store.samples('sandbox', node, 0, Date.now());
    assert.equal(samples.length, 6, node);
    assert.ok(
      samples.every((s) => s.epoch === 1),
      `${node} stays in one epoch`,
    );
    const rollups = store.rollups('sandbox', node, 0, Date.now());
    const bytes = rollups.reduce((a, r) => a + r.bytes, 0);
    const writeSets = rollups.reduce((a, r) => a + r.writeSets, 0);
    assert.ok(bytes > 10_000, `${node} gcache fill ${bytes} bytes`);
    assert.ok(writeSets > 20, `${node} ${writeSets} write-sets`);
    const settings = store.latestSettings('sandbox', node);
    assert.equal(settings?.sizeBytes, 8 * 2 ** 20);
  }
  // Every node caches every write-set: the fill is the same cluster-wide, within a cycle's worth.
  const fill = ['node1', 'node2', 'node3'].map((n) => store.samples('sandbox', n, 0, Date.now()).at(-1)!.status.lastCommitted);
  assert.ok(Math.max(...fill) - Math.min(...fill) < 50, `last_committed ${fill}`);
});

test('a real restart starts a new epoch and no rate is derived across it', async () => {
  const load = new SysbenchRun(sandbox, 1, { rate: 20, threads: 1, tables: 2, tableSize: 1000 });
  try {
    await runCycle();
    const epochBefore = store.latestSample('sandbox', 'node3')!.epoch;
    await sandbox.stopNode(3);
    await runCycle();
    await sandbox.startNode(3);
    await runCycle();
    await sleep(1000);
    await runCycle();
    const node3 = store.samples('sandbox', 'node3', 0, Date.now());
    assert.equal(node3.at(-1)!.epoch, epochBefore + 1, 'restart opens a new epoch');
    const events = store.events('sandbox', 'node3', 0, Date.now()).filter((e) => e.kind === 'epoch_start');
    assert.equal(events.length, 1);
    assert.match(String(events[0]!.detail.reason), /Uptime|restarted|backwards|uuid/);
    // Settings are read again for the new epoch.
    assert.equal(store.latestSettings('sandbox', 'node3')?.epoch, epochBefore + 1);
  } finally {
    await load.stop();
  }
  // No rate anywhere is negative or absurd: every per-minute rollup is a sum of in-epoch deltas.
  for (const node of ['node1', 'node2', 'node3']) {
    for (const r of store.rollups('sandbox', node, 0, Date.now())) {
      assert.ok(r.bytes >= 0 && r.writeSets >= 0 && r.seconds > 0, `${node} rollup ${JSON.stringify(r)}`);
      assert.ok(r.bytes / r.seconds < 50 * 2 ** 20, `${node} rate ${r.bytes / r.seconds} B/s is not plausible`);
    }
  }
});

test('a stopped node is reported unreachable while the others are still sampled', async () => {
  await sandbox.stopNode(2);
  try {
    const result = await runCycle();
    assert.ok(result);
    const byNode = Object.fromEntries(result.outcomes.map((o) => [o.node, o]));
    assert.equal(byNode.node1!.ok, true);
    assert.equal(byNode.node3!.ok, true);
    assert.equal(byNode.node2!.ok, false);
    assert.equal(byNode.node2!.ok === false && byNode.node2!.failure.reason, 'unreachable');
    const failures = store.failures('sandbox', 'node2', 0, Date.now());
    assert.equal(failures.at(-1)?.reason, 'unreachable');
    assert.match(failures.at(-1)!.message, /ECONNREFUSED|connect/);
  } finally {
    await sandbox.startNode(2);
  }
});

test('a hung node costs one timeout and never delays the others', async () => {
  const pid = sandbox.node(3).pid!;
  await runCycle(); // make sure node3's connection is open before it hangs
  process.kill(pid, 'SIGSTOP');
  try {
    const started = Date.now();
    const result = await runCycle();
    const elapsed = Date.now() - started;
    assert.ok(result);
    const byNode = Object.fromEntries(result.outcomes.map((o) => [o.node, o]));
    assert.equal(byNode.node3!.ok === false && byNode.node3!.failure.reason, 'timeout');
    assert.equal(byNode.node1!.ok, true);
    assert.equal(byNode.node2!.ok, true);
    assert.ok(elapsed < 2000 + 1500, `cycle took ${elapsed} ms with a 2 s timeout`);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await sleep(500);
  const result = await runCycle();
  assert.ok(
    result?.outcomes.every((o) => o.ok),
    'node3 is sampled again once it answers',
  );
});

test('cycles never overlap: a tick during a running cycle is skipped', async () => {
  const pid = sandbox.node(1).pid!;
  process.kill(pid, 'SIGSTOP');
  try {
    const first = runCycle();
    const second = await runCycle();
    assert.equal(second, null);
    assert.ok(sampler.skippedCycles >= 1);
    assert.ok(await first);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  assert.ok(logLines.some((l) => /cycle skipped/.test(l)));
  assert.ok(!logLines.some((l) => l.includes(ADVISOR_PASSWORD)), 'no password in logs');
});
