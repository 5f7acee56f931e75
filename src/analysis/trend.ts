/**
 * The trend: a linear regression of the daily write rate gives the date on which, at the
 * current growth, the window falls below the target. Pure.
 */
import { linearRegression } from 'simple-statistics';
import { DAY_MS } from '../units/time.js';

export interface DailyRate {
  dayStart: number; // ms, UTC midnight
  bytesPerSecond: number;
}

export interface Trend {
  days: number;
  /** Growth of the daily rate, bytes/s per day. */
  slopeBytesPerSecondPerDay: number | null;
  /** When the window is expected to fall below the target (ms), or null. */
  crossesTargetAt: number | null;
  summary: string;
}

export const MIN_TREND_DAYS = 3;

/** Daily rates from per-minute rollups: Σbytes / Σseconds per UTC day, days with at least an hour of data. */
export function dailyRates(minutes: ReadonlyArray<{ minute: number; seconds: number; bytes: number }>): DailyRate[] {
  const days = new Map<number, { seconds: number; bytes: number }>();
  for (const m of minutes) {
    const day = Math.floor(m.minute / DAY_MS) * DAY_MS;
    const acc = days.get(day) ?? { seconds: 0, bytes: 0 };
    acc.seconds += m.seconds;
    acc.bytes += m.bytes;
    days.set(day, acc);
  }
  return [...days.entries()]
    .filter(([, v]) => v.seconds >= 3600)
    .sort(([a], [b]) => a - b)
    .map(([dayStart, v]) => ({ dayStart, bytesPerSecond: v.bytes / v.seconds }));
}

/**
 * @param capacityBytes counted bytes the ring holds when full
 */
export function windowTrend(days: readonly DailyRate[], capacityBytes: number, targetWindowSeconds: number, now: number): Trend {
  if (days.length < MIN_TREND_DAYS) {
    return { days: days.length, slopeBytesPerSecondPerDay: null, crossesTargetAt: null, summary: `not enough history: ${days.length} of ${MIN_TREND_DAYS} days` };
  }
  const { m, b } = linearRegression(days.map((d) => [d.dayStart / DAY_MS, d.bytesPerSecond]));
  // The window falls below the target when the rate exceeds capacity / target.
  const criticalRate = capacityBytes / targetWindowSeconds;
  const rateNow = m * (now / DAY_MS) + b;
  if (rateNow >= criticalRate) {
    return { days: days.length, slopeBytesPerSecondPerDay: m, crossesTargetAt: now, summary: 'at the trend rate the window is already below the target' };
  }
  if (m <= 0) return { days: days.length, slopeBytesPerSecondPerDay: m, crossesTargetAt: null, summary: 'the write rate is not growing: the window is not shrinking' };
  const crossesTargetAt = ((criticalRate - b) / m) * DAY_MS;
  return {
    days: days.length,
    slopeBytesPerSecondPerDay: m,
    crossesTargetAt,
    summary: `at the current growth the window falls below the target on ${new Date(crossesTargetAt).toISOString().slice(0, 10)}`,
  };
}
