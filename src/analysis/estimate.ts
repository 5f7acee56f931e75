/**
 * The estimated window: the classic gcache.size / byte rate, corrected for the ring's per-buffer
 * overhead, and calibrated from the measured content once the ring has wrapped. Pure.
 */

/** Galera stores each buffer with a 24-byte header, rounded up to 8 bytes. */
export const BUFFER_HEADER_BYTES = 24;

export function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/**
 * Ring bytes per counted byte for write-sets of the given average size: align8(size + 24) / size.
 * For 1784-byte write-sets it is 1.0135; for 272-byte ones 1.0882.
 */
export function overheadFactor(averageWriteSetBytes: number | null): number {
  if (!averageWriteSetBytes || averageWriteSetBytes <= 0 || !Number.isFinite(averageWriteSetBytes)) return 1;
  return align8(averageWriteSetBytes + BUFFER_HEADER_BYTES) / averageWriteSetBytes;
}

export interface WindowEstimate {
  /** gcache.size / rate: what existing tools report. */
  classicSeconds: number | null;
  /** gcache.size / (rate × overhead factor). */
  overheadCorrectedSeconds: number | null;
  /** held bytes / rate, where held bytes is what the full ring was measured to hold. */
  calibratedSeconds: number | null;
  /** The best of the above that is available: calibrated, else overhead-corrected. */
  bestSeconds: number | null;
}

export function estimateWindow(gcacheSizeBytes: number, bytesPerSecond: number | null, averageWriteSetBytes: number | null, heldBytesWhenFull: number | null): WindowEstimate {
  if (!bytesPerSecond || bytesPerSecond <= 0) {
    // No writes: every estimate is unbounded; say so with null rather than Infinity.
    return { classicSeconds: null, overheadCorrectedSeconds: null, calibratedSeconds: null, bestSeconds: null };
  }
  const classic = gcacheSizeBytes / bytesPerSecond;
  const corrected = gcacheSizeBytes / (bytesPerSecond * overheadFactor(averageWriteSetBytes));
  const calibrated = heldBytesWhenFull && heldBytesWhenFull > 0 ? heldBytesWhenFull / bytesPerSecond : null;
  return { classicSeconds: classic, overheadCorrectedSeconds: corrected, calibratedSeconds: calibrated, bestSeconds: calibrated ?? corrected };
}

/**
 * How many counted bytes the ring holds when full. Measured (the held content of a full ring)
 * when known, otherwise modelled from gcache.size and the overhead factor.
 */
export function ringCapacityCountedBytes(gcacheSizeBytes: number, averageWriteSetBytes: number | null, heldBytesWhenFull: number | null): number {
  return heldBytesWhenFull && heldBytesWhenFull > 0 ? heldBytesWhenFull : gcacheSizeBytes / overheadFactor(averageWriteSetBytes);
}
