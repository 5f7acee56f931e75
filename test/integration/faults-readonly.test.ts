/**
 * The filesystem under the database turns read-only while the daemon runs, the way it happens
 * in production: ext4 (mounted errors=remount-ro) meets an error and the kernel makes it
 * read-only under the open files. The database is on an ext4 image on a loop device, made by the
 * test; `trigger_fs_error` in sysfs is ext4's own way of reporting such an error.
 *
 * (A plain `mount -o remount,ro` cannot reproduce this: the kernel refuses it with EBUSY while
 * any file on the filesystem is open for writing, and SQLite keeps its database open read-write.)
 *
 * The daemon (`serve`, a child, sampling a real one-node sandbox under a steady load) must behave
 * as with a full disk: keep sampling and serving the API and /metrics from memory, answer 503 on
 * /readyz naming the SQLite error, count it in gcache_advisor_store_errors_total, log it once a
 * minute at most. If the kernel lets the filesystem be remounted read-write, writing resumes by
 * itself. Recent kernels (6.x, "emergency_ro") refuse that until the filesystem is unmounted and
 * checked, which needs the daemon stopped: then it must stop cleanly, a new `serve` on the still
 * read-only filesystem must refuse with one line and exit 2, and once the filesystem is repaired
 * a new daemon carries on the same database, which passes `PRAGMA integrity_check` with
 * everything committed before the fault.
 *
 * Needs root, loop devices, e2fsprogs. Ports 26310-26313.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sleep, type GaleraSandbox } from '../../tools/sandbox/galera-sandbox.ts';
import { startCluster, configYaml, queryDatabase, runCli, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';
import { SHIPPED_RULES, SteadyWriter, get, metricValue, waitFor } from './faults/common.ts';
import { Ext4Image } from './faults/filesystems.ts';
import { DaemonChild } from './faults/daemon-child.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-faults-ro-'));
let sandbox: GaleraSandbox;
let writer: SteadyWriter | undefined;
let disk: Ext4Image | undefined;
const daemons: DaemonChild[] = [];

before(async () => {
  sandbox = await startCluster({ nodes: 1, basePort: 26300 });
  await SteadyWriter.prepare(sandbox);
  writer = new SteadyWriter(sandbox, 1, 20);
  disk = Ext4Image.create(path.join(tmp, 'disk.img'), path.join(tmp, 'disk'), 64 * 1024 * 1024);
});

after(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  await writer?.stop();
  disk?.unmount();
  await sandbox?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const SAMPLES = 'SELECT COUNT(*) AS n FROM samples';
const env = { [PASSWORD_ENV]: ADVISOR_PASSWORD };

function storeErrorCodes(metrics: string): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const m of metrics.matchAll(/^gcache_advisor_store_errors_total\{code="([^"]+)"\} (\S+)$/gm)) codes[m[1]!] = Number(m[2]);
  return codes;
}

test('a filesystem that turns read-only under the daemon: it carries on from memory, says why, and resumes once the filesystem is writable again', async () => {
  const db = path.join(disk!.dir, 'advisor.db');
  const configFile = path.join(tmp, 'config.yaml');
  fs.writeFileSync(
    configFile,
    configYaml(sandbox, `sampling: { schedule: "* * * * * *", timeout: 2s }\nhorizons: { short: 1m, long: 1h }\nrules: { dir: ${SHIPPED_RULES} }\nlog: { level: debug }\n`, db),
  );
  const first = DaemonChild.start(configFile, env);
  daemons.push(first);
  const url = await first.url();
  await waitFor('ready, with samples stored', async () => (await get(url, '/readyz')).status === 200 && queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n >= 3, 30_000);

  const storedBefore = queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n;
  const faultAt = Date.now();
  disk!.triggerError();
  assert.throws(() => fs.writeFileSync(path.join(disk!.dir, 'probe'), 'x'), /EROFS/, 'the filesystem is read-only now');

  let ready = await get(url, '/readyz');
  await waitFor(
    '/readyz 503 naming the storage error',
    async () => (ready = await get(url, '/readyz')).status === 503 && JSON.stringify(ready.body.reasons).includes('storage:'),
    20_000,
    () => ready.body,
  );
  const reason = (ready.body.reasons as string[]).find((r) => r.startsWith('storage:'))!;
  assert.match(reason, /^storage: SQLITE_(READONLY|IOERR)\w*/, reason);
  const code = /SQLITE_\w+/.exec(reason)![0];

  // Carrying on from memory, and not ready for the whole fault.
  const m1 = await get(url, '/metrics');
  const window1 = (await get(url, '/api/v1/clusters/sandbox/nodes/node1/window')).body;
  const readiness: number[] = [];
  for (let i = 0; i < 15; i++) {
    readiness.push((await get(url, '/readyz')).status);
    await sleep(1000);
  }
  assert.deepEqual(
    readiness.filter((s) => s !== 503),
    [],
    `/readyz answers during the fault: ${readiness.join(' ')}`,
  );
  const m2 = await get(url, '/metrics');
  assert.equal(m2.status, 200);
  const errors1 = storeErrorCodes(m1.text);
  const errors2 = storeErrorCodes(m2.text);
  assert.ok((errors2[code] ?? 0) >= (errors1[code] ?? 0) + 10, `store errors by code: ${JSON.stringify(errors1)} → ${JSON.stringify(errors2)}`);
  assert.equal(metricValue(m2.text, 'gcache_advisor_store_writable'), 0);
  const sampled1 = metricValue(m1.text, 'gcache_advisor_last_sample_timestamp_seconds', { cluster: 'sandbox', node: 'node1' })!;
  const sampled2 = metricValue(m2.text, 'gcache_advisor_last_sample_timestamp_seconds', { cluster: 'sandbox', node: 'node1' })!;
  assert.ok(sampled2 - sampled1 >= 10, `sampling went on: ${sampled1} → ${sampled2}`);
  const window2 = await get(url, '/api/v1/clusters/sandbox/nodes/node1/window');
  assert.equal(window2.status, 200);
  assert.ok(Date.parse(window2.body.sampledAt) - Date.parse(window1.sampledAt) >= 10_000, `the API's figures are current: ${window1.sampledAt} → ${window2.body.sampledAt}`);
  assert.ok(window2.body.writeRateBytesPerSecond.short > 0);
  const cycles = first.cyclesSince(faultAt);
  const storeErrorLines = first.records.filter((r) => r.readAt >= faultAt && r.level === 'error');
  const perMessage = new Map<string, number>();
  for (const r of storeErrorLines) perMessage.set(r.msg, (perMessage.get(r.msg) ?? 0) + 1);
  assert.ok(storeErrorLines.length >= 1, 'the error is logged');
  for (const [msg, n] of perMessage) assert.equal(n, 1, `"${msg}" logged ${n} times in ${cycles} cycles`);

  const refused = disk!.tryRemountReadWrite();
  let refusal = '';
  if (refused === null) {
    // The kernel lets it be writable again: the same daemon resumes by itself.
    await waitFor(
      '/readyz 200 again',
      async () => (ready = await get(url, '/readyz')).status === 200,
      20_000,
      () => ready.body,
    );
    await waitFor('new samples stored', () => queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n >= storedBefore + 3, 20_000);
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
  } else {
    // emergency_ro: writable only after an unmount and a check. The daemon must stop cleanly…
    const stopped = Date.now();
    const exit = await first.stop('SIGTERM', 20_000);
    assert.ok(Date.now() - stopped < 15_000, `stopped in ${Date.now() - stopped} ms`);
    assert.deepEqual(exit, { code: 0, signal: null }, `a clean stop on a read-only store; last lines:\n${first.logText().slice(-2000)}`);
    // …a new one on the still read-only filesystem must refuse, with one line and exit 2…
    const again = await runCli(['serve', '-c', configFile], env, 30_000);
    assert.equal(again.code, 2, again.stderr);
    const lines = again.stderr
      .trim()
      .split('\n')
      .filter((l) => !/FastifyWarning|--trace-warnings/.test(l));
    assert.equal(lines.length, 1, again.stderr);
    assert.ok(lines[0]!.includes(db), lines[0]);
    assert.match(lines[0]!, /read-only|EROFS/i);
    refusal = lines[0]!;
    // …and after the repair, a new daemon carries on with the same database.
    disk!.repairAndRemount();
    const second = DaemonChild.start(configFile, env);
    daemons.push(second);
    const url2 = await second.url();
    await waitFor(
      '/readyz 200 after the repair',
      async () => (ready = await get(url2, '/readyz')).status === 200,
      30_000,
      () => ready.body,
    );
    await waitFor('new samples stored', () => queryDatabase<{ n: number }>(db, SAMPLES)[0]!.n >= storedBefore + 3, 20_000);
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
  }

  const check = new Database(db, { readonly: true, fileMustExist: true });
  try {
    assert.deepEqual(check.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    assert.ok((check.prepare(SAMPLES).get() as { n: number }).n >= storedBefore + 3, 'everything committed before the fault is still there, and more since');
  } finally {
    check.close();
  }
  console.log(
    `# read-only: ${code}; ${cycles} cycles in the fault; remount rw ${refused === null ? 'accepted: resumed in place' : `refused (${refused.split('\n')[0]}): resumed after repair and restart; a start meanwhile said: ${refusal}`}; error lines: ${[...perMessage].map(([m, n]) => `${m} ×${n}`).join('; ')}`,
  );
});
