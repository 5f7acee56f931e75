/**
 * The IST time forecast over synthetic write histories whose answers are known: a steady load,
 * a load busier than the past, a load that switches between regimes, a nightly batch, a load
 * that changed its nature (the backtest must shrink `safe`), and the compact write history the
 * daemon keeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteSeriesOf, WriteHistory, type ByteSeries } from '../../src/analysis/write-history.ts';
import { quantileSorted } from 'simple-statistics';
import { calibrate, forecastTime, UNCALIBRATED, writesOver } from '../../src/analysis/forecast.ts';

const T0 = Date.UTC(2026, 5, 1);

/** A cumulative series sampled every `stepS` seconds from a rate function (bytes/s of elapsed seconds). */
function seriesOf(seconds: number, stepS: number, rate: (s: number) => number): Array<[number, number]> {
  const out: Array<[number, number]> = [[T0, 0]];
  let cum = 0;
  for (let s = stepS; s <= seconds; s += stepS) {
    cum += rate(s) * stepS;
    out.push([T0 + s * 1000, cum]);
  }
  return out;
}

test('a steady load: likely and safe are the budget over the rate', () => {
  const s = byteSeriesOf(seriesOf(6 * 3600, 10, () => 1000));
  const now = T0 + 6 * 3600_000;
  const f = forecastTime(s, now, 600_000)!;
  assert.ok(Math.abs(f.likelySeconds - 600) < 1, `likely ${f.likelySeconds}`);
  assert.ok(Math.abs(f.rawSafeSeconds - 600) < 1, `safe ${f.rawSafeSeconds}`);
  assert.equal(f.neighbours, 40);
  assert.ok(Math.abs(f.conditioningSeconds - 120) < 1, `conditioning window ${f.conditioningSeconds} s is a fifth of the horizon`);
  assert.ok(Math.abs(f.recentSeconds - 30) < 1, `recent window ${f.recentSeconds} s is a twentieth of the horizon`);
});

test('a load a little busier than any in the history: likely is the budget at the rate now, not at the past one', () => {
  // Six hours at 1,000 B/s, the last five minutes at 1,250 B/s: every past start point wrote
  // 600 kB in 600 s, and each is rescaled by how much slower its load ran than now's.
  const s = byteSeriesOf(seriesOf(6 * 3600, 10, (x) => (x <= 6 * 3600 - 300 ? 1000 : 1250)));
  const f = forecastTime(s, T0 + 6 * 3600_000, 600_000)!;
  assert.ok(Math.abs(f.likelySeconds - 480) < 10, `likely ${f.likelySeconds} s, 600 kB at 1,250 B/s is 480 s`);
  assert.ok(f.rawSafeSeconds <= f.likelySeconds);
});

test('a load that switches between a busy and a quiet regime: the forecast follows the regime now, where one overall rate does not', () => {
  // 20 minutes at 5,000 B/s, then 20 minutes at 500 B/s, over and over.
  const rate = (s: number) => (Math.floor(s / 1200) % 2 === 0 ? 5000 : 500);
  const points = seriesOf(12 * 3600, 10, rate);
  const s = byteSeriesOf(points);
  const budget = 1_500_000; // 5 min when busy, 50 min when quiet
  // 2 min into a busy phase, then 2 min into a quiet one.
  const busyNow = T0 + (10 * 3600 + 120) * 1000;
  assert.equal(rate((busyNow - T0) / 1000), 5000, 'the chosen moment is busy');
  const busy = forecastTime(s, busyNow, budget)!;
  // From most busy start points the budget goes in 300 s; from the last minutes of a busy phase, a quiet one intervenes.
  assert.ok(busy.likelySeconds < 400, `busy now: likely ${busy.likelySeconds} s`);
  const quietNow = busyNow + 1200_000;
  assert.equal(rate((quietNow - T0) / 1000), 500, 'the chosen moment is quiet');
  const quiet = forecastTime(s, quietNow, budget)!;
  // From p minutes into a quiet phase: 54 (20 - p) + 300 s, 300-1,380 s, median about 840 s.
  assert.ok(quiet.likelySeconds > 600, `quiet now: likely ${quiet.likelySeconds} s`);
  assert.ok(quiet.rawSafeSeconds <= quiet.likelySeconds && busy.rawSafeSeconds <= busy.likelySeconds);
});

