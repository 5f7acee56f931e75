/**
 * The maintenance check over synthetic write histories: a steady load whose writes over the
 * duration fit (safe) or not (risky), a load with hourly bursts that fits only from some start
 * points, too short a history, a node that is not Synced or has no donor, and the gcache.size
 * that would hold the p99, worked out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatShare, gcacheSizeFor, maintenanceCheck, ringCapacityOf, type MaintenanceInput } from '../../src/analysis/maintenance.ts';
import { byteSeriesOf, type ByteSeries } from '../../src/analysis/write-history.ts';
import type { NodeAnalysis } from '../../src/analysis/cluster-analysis.ts';
import type { IstBudget } from '../../src/analysis/ist.ts';

const MIB = 1024 * 1024;
const T0 = Date.UTC(2026, 3, 1);
const STEP_MS = 10_000;

/** Cumulative bytes every 10 s for `hours`, at `rate(t)` bytes per second. */
function series(hours: number, rate: (t: number) => number): { writes: ByteSeries; now: number } {
  const points: Array<[number, number]> = [[T0, 0]];
  for (let t = T0 + STEP_MS; t <= T0 + hours * 3600_000; t += STEP_MS) points.push([t, points.at(-1)![1] + rate(t) * (STEP_MS / 1000)]);
  return { writes: byteSeriesOf(points), now: points.at(-1)![0] };
}

const steady = (bytesPerSecond: number, hours = 3) => series(hours, () => bytesPerSecond);

function budget(bytes: number | null, donor: string | null, reason = 'until node2 evicts seqno 1001'): IstBudget {
  return { seconds: bytes === null ? null : bytes / MIB, bytes, donor, needsSeqno: 1001, safetyGapSeqnos: 0, reason };
}

/** A Synced node with a full ring (3072 MiB holding 3000 MiB of counted bytes), an IST budget of 3000 MiB, donor node2. */
function node(over: Partial<NodeAnalysis> & { budget?: IstBudget | null } = {}): NodeAnalysis {
  const { budget: current = budget(3000 * MIB, 'node2'), ...rest } = over;
  const noEstimate = { classicSeconds: null, overheadCorrectedSeconds: null, calibratedSeconds: null, bestSeconds: null };
  return {
    cluster: 'c1',
    node: 'node1',
    computedAt: T0,
    reachable: true,
    localState: 'Synced',
    clusterStatus: 'Primary',
    gcacheSizeBytes: 3072 * MIB,
    gcacheRecover: true,
    rates: { short: null, long: null, distribution: null },
    averageWriteSetBytes: 1000,
    overheadFactor: 1.024,
    measured: {
      ring: 'full',
      oldestSeqno: 1,
      oldestCommittedAt: T0,
      ageSeconds: 1000,
      lowerBound: false,
      measuredSeconds: 1000,
      contentBytes: 3000 * MIB,
      summary: 'full',
    },
    estimated: { short: noEstimate, long: noEstimate },
    istBudget: { current, pessimistic: current, pessimisticBytesPerSecond: null, likely: current, safe: current, forecast: null },
    rejoin: null,
    lastRejoin: null,
    historyDrop: null,
    effectiveWindowSeconds: 1000,
    ...rest,
  };
}

function check(over: Partial<MaintenanceInput> & { durationSeconds: number }) {
  const s = steady(MIB);
  return maintenanceCheck({ node: node(), writes: s.writes, now: s.now, gcacheSizeBytes: 3072 * MIB, ...over });
}

test('a steady load whose writes over the duration fit in the budget: safe, with the donor and the figures', () => {
  const { writes, now } = steady(MIB);
  const r = maintenanceCheck({ node: node(), writes, now, durationSeconds: 45 * 60, gcacheSizeBytes: 3072 * MIB });
  assert.equal(r.verdict, 'safe');
  assert.equal(r.donor, 'node2');
  assert.equal(r.budgetBytes, 3000 * MIB);
  assert.equal(r.fitShare, 1);
  assert.ok(r.comparedStartPoints >= 40, `${r.comparedStartPoints} start points`);
  assert.equal(r.p50Bytes, 2700 * MIB);
  assert.equal(r.p99Bytes, 2700 * MIB);
  assert.equal(r.durationSeconds, 2700);
  assert.match(r.reason, /^45 min of writes fitted in the 2\.93 GiB IST budget from 100% of \d+ comparable past start points \(p99 2\.64 GiB\); donor node2$/);
});

test('the same load over a longer duration no longer fits: risky, and the gcache.size that would hold the p99', () => {
  // 1 MiB/s for 1 h is 3600 MiB, against a 3000 MiB budget: none of the start points fits.
  const r = check({ durationSeconds: 3600 });
  assert.equal(r.verdict, 'risky');
  assert.equal(r.fitShare, 0);
  assert.equal(r.p99Bytes, 3600 * MIB);
  // Capacity 3000 MiB (the full ring's content), all of it budget: 3600 MiB of capacity, at
  // 3072/3000 ring bytes each, is 3686.4 MiB, rounded up to 3687 MiB.
  assert.equal(r.gcacheSizeForP99Bytes, 3687 * MIB);
  assert.match(
    r.reason,
    /^60 min of writes fitted in the 2\.93 GiB IST budget from only 0% of \d+ comparable past start points \(p99 3\.52 GiB\); gcache\.size 3\.60 GiB would hold the p99$/,
  );
});

