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
