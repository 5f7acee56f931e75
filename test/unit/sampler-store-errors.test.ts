/**
 * A store that cannot be written (here: a real SQLite file whose write lock another connection
 * holds) must not fail the cycle: the samples still reach the analysis, the errors are counted,
 * and the log gets one line a minute, not one per node and cycle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parseConfig } from '../../src/config/load.ts';
import { Store } from '../../src/store/store.ts';
import { Sampler, type ReaderFactory } from '../../src/sampler/sampler.ts';
import { parseStatusRows } from '../../src/sampler/status.ts';
import { parseGcacheSettings } from '../../src/sampler/provider-options.ts';
import { createLogger } from '../../src/log/logger.ts';

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/real-cluster.json', import.meta.url), 'utf8'));
/** Two consecutive snapshots recorded from a real node, then the same counters moving on. */
const snapshots = [fixture.node2.before, fixture.node2.afterWrites] as Array<{ takenAt: number; rows: Array<{ Variable_name: string; Value: string }> }>;

/**
 * Every node answers with the recorded statuses, one snapshot per cycle; after the last one the
 * counters stand still while Uptime follows the clock (an idle node, not a restarted one).
 */
const recordedReaders = (cycle: () => number, now: () => number): ReaderFactory => () => ({
  readStatus: async () => {
    const snapshot = snapshots[Math.min(cycle(), snapshots.length - 1)]!;
    const status = parseStatusRows(snapshot.rows);
    return { ...status, uptimeSeconds: status.uptimeSeconds + Math.round((now() - snapshot.takenAt) / 1000) };
  },
  readSettings: async () => ({ gcache: parseGcacheSettings(fixture.providerOptions), sstDonor: '' }),
  close: async () => undefined,
});

test('a locked database: every node still yields an ok outcome, store errors are counted and logged once a minute', async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-locked-')), 'ga.db');
  const config = parseConfig(
    `clusters: [{ name: c, connection: { user: u, passwordEnv: PW }, nodes: [{ name: a, host: h1 }, { name: b, host: h2 }, { name: d, host: h3 }] }]`,
    'test.yaml',
    { PW: 'pw-for-test' },
  );
  const store = new Store(file);
  store.db.pragma('busy_timeout = 50');
  t.after(() => store.close());
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line)) });
  let cycle = 0;
  let clock = snapshots[0]!.takenAt;
  const sampler = new Sampler(config, store, log, { now: () => clock, readerFactory: recordedReaders(() => cycle, () => clock) });

  const other = new Database(file);
  t.after(() => other.close());
  other.exec('BEGIN IMMEDIATE'); // holds the write lock, as a backup or a manual session could

  const first = await sampler.runCycle();
  assert.ok(first, 'the cycle completed');
  assert.equal(first.outcomes.length, 3);
  assert.ok(first.outcomes.every((o) => o.ok), 'every node sampled');
  // Per node: the first-epoch settings and the sample could not be written.
  assert.equal(sampler.storeErrors, 6);

  cycle = 1;
  clock = snapshots[1]!.takenAt;
  const second = (await sampler.runCycle())!;
  assert.ok(second.outcomes.every((o) => o.ok));
  const b = second.outcomes.find((o) => o.node === 'b')!;
  assert.ok(b.ok && b.sample.status.lastCommitted > 0 && b.newEpochReason === null, 'the in-memory previous sample continued the epoch');
  assert.ok(sampler.storeErrors > 6, 'the second cycle failed to write as well');

  const storeLines = lines.filter((l) => /could not write a sample to the store/.test(String(l.msg)));
  assert.equal(storeLines.length, 1, 'one log line for the minute, not one per write');
  assert.equal(storeLines[0]!.level, 'error');
  assert.match(String(storeLines[0]!.error), /locked|busy/i);

  // A minute later, still locked: one more line, saying how many were left out.
  clock += 61_000;
  await sampler.runCycle();
  const after = lines.filter((l) => /could not write a sample to the store/.test(String(l.msg)));
  assert.equal(lines.filter((l) => l.msg === 'new counter epoch').length, 0, 'the recorded node never looked restarted');
  assert.equal(after.length, 2);
  assert.ok(Number(after[1]!.suppressedSinceLast) > 0);

  // The lock goes away: the next cycle is stored, and the settings that could not be stored are stored now.
  other.exec('COMMIT');
  const errorsBefore = sampler.storeErrors;
  clock += 10_000;
  await sampler.runCycle();
  assert.equal(sampler.storeErrors, errorsBefore);
  for (const node of ['a', 'b', 'd']) {
    assert.equal(store.sampleCount('c', node), 1);
    assert.ok(store.latestSettings('c', node), `settings of ${node} stored once the lock was gone`);
  }
  await sampler.stop();
});
