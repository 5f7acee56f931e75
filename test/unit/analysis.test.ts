import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timeAtSeqno, bytesAtTime, latestEpoch, type TimelinePoint } from '../../src/analysis/timeline.ts';
import { rateOf, deltasOf, minuteRateDistribution } from '../../src/analysis/rates.ts';
import { measureWindow, detectHistoryDrop, ringIsEvicting, type NodePoint } from '../../src/analysis/window.ts';
import { align8, overheadFactor, estimateWindow } from '../../src/analysis/estimate.ts';
import { istSafetyGap, parseDonorList, istBudget, type Member } from '../../src/analysis/ist.ts';
import { recommendGcacheSize, roundUpToPracticalSize } from '../../src/analysis/sizing.ts';
import { dailyRates, windowTrend } from '../../src/analysis/trend.ts';

const MiB = 2 ** 20;

/** A steady ring: 1000 B/s, 10 write-sets/s, sampled every 10 s; the ring holds `held` bytes once full. */
function steadyRing(opts: { samples: number; held: number; epoch?: number; t0?: number; seqno0?: number; bytes0?: number }): NodePoint[] {
  const points: NodePoint[] = [];
  const { t0 = 1_000_000, seqno0 = 1, bytes0 = 0 } = opts;
  for (let i = 0; i < opts.samples; i++) {
    const bytes = bytes0 + i * 10_000;
    const seqno = seqno0 + i * 100;
    // Until `held` bytes have come in, downto stays at the first seqno; then it trails by `held` bytes.
    const downto = bytes - bytes0 < opts.held ? seqno0 : seqno0 + Math.round(((bytes - bytes0 - opts.held) / 10_000) * 100);
    points.push({ t: t0 + i * 10_000, seqno, bytes, epoch: opts.epoch ?? 1, downto });
  }
  return points;
}

test('timeline: when a seqno was committed, interpolated between samples', () => {
  const pts: TimelinePoint[] = [
    { t: 0, seqno: 100, bytes: 0, epoch: 1 },
    { t: 10_000, seqno: 200, bytes: 1000, epoch: 1 },
    { t: 20_000, seqno: 300, bytes: 2000, epoch: 2 },
  ];
  assert.deepEqual(timeAtSeqno(pts, 150), { kind: 'exact', t: 5000 });
  assert.deepEqual(timeAtSeqno(pts, 100), { kind: 'exact', t: 0 });
  assert.deepEqual(timeAtSeqno(pts, 50), { kind: 'before', t: 0 });
  assert.deepEqual(timeAtSeqno(pts, 400), { kind: 'after', t: 20_000 });
  assert.equal(timeAtSeqno([], 1), null);
  assert.equal(bytesAtTime(pts, 20_000), 2000, 'only the latest epoch');
  assert.equal(bytesAtTime(pts, 5000), null, 'bytes of another epoch are not comparable');
  assert.equal(latestEpoch(pts).length, 1);
});

test('rates: sums of in-epoch deltas only', () => {
  const pts: TimelinePoint[] = [
    { t: 0, seqno: 0, bytes: 0, epoch: 1 },
    { t: 10_000, seqno: 100, bytes: 10_000, epoch: 1 },
    { t: 20_000, seqno: 5, bytes: 50, epoch: 2 }, // restart: counters reset
    { t: 30_000, seqno: 105, bytes: 20_050, epoch: 2 },
  ];
  const deltas = deltasOf(pts, -1, 30_000);
  assert.equal(deltas.length, 2, 'the pair across the restart is skipped');
  const r = rateOf(deltas)!;
  assert.equal(r.bytesPerSecond, 1500);
  assert.equal(r.writeSetsPerSecond, 10);
  assert.equal(r.coveredSeconds, 20);
  assert.equal(rateOf([]), null);
});

test('rates: per-minute distribution leaves out thinly covered minutes', () => {
  const minutes = Array.from({ length: 100 }, (_, i) => ({ seconds: 60, bytes: (i + 1) * 60 }));
  minutes.push({ seconds: 5, bytes: 1e9 }); // a minute with 5 s of data: left out
  const d = minuteRateDistribution(minutes)!;
  assert.equal(d.minutes, 100);
  assert.equal(d.p50, 50.5);
  assert.equal(d.peak, 100);
  assert.ok(d.p95 >= 95 && d.p95 <= 96);
  assert.equal(minuteRateDistribution([{ seconds: 10, bytes: 5 }]), null);
});

