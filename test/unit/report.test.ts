/**
 * `gcache-advisor report` on analyses of a run recorded from a real cluster, with one node taken
 * away mid-run: the IST budget columns (current, likely, safe, pessimistic) and the countdown line
 * under the table for the node that is away.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { awayLine, renderReport } from '../../src/cli/report.ts';
import { replayWithAbsence } from '../support/away-replay.ts';

const LEAVES_AT = 24;
const cycles = replayWithAbsence('node3', LEAVES_AT);
const reportAt = (index: number) => {
  const c = cycles[index]!;
  return renderReport([c.analysis], c.now).split('\n');
};
const columns = (line: string) => line.trim().split(/\s{2,}/);

test('the table puts the forecast IST budgets between the current and the pessimistic one', () => {
  const lines = reportAt(LEAVES_AT - 2);
  const header = columns(lines[2]!);
  assert.deepEqual(header.slice(header.indexOf('IST budget')), ['IST budget', 'likely', 'safe', 'pessimistic', 'donor']);
  const row = columns(lines.find((l) => l.startsWith('node1'))!);
  const at = (name: string) => row[header.indexOf(name)]!;
  for (const name of ['IST budget', 'likely', 'safe', 'pessimistic']) assert.match(at(name), /^\d+ s$/, `${name}: ${at(name)}`);
  assert.ok(parseInt(at('safe')) <= parseInt(at('likely')), 'safe is the lower figure');
  assert.ok(!lines.some((l) => / away for /.test(l)), 'no countdown while every node is in the cluster');
});

test('a node away: its countdown under the table, then "IST lost" once no donor holds what it needs', () => {
  const lines = reportAt(LEAVES_AT + 2);
  const tableEnd = lines.findIndex((l, i) => i > 3 && l === '');
  const countdown = lines.slice(4, tableEnd).filter((l) => !/^node\d {2}/.test(l));
  assert.equal(countdown.length, 1, lines.join('\n'));
  assert.match(countdown[0]!, /^node3 away for 15 s: IST lost in ~\d+ s \(safe \d+ s\), after [\d.]+ MiB more writes, donor node[12]: bring it back now$/);
  const row = columns(lines.find((l) => l.startsWith('node3'))!);
  assert.equal(row[1], 'UNREACHABLE');

  const lost = cycles.find((c) => c.analysis.nodes.find((n) => n.node === 'node3')!.rejoin?.verdict === 'ist-lost');
  assert.ok(lost, 'IST is lost within the recorded run');
  assert.match(
    awayLine(lost.analysis.nodes.find((n) => n.node === 'node3')!)!,
    /^node3 away for \d+ s: IST lost — no eligible donor still holds seqno \d+, or Galera's safety gap refuses IST from it: the node will need an SST$/,
  );
  for (const n of lost.analysis.nodes.filter((x) => x.node !== 'node3')) assert.equal(awayLine(n), null, `${n.node} is Synced`);
});

test('a node away before the write history allows a forecast: its time left at the pessimistic rate', () => {
  const early = replayWithAbsence('node3', 6, 9);
  const nodes = early.slice(6, 9).map((c) => c.analysis.nodes.find((n) => n.node === 'node3')!);
  const lines = nodes.map((n) => awayLine(n));
  assert.ok(
    lines.some((l) => l !== null && /^node3 away for \d+ s: IST lost in ~.+ \(safe .+\), after [\d.]+ MiB more writes, donor node[12]/.test(l)),
    lines.join('\n'),
  );
  for (const n of nodes) {
    if (!n.rejoin?.remainingBytes || n.istBudget.pessimisticBytesPerSecond === null) continue;
    assert.ok(Math.abs(n.rejoin.remainingSeconds.safe! - n.rejoin.remainingBytes / n.istBudget.pessimisticBytesPerSecond) < 1e-6, JSON.stringify(n.rejoin));
  }
});