test('the forecast only reads the past: a series cut at now gives the same answer as the whole one', () => {
  const points = seriesOf(8 * 3600, 10, (s) => 800 + 700 * Math.sin(s / 900));
  const now = T0 + 5 * 3600_000 + 5000;
  const whole = forecastTime(byteSeriesOf(points), now, 900_000);
  const cut = forecastTime(byteSeriesOf(points.filter(([t]) => t <= now)), now, 900_000);
  assert.deepEqual(whole, cut);
});

test('a nightly batch: with days of history, the forecast before the batch sees it coming', () => {
  // 300 B/s all day; 01:00-02:00 UTC a batch at 6,000 B/s. Hourly sampling is fine at this scale.
  const rate = (s: number) => {
    const hour = Math.floor(((T0 / 1000 + s) % 86400) / 3600);
    return hour === 1 ? 6000 : 300;
  };
  const points = seriesOf(5 * 86400, 60, rate);
  const s = byteSeriesOf(points);
  // 00:50 UTC on the sixth day: the load now looks like any quiet hour.
  const now = T0 + 4 * 86400_000 + 50 * 60_000;
  const budget = 3_600_000; // 3 h 20 min at 300 B/s; the batch writes 21.6 MB in an hour
  const f = forecastTime(s, now, budget)!;
  assert.ok(f.likelySeconds < 2 * 3600, `likely ${f.likelySeconds} s: the batch at 01:00 eats the budget within about 20 min of starting`);
  // At 12:00, far from the batch, the quiet rate rules.
  const noon = T0 + 4 * 86400_000 + 12 * 3600_000;
  const g = forecastTime(s, noon, budget)!;
  assert.ok(g.likelySeconds > 3 * 3600, `noon: likely ${g.likelySeconds} s`);
});

test('the backtest shrinks safe when the load has changed its nature, and leaves a steady one alone', () => {
  // Seven and a half hours at 1,000 B/s, then ten times that: the history knows nothing like it.
  const rate = (s: number) => (s < 7.5 * 3600 ? 1000 : 10_000);
  const s = byteSeriesOf(seriesOf(8 * 3600, 10, rate));
  const now = T0 + 8 * 3600_000;
  const cal = calibrate(s, now, 1_200_000, UNCALIBRATED);
  assert.equal(cal.resolved, 120);
  // The backtest reaches back 30 of today's horizons (120 s): the last hour. The start points in
  // the 20 minutes before the change took 120-1,200 s where their forecast (from the calm past)
  // said 1,200 s; those after it are forecast about right once their recent rate rescales the
  // calm past's durations.
  assert.ok(cal.shrink < 0.6, `shrink ${cal.shrink}`);
  assert.ok(cal.coverage !== null && cal.coverage < 0.9, `coverage ${cal.coverage}: below what the shipped rule warns at`);
  // Against a steady history the backtest changes nothing.
  const steady = calibrate(byteSeriesOf(seriesOf(8 * 3600, 10, () => 1000)), now, 1_200_000, UNCALIBRATED);
  assert.ok(steady.shrink > 0.98, `steady shrink ${steady.shrink}`);
  assert.equal(steady.coverage, 1);
});

test('writes over a duration: the share of comparable start points whose writes fitted in a budget', () => {
  const s = byteSeriesOf(seriesOf(6 * 3600, 10, () => 1000));
  const now = T0 + 6 * 3600_000;
  const fits = writesOver(s, now, 1800_000, 2_000_000)!;
  assert.equal(fits.fitShare, 1);
  assert.ok(Math.abs(fits.p99Bytes - 1_800_000) < 1000);
  const tight = writesOver(s, now, 1800_000, 1_000_000)!;
  assert.equal(tight.fitShare, 0);
  assert.equal(writesOver(s, now, 7 * 3600_000, 1e9), null, 'no start point a whole duration old');
});

test('the write history keeps recent points at full resolution, older ones a minute apart, and its reach', () => {
  const w = new WriteHistory(24 * 3600_000, 3600_000);
  for (let s = 10; s <= 30 * 3600; s += 10) w.add(T0 + s * 1000, 100 * 10);
  const now = T0 + 30 * 3600_000;
  const series: ByteSeries = w;
  assert.ok(series.t(0) >= now - 24 * 3600_000 - 600_000, 'nothing older than the reach (and one point before it)');
  // An hour at 10 s (360) + 23 h a minute apart (1,380): about 1,740 points, not 8,640.
  assert.ok(w.length < 1900 && w.length > 1500, `${w.length} points`);
  assert.ok(w.byteSize < 64 * 1024, `${w.byteSize} bytes`);
  // Cumulative bytes stay exact through the thinning.
  assert.equal(w.cum(w.length - 1), 30 * 3600 * 100);
  const f = forecastTime(w, now, 360_000)!;
  assert.ok(Math.abs(f.likelySeconds - 3600) < 30, `likely ${f.likelySeconds}`);
});

