/** Small statistics for benchmark figures. */

/** The nearest-rank percentile (p in 0..100) of the values; null when there are none. */
export function percentile(values: ReadonlyArray<number>, p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function max(values: ReadonlyArray<number>): number | null {
  return values.length === 0 ? null : Math.max(...values);
}