test('hourly bursts: the writes fit from some start points only, so the check says risky with the share', () => {
  // 1 MiB/s, with 10 minutes at 6 MiB/s every hour: 30 minutes write 1800 MiB, or up to 4800 MiB
  // with a whole burst in them.
  const { writes, now } = series(8, (t) => (((t - T0) / 60_000) % 60 < 10 ? 6 * MIB : MIB));
  const r = maintenanceCheck({ node: node({ budget: budget(2000 * MIB, 'node2') }), writes, now, durationSeconds: 1800, gcacheSizeBytes: 3072 * MIB });
  assert.equal(r.verdict, 'risky');
  assert.ok(r.fitShare! > 0 && r.fitShare! < 0.99, `fitShare ${r.fitShare}`);
  assert.ok(r.p99Bytes! > 2000 * MIB && r.p99Bytes! <= 4800 * MIB, `p99 ${r.p99Bytes! / MIB} MiB`);
  assert.ok(r.p50Bytes! >= 1800 * MIB && r.p50Bytes! <= r.p99Bytes!);
  assert.match(r.reason, /from only \d+(\.\d)?% of \d+ comparable past start points/);
  assert.ok(r.gcacheSizeForP99Bytes! > 3072 * MIB && r.gcacheSizeForP99Bytes! % MIB === 0);
  // A budget above the worst half hour makes it safe.
  const roomy = maintenanceCheck({ node: node({ budget: budget(4800 * MIB, 'node2') }), writes, now, durationSeconds: 1800, gcacheSizeBytes: 3072 * MIB });
  assert.equal(roomy.verdict, 'safe');
});

test('no writes at all: nothing is evicted, so any duration fits', () => {
  const r = check({ writes: steady(0).writes, durationSeconds: 7200 });
  assert.equal(r.verdict, 'safe');
  assert.equal(r.p99Bytes, 0);
});

test('a history shorter than the duration cannot show it is safe: risky, saying so', () => {
  const { writes, now } = steady(MIB, 0.5);
  const r = maintenanceCheck({ node: node(), writes, now, durationSeconds: 45 * 60, gcacheSizeBytes: 3072 * MIB });
  assert.equal(r.verdict, 'risky');
  assert.equal(r.fitShare, null);
  assert.equal(r.comparedStartPoints, 0);
  assert.equal(r.gcacheSizeForP99Bytes, null);
  assert.equal(r.reason, 'not enough write history to show that 45 min of writes fit in the 2.93 GiB IST budget: it must reach back at least 45 min');
  const none = check({ writes: null, durationSeconds: 60 });
  assert.equal(none.verdict, 'risky');
  assert.match(none.reason, /^not enough write history/);
});

test('a node that is not Synced now, or not sampled, is risky whatever the history', () => {
  const donor = check({ node: node({ localState: 'Donor/Desynced' }), durationSeconds: 60 });
  assert.equal(donor.verdict, 'risky');
  assert.equal(donor.reason, 'the node is Donor/Desynced, not Synced: only a Synced node has an IST budget to leave with');
  const gone = check({ node: node({ reachable: false }), durationSeconds: 60 });
  assert.equal(gone.verdict, 'risky');
  assert.match(gone.reason, /not sampled by the latest cycle/);
});

test('no donor, or no budget known yet: risky with the budget reason', () => {
  const alone = check({ node: node({ budget: budget(0, null, 'no other Synced node holds a gcache: any rejoin needs an SST') }), durationSeconds: 60 });
  assert.equal(alone.verdict, 'risky');
  assert.equal(alone.donor, null);
  assert.equal(alone.reason, 'no other Synced node holds a gcache: any rejoin needs an SST');
  const unknown = check({ node: node({ budget: budget(null, null, 'not enough history to model the donors yet') }), durationSeconds: 60 });
  assert.equal(unknown.verdict, 'risky');
  assert.equal(unknown.reason, 'no IST budget: not enough history to model the donors yet');
  const unanalysed = check({ node: node({ budget: null }), durationSeconds: 60 });
  assert.equal(unanalysed.reason, 'no IST budget: not analysed yet');
});

test('the capacity given (the donor ring) is used, and the gcache.size for the p99 follows the arithmetic', () => {
  // Capacity 2000 MiB of which 1500 MiB is budget; gcache.size 2100 MiB. p99 over 1 h is
  // 3600 MiB: a capacity of 3600 + 500 = 4100 MiB, times 2100/2000 = 4305 MiB.
  const r = check({ node: node({ budget: budget(1500 * MIB, 'node3') }), durationSeconds: 3600, capacityBytes: 2000 * MIB, gcacheSizeBytes: 2100 * MIB });
  assert.equal(r.gcacheSizeForP99Bytes, 4305 * MIB);
  assert.equal(r.donor, 'node3');
  assert.equal(gcacheSizeFor(3600 * MIB, 1500 * MIB, 2000 * MIB, 2100 * MIB), 4305 * MIB);
  assert.equal(gcacheSizeFor(100, 100, 100, 100), MIB, 'rounded up to a whole MiB');
  // Without a gcache.size there is nothing to scale.
  assert.equal(check({ durationSeconds: 3600, gcacheSizeBytes: null }).gcacheSizeForP99Bytes, null);
});

test('shares are written in tenths of a percent, never rounded up', () => {
  assert.equal(formatShare(1), '100%');
  assert.equal(formatShare(0.575), '57.5%');
  assert.equal(formatShare(0.9999), '99.9%');
  assert.equal(formatShare(0), '0%');
});

test('the ring capacity of a node: measured on a full ring, modelled otherwise', () => {
  assert.equal(ringCapacityOf(node()), 3000 * MIB);
  const filling = node({ measured: { ...node().measured, ring: 'filling', contentBytes: 10 * MIB } });
  // align8(1000 + 24) / 1000 ring bytes per counted byte.
  assert.equal(ringCapacityOf(filling), (3072 * MIB) / 1.024);
  assert.equal(ringCapacityOf(node({ gcacheSizeBytes: null })), null);
});
