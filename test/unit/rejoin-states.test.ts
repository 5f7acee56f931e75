/**
 * Who is away, on the run recorded from a real cluster: a node that leaves the group gets a
 * countdown and, once back, a rejoin record; a donor, a node only the advisor cannot reach, and
 * a cycle in which the advisor reaches nobody do not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replayCycles, replayWithAbsence } from '../support/away-replay.ts';

const node3 = (c: { analysis: { nodes: Array<{ node: string }> } }) =>
  c.analysis.nodes.find((n) => n.node === 'node3') as never as import('../../src/analysis/cluster-analysis.ts').NodeAnalysis;

test('a node that leaves the group counts down, and once back its return is recorded once', () => {
  const cycles = replayWithAbsence('node3', 20, 30);
  assert.ok(cycles.slice(20, 30).every((c) => node3(c).rejoin !== null));
  assert.ok(cycles.slice(0, 20).every((c) => node3(c).rejoin === null));
  const rejoins = cycles.flatMap((c) => c.events.filter((e) => e.kind === 'rejoin'));
  assert.equal(rejoins.length, 1);
  assert.equal(rejoins[0]!.node, 'node3');
});

test('a donor (Donor/Desynced) stays in the group: no countdown, no rejoin record', () => {
  const cycles = replayCycles((name, i, status) => (name === 'node3' && i >= 15 && i < 40 ? { ...status, localState: 'Donor/Desynced' } : status));
  assert.ok(cycles.every((c) => node3(c).rejoin === null));
  assert.equal(cycles.flatMap((c) => c.events.filter((e) => e.kind === 'rejoin')).length, 0);
});

test('a node only the advisor cannot reach (the others still count it) is not away', () => {
  const cycles = replayCycles((name, i, status) => (name === 'node3' && i >= 20 && i < 30 ? 'down' : status));
  assert.ok(cycles.every((c) => node3(c).rejoin === null));
  assert.equal(cycles.flatMap((c) => c.events.filter((e) => e.kind === 'rejoin')).length, 0);
});

test('a cycle in which the advisor reaches no node says nothing is lost', () => {
  const cycles = replayCycles((name, i, status) => (i === 30 ? 'down' : name === 'node3' && i >= 20 ? { ...status, localState: 'Joining' } : status));
  const outage = node3(cycles[30]!);
  assert.ok(outage.rejoin === null || outage.rejoin.verdict !== 'ist-lost', JSON.stringify(outage.rejoin));
  for (const n of cycles[30]!.analysis.nodes) assert.notEqual(n.rejoin?.verdict, 'ist-lost', n.node);
  // Nor is the outage taken for a return.
  assert.equal(cycles.flatMap((c) => c.events.filter((e) => e.kind === 'rejoin')).length, 0);
});

test('one missed sample of a node that then answers Synced again records no rejoin', () => {
  const cycles = replayWithAbsence('node3', 20, 21);
  assert.equal(cycles.flatMap((c) => c.events.filter((e) => e.kind === 'rejoin')).length, 0);
});
