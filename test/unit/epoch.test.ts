import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parseStatusRows } from '../../src/sampler/status.ts';
import { epochBreakReason, sampleDelta, type EpochPoint } from '../../src/sampler/epoch.ts';

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/real-cluster.json', import.meta.url), 'utf8'));
const point = (snap: { takenAt: number; rows: never[] }): EpochPoint => ({ takenAt: snap.takenAt, status: parseStatusRows(snap.rows) });

test('consecutive samples of a running node share an epoch and give a positive delta', () => {
  const a = point(fixture.node2.before);
  const b = point(fixture.node2.afterWrites);
  assert.equal(epochBreakReason(a, b), null);
  const d = sampleDelta(a, b);
  assert.ok(d.bytes > 64 * 1024, `64 KiB of rows were written, delta ${d.bytes}`);
  assert.ok(d.writeSets >= 32);
  assert.ok(d.seconds > 0);
});

test('a real restart breaks the epoch', () => {
  const a = point(fixture.node2.afterWrites);
  const b = point(fixture.node2.afterRestart);
  const reason = epochBreakReason(a, b);
  assert.ok(reason, 'restart must be detected');
  assert.match(reason!, /Uptime|restarted|backwards/);
});

test('each restart signal on its own breaks the epoch', () => {
  const a = point(fixture.node2.afterWrites);
  const later = (patch: Partial<EpochPoint['status']>, dt = 10_000): EpochPoint => ({
    takenAt: a.takenAt + dt,
    status: { ...a.status, uptimeSeconds: a.status.uptimeSeconds + dt / 1000, ...patch },
  });
  assert.equal(epochBreakReason(a, later({})), null);
  assert.match(epochBreakReason(a, later({ receivedBytes: a.status.receivedBytes - 1 }))!, /receivedBytes went backwards/);
  assert.match(epochBreakReason(a, later({ uptimeSeconds: 1 }))!, /Uptime dropped/);
  assert.match(epochBreakReason(a, later({ localStateUuid: '00000000-0000-0000-0000-000000000001' }))!, /local_state_uuid/);
  assert.match(epochBreakReason(a, later({ clusterStateUuid: '00000000-0000-0000-0000-000000000002' }))!, /cluster_state_uuid/);
  // Down for an hour, then up for 30 min: Uptime is higher than before, but the start moved.
  const restartedLongAgo = { takenAt: a.takenAt + 5400_000, status: { ...a.status, uptimeSeconds: a.status.uptimeSeconds + 1800 } };
  assert.match(epochBreakReason(a, restartedLongAgo)!, /restarted/);
});

/** The fixture's node with some counters set to exact 64-bit values, as the server would report them. */
function withCounters(snap: { takenAt: number; rows: Array<{ Variable_name: string; Value: string }> }, values: Record<string, bigint>, dt = 0): EpochPoint {
  const rows = snap.rows.map((r) => (r.Variable_name in values ? { ...r, Value: values[r.Variable_name]!.toString() } : r));
  return { takenAt: snap.takenAt + dt, status: parseStatusRows(rows) };
}

test('deltas across 2^53 and up to 2^64-1 are exact', () => {
  const snap = fixture.node2.afterWrites;
  const cases: Array<[bigint, bigint]> = [
    [2n ** 53n - 5n, 2n ** 53n + 3n], // crossing 2^53: as doubles, 2^53+3 reads as 2^53+4
    [2n ** 60n + 1n, 2n ** 60n + 100n],
    [2n ** 64n - 1000n, 2n ** 64n - 1n], // both round to 2^64 as doubles: a delta of 0
  ];
  for (const [before, after] of cases) {
    const a = withCounters(snap, { wsrep_received_bytes: before, wsrep_replicated_bytes: before, wsrep_last_committed: before });
    const b = withCounters(snap, { wsrep_received_bytes: after, wsrep_replicated_bytes: after, wsrep_last_committed: after }, 10_000);
    b.status.uptimeSeconds = a.status.uptimeSeconds + 10;
    assert.equal(epochBreakReason(a, b), null);
    const d = sampleDelta(a, b);
    assert.equal(d.bytes, Number(2n * (after - before)), `bytes from ${before} to ${after}`);
    assert.equal(d.writeSets, Number(after - before), `write-sets from ${before} to ${after}`);
  }
});

test('a counter going back by less than a double can show is still a new epoch', () => {
  const snap = fixture.node2.afterWrites;
  const a = withCounters(snap, { wsrep_received_bytes: 2n ** 60n + 1n });
  const b = withCounters(snap, { wsrep_received_bytes: 2n ** 60n }, 10_000);
  b.status.uptimeSeconds = a.status.uptimeSeconds + 10;
  assert.equal(a.status.receivedBytes, b.status.receivedBytes, 'equal as doubles');
  assert.equal(epochBreakReason(a, b), 'receivedBytes went backwards from 1152921504606846977 to 1152921504606846976');
});

test('samples reloaded from SQLite (numbers only) still give their deltas, also next to a fresh one', () => {
  const a = point(fixture.node2.before);
  const b = point(fixture.node2.afterWrites);
  const { exact: _a, ...reloaded } = a.status;
  const expected = sampleDelta(a, b);
  assert.deepEqual(sampleDelta({ takenAt: a.takenAt, status: reloaded }, b), expected);
  assert.equal(epochBreakReason({ takenAt: a.takenAt, status: reloaded }, b), null);
});