test('a history barely longer than the budget takes: a finite forecast or none, never NaN, and a backtest that stays finite', () => {
  // A steady load for 3,400-3,590 s and a budget of 3,000 s: few start points have a whole window before them.
  for (let seconds = 3400; seconds <= 3590; seconds += 10) {
    const s = byteSeriesOf(seriesOf(seconds, 10, () => 1000));
    const now = T0 + seconds * 1000;
    const f = forecastTime(s, now, 3_000_000);
    assert.ok(f === null || (Number.isFinite(f.likelySeconds) && Number.isFinite(f.rawSafeSeconds)), `${seconds} s: ${JSON.stringify(f)}`);
    const cal = calibrate(s, now, 3_000_000, UNCALIBRATED);
    assert.ok(Number.isFinite(cal.shrink), `${seconds} s: ${JSON.stringify(cal)}`);
  }
  // A fresh daemon's write history and a 4 h budget: no forecast until one start point has resolved.
  const w = new WriteHistory(24 * 3600_000, 3600_000);
  for (let s = 10; s <= 5 * 3600; s += 10) {
    w.add(T0 + s * 1000, 10_000);
    const f = forecastTime(w, T0 + s * 1000, 4 * 3600 * 1000);
    assert.ok(f === null || (Number.isFinite(f.likelySeconds) && Number.isFinite(f.rawSafeSeconds)), `${s} s: ${JSON.stringify(f)}`);
  }
});

test('with every start point a neighbour, likely and safe are the median and the 5th percentile of all durations, each rescaled to the rate now (as simple-statistics computes them)', () => {
  // An irregular load, so that the durations and the rates differ.
  const points = seriesOf(3 * 3600, 10, (s) => 800 + 400 * Math.sin(s / 700) + 300 * Math.sin(s / 131));
  const s = byteSeriesOf(points);
  const now = T0 + 3 * 3600_000;
  const budget = 900_000;
  // The recent window: 20 s, two sampling intervals (the share is too small to make it longer).
  const recentS = 20;
  const rateBefore = (i: number) => {
    const span = Math.min(recentS, i * 10);
    return span === 0 ? null : (points[i]![1] - points[i - span / 10]![1]) / span;
  };
  const last = points.length - 1;
  const rateNow = rateBefore(last)!;
  const floor = (points[last]![1] / (3 * 3600)) * 0.01 + 1e-9;
  const durations: number[] = [];
  for (let i = 0; i < points.length; i++) {
    const target = points[i]![1] + budget;
    const j = points.findIndex(([, c]) => c >= target);
    if (j < 0) break;
    const [ta, ca] = points[j - 1]!;
    const [tb, cb] = points[j]!;
    const duration = ta + ((target - ca) / (cb - ca)) * (tb - ta) - points[i]![0];
    // A start point whose load ran faster than now's wrote the budget sooner than now's load will.
    const r = rateBefore(i);
    durations.push(r === null ? duration : (duration * (r + floor)) / (rateNow + floor));
  }
  durations.sort((a, b) => a - b);
  const opts = { maxCandidates: 100_000, neighbours: durations.length, recentShare: 0.001, conditioningShare: 0.2, conditioningWeight: 2, minConditioningMs: recentS * 1000 };
  const f = forecastTime(s, now, budget, opts)!;
  assert.equal(f.neighbours, durations.length);
  assert.equal(f.recentSeconds, recentS);
  // Within a rank's worth: the same quantile definition over the same durations.
  const close = (a: number, b: number) => Math.abs(a - b) <= 0.005 * b;
  assert.ok(close(f.likelySeconds, quantileSorted(durations, 0.5) / 1000), `likely ${f.likelySeconds}, reference ${quantileSorted(durations, 0.5) / 1000}`);
  assert.ok(close(f.rawSafeSeconds, quantileSorted(durations, 0.05) / 1000), `safe ${f.rawSafeSeconds}, reference ${quantileSorted(durations, 0.05) / 1000}`);
});