test('measured window: not full, full, empty, and a lower bound when history is short', () => {
  const filling = steadyRing({ samples: 5, held: 1e9 });
  const w0 = measureWindow(filling, filling, filling.at(-1)!.t);
  assert.equal(w0.ring, 'filling');
  assert.equal(w0.measuredSeconds, null);
  assert.match(w0.summary, /gcache not yet full: holds everything since/);
  assert.equal(w0.ageSeconds, 40);

  const full = steadyRing({ samples: 30, held: 100_000 });
  const w1 = measureWindow(full, full, full.at(-1)!.t);
  assert.equal(w1.ring, 'full');
  assert.ok(Math.abs(w1.measuredSeconds! - 100) < 1e-9, `window ${w1.measuredSeconds}`);
  assert.ok(Math.abs(w1.contentBytes! - 100_000) < 1e-6);

  const short = full.slice(-3); // history starts after the oldest cached write-set
  const w2 = measureWindow(short, short, short.at(-1)!.t);
  assert.equal(w2.lowerBound, true);
  assert.equal(w2.measuredSeconds, null, 'a lower bound is not a measurement');
  assert.match(w2.summary, /at least/);

  const empty = [...full.slice(0, -1), { ...full.at(-1)!, downto: null }];
  assert.equal(measureWindow(empty, empty, empty.at(-1)!.t).ring, 'empty');
});

test('history drops: a page-store purge, a reset across a restart, and steady eviction that is neither', () => {
  const full = steadyRing({ samples: 30, held: 100_000 });
  assert.equal(detectHistoryDrop(full, full, 100_000), null, 'steady eviction is no drop');
  assert.equal(ringIsEvicting(full), true);
  const last = full.at(-1)!;
  const purged: NodePoint[] = [...full, { t: last.t + 10_000, seqno: last.seqno + 100, bytes: last.bytes + 10_000, epoch: 1, downto: last.seqno + 90 }];
  const drop = detectHistoryDrop(purged, purged, 100_000)!;
  assert.equal(drop.kind, 'page_store_purge');
  assert.ok(drop.droppedBytes! > 25_000);
  assert.ok(drop.windowAfterSeconds! < drop.windowBeforeSeconds! / 5);
  assert.equal(ringIsEvicting(purged), true, 'earlier intervals still show eviction');
  // The big write-set came first in the interval: interpolated, the bytes held after it look like
  // 81% of the ring (a drop under a quarter), but nothing cached at the previous sample is left.
  const early: NodePoint[] = [...full, { t: last.t + 10_000, seqno: last.seqno + 10, bytes: last.bytes + 90_000, epoch: 1, downto: last.seqno + 1 }];
  const earlyDrop = detectHistoryDrop(early, early, 100_000)!;
  assert.equal(earlyDrop?.kind, 'page_store_purge');
  assert.ok(earlyDrop.droppedBytes! < 25_000, `dropped ${earlyDrop.droppedBytes} B, interpolated`);

  const restartedEmpty: NodePoint[] = [...full, { t: last.t + 10_000, seqno: last.seqno + 10, bytes: 100, epoch: 2, downto: null }];
  assert.equal(detectHistoryDrop(restartedEmpty, restartedEmpty, 100_000)!.kind, 'gcache_reset');
  const restartedRecovered: NodePoint[] = [...full, { t: last.t + 10_000, seqno: last.seqno + 10, bytes: 100, epoch: 2, downto: last.downto }];
  assert.equal(detectHistoryDrop(restartedRecovered, restartedRecovered, 100_000), null, 'gcache.recover kept the history');
});

test('estimate: align8(size + 24) overhead, as checked on a real ring', () => {
  assert.equal(align8(1), 8);
  assert.equal(align8(16), 16);
  assert.ok(Math.abs(overheadFactor(1784) - 1808 / 1784) < 1e-12); // ≈1.35%, the notes saw ≈1.4%
  assert.ok(Math.abs(overheadFactor(272) - 296 / 272) < 1e-12); // ≈8.8%, the notes saw ≈9%
  assert.equal(overheadFactor(null), 1);
  const e = estimateWindow(8 * MiB, 100_000, 272, null);
  assert.ok(Math.abs(e.classicSeconds! - 83.886) < 0.001);
  assert.ok(e.overheadCorrectedSeconds! < e.classicSeconds!);
  assert.equal(e.bestSeconds, e.overheadCorrectedSeconds);
  const calibrated = estimateWindow(8 * MiB, 100_000, 272, 7_500_000);
  assert.equal(calibrated.calibratedSeconds, 75);
  assert.equal(calibrated.bestSeconds, 75);
  assert.equal(estimateWindow(8 * MiB, 0, 272, null).bestSeconds, null, 'no writes: no finite estimate');
});

test('IST: safety gap, donor list, and the budget from the donors’ rings', () => {
  assert.equal(istSafetyGap(1000, 1000 + 128 * 5), 5);
  assert.equal(istSafetyGap(0, 2 ** 40), 2 ** 20);
  assert.deepEqual(parseDonorList('node1,node2'), { names: ['node1', 'node2'], othersAllowed: false });
  assert.deepEqual(parseDonorList('node1,'), { names: ['node1'], othersAllowed: true });
  assert.deepEqual(parseDonorList(''), { names: [], othersAllowed: true });

  const ring = steadyRing({ samples: 30, held: 100_000 });
  const last = ring.at(-1)!;
  const member = (name: string, capacity: number, segment = 0): Member => ({
    name,
    synced: true,
    segment,
    lastCommitted: last.seqno,
    downto: last.downto,
    points: ring,
    capacityBytes: capacity,
    heldBytes: 100_000,
  });
  const joiner = { name: 'j', lastCommitted: last.seqno, segment: 0, sstDonor: '', synced: true };
  const b = istBudget(joiner, [member('a', 100_000), member('b', 150_000)], ring, 1000);
  // b has 50 000 B free plus ~100 000 B older than S+1: it keeps S+1 longest.
  assert.equal(b.donor, 'b');
  assert.ok(Math.abs(b.bytes! - 150_000) < 1000 && Math.abs(b.seconds! - 150) < 1, JSON.stringify(b));
  const restricted = istBudget({ ...joiner, sstDonor: 'a' }, [member('a', 100_000), member('b', 150_000)], ring, 1000);
  assert.equal(restricted.donor, 'a', 'wsrep_sst_donor is respected');
  assert.ok(restricted.seconds! < b.seconds!);
  assert.equal(istBudget({ ...joiner, sstDonor: 'c' }, [member('a', 100_000)], ring, 1000).seconds, 0);
  assert.equal(istBudget(joiner, [], ring, 1000).seconds, 0, 'no donor: SST');
  assert.equal(istBudget({ ...joiner, synced: false }, [member('a', 100_000)], ring, 1000).seconds, null);
  const idle = istBudget(joiner, [member('a', 100_000)], ring, 0);
  assert.equal(idle.seconds, null);
  assert.ok(idle.bytes! > 0, 'the byte budget stands without writes');
});

test('sizing: the arithmetic, rounding to practical sizes, and warnings', () => {
  assert.equal(roundUpToPracticalSize(1), 16 * MiB);
  assert.equal(roundUpToPracticalSize(100 * MiB), 112 * MiB);
  assert.equal(roundUpToPracticalSize(300 * MiB), 320 * MiB);
  assert.equal(roundUpToPracticalSize(3000 * MiB), 3072 * MiB);
  assert.equal(roundUpToPracticalSize(20_000 * MiB), 20 * 1024 * MiB);
  const r = recommendGcacheSize({
    targetWindowSeconds: 3600,
    p95BytesPerSecond: 100_000,
    p99BytesPerSecond: 150_000,
    longBytesPerSecond: 60_000,
    ringBytesPerCountedByte: 1.02,
    ringFactorSource: 'measured',
    nodes: [
      { name: 'a', gcacheSizeBytes: 128 * MiB, recover: true, windowSeconds: 1200, largestAverageWriteSetBytes: 2000, purgesSeen: 0 },
      { name: 'b', gcacheSizeBytes: 256 * MiB, recover: false, windowSeconds: 5000, largestAverageWriteSetBytes: 2000, purgesSeen: 2 },
    ],
  });
  const expected = 100_000 * 3600 * 1.02 * 1.2 * (128 / 127);
  assert.ok(Math.abs(r.atP95!.neededBytes - expected) < 1e-6);
  assert.equal(r.recommendedGcacheSizeBytes, roundUpToPracticalSize(expected));
  assert.ok(r.atP99!.recommendedBytes >= r.atP95!.recommendedBytes);
  assert.equal(r.currentGcacheSizeBytes, 128 * MiB);
  assert.match(r.arithmetic.text[0]!, /97\.7 KiB\/s × 60 min × 1\.0200 .* = .* → /);
  const w = r.warnings.join('\n');
  assert.match(w, /gcache\.recover is off on b/);
  assert.match(w, /gcache\.size differs between nodes \(a 128 MiB, b 256 MiB\)/);
  assert.match(w, /b: 2 page-store purge/);
  assert.match(w, /already below the 60 min target on a \(20 min\)/);
  const none = recommendGcacheSize({
    targetWindowSeconds: 3600,
    p95BytesPerSecond: null,
    p99BytesPerSecond: null,
    longBytesPerSecond: null,
    ringBytesPerCountedByte: 1,
    ringFactorSource: 'overhead model',
    nodes: [],
  });
  assert.equal(none.recommendedGcacheSizeBytes, null);
});

test('trend: a growing daily rate gives the date the window falls below the target', () => {
  const day = 86400_000;
  const t0 = Date.UTC(2026, 10, 1);
  // 1000 B/s on day 0, +100 B/s per day.
  const minutes = Array.from({ length: 10 }, (_, d) => ({ minute: t0 + d * day, seconds: 7200, bytes: (1000 + 100 * d) * 7200 }));
  const days = dailyRates(minutes);
  assert.equal(days.length, 10);
  // Capacity 7.2 MB and a 1 h target: below the target once the rate exceeds 2000 B/s, on day 10.
  const trend = windowTrend(days, 7_200_000, 3600, t0 + 9 * day);
  assert.ok(Math.abs(trend.slopeBytesPerSecondPerDay! - 100) < 1e-9);
  assert.equal(new Date(trend.crossesTargetAt!).toISOString().slice(0, 10), '2026-11-11');
  assert.match(trend.summary, /falls below the target on 2026-11-11/);
  assert.match(windowTrend(days.slice(0, 2), 7_200_000, 3600, t0).summary, /not enough history/);
  const flat = days.map((d) => ({ ...d, bytesPerSecond: 1000 }));
  assert.equal(windowTrend(flat, 7_200_000, 3600, t0 + 9 * day).crossesTargetAt, null);
});
