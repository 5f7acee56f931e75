/**
 * The gcache.size a cluster needs for a target window, with the arithmetic shown so that a DBA
 * can check it, and the warnings that make any size moot. Pure.
 */
import { formatBytes, formatDuration } from '../units/format.js';

/** Spare capacity on top of the p95/p99 need, for growth and bursts longer than a minute. */
export const SIZING_HEADROOM = 0.2;
/** Galera refuses IST within ~1/128 of the cached range: the ring must be that much larger. */
export const SAFETY_GAP_FACTOR = 128 / 127;

export function roundUpToPracticalSize(bytes: number): number {
  const MiB = 2 ** 20;
  const step = bytes < 256 * MiB ? 16 * MiB : bytes < 2048 * MiB ? 64 * MiB : bytes < 16384 * MiB ? 256 * MiB : 1024 * MiB;
  return Math.max(step, Math.ceil(bytes / step) * step);
}

export interface SizingInput {
  targetWindowSeconds: number;
  /** Per-minute rate quantiles of the long horizon (bytes/s); null when history is too short. */
  p95BytesPerSecond: number | null;
  p99BytesPerSecond: number | null;
  /** Fallback when no distribution exists yet. */
  longBytesPerSecond: number | null;
  /** Ring bytes per counted byte: measured from a full ring when possible, else the overhead model. */
  ringBytesPerCountedByte: number;
  ringFactorSource: 'measured' | 'overhead model';
  nodes: ReadonlyArray<{
    name: string;
    gcacheSizeBytes: number | null;
    recover: boolean | null;
    windowSeconds: number | null;
    largestAverageWriteSetBytes: number | null;
    purgesSeen: number;
  }>;
}

export interface SizingLine {
  rateName: string;
  bytesPerSecond: number;
  neededBytes: number;
  recommendedBytes: number;
}

export interface Recommendation {
  targetWindowSeconds: number;
  recommendedGcacheSizeBytes: number | null;
  atP95: SizingLine | null;
  atP99: SizingLine | null;
  arithmetic: {
    formula: string;
    ringBytesPerCountedByte: number;
    ringFactorSource: string;
    headroom: number;
    safetyGapFactor: number;
    text: string[];
  };
  currentGcacheSizeBytes: number | null;
  warnings: string[];
}

export function recommendGcacheSize(input: SizingInput): Recommendation {
  const k = input.ringBytesPerCountedByte;
  const line = (rateName: string, rate: number | null): SizingLine | null => {
    if (rate === null || !(rate > 0)) return null;
    const needed = rate * input.targetWindowSeconds * k * (1 + SIZING_HEADROOM) * SAFETY_GAP_FACTOR;
    return { rateName, bytesPerSecond: rate, neededBytes: needed, recommendedBytes: roundUpToPracticalSize(needed) };
  };
  const usingDistribution = input.p95BytesPerSecond !== null;
  const atP95 = line(
    usingDistribution ? 'p95 of per-minute rates, long horizon' : 'mean rate, long horizon (too little history for quantiles)',
    input.p95BytesPerSecond ?? input.longBytesPerSecond,
  );
  const atP99 = line('p99 of per-minute rates, long horizon', input.p99BytesPerSecond);

  const sizes = input.nodes.map((n) => n.gcacheSizeBytes).filter((s): s is number => s !== null);
  const current = sizes.length ? Math.min(...sizes) : null;
  const text: string[] = [];
  for (const l of [atP95, atP99]) {
    if (!l) continue;
    text.push(
      `${l.rateName}: ${formatBytes(l.bytesPerSecond)}/s × ${formatDuration(input.targetWindowSeconds)} × ${k.toFixed(4)} ring bytes per counted byte ` +
        `× ${(1 + SIZING_HEADROOM).toFixed(2)} headroom × ${SAFETY_GAP_FACTOR.toFixed(4)} IST safety gap = ${formatBytes(l.neededBytes)} → ${formatBytes(l.recommendedBytes)}`,
    );
  }
  if (!atP95) text.push('no write rate measured yet: no recommendation');

  const warnings: string[] = [];
  const noRecover = input.nodes.filter((n) => n.recover === false).map((n) => n.name);
  if (noRecover.length)
    warnings.push(`gcache.recover is off on ${noRecover.join(', ')}: a restart empties the gcache, and that node cannot serve IST until it has cached enough again`);
  if (new Set(sizes).size > 1) {
    warnings.push(
      `gcache.size differs between nodes (${input.nodes
        .filter((n) => n.gcacheSizeBytes !== null)
        .map((n) => `${n.name} ${formatBytes(n.gcacheSizeBytes!)}`)
        .join(', ')}): the smallest sets the window when it is the donor`,
    );
  }
  for (const n of input.nodes) {
    const threshold = n.gcacheSizeBytes ? n.gcacheSizeBytes / 2 : null;
    if (n.purgesSeen > 0) {
      warnings.push(`${n.name}: ${n.purgesSeen} page-store purge(s) seen: write-sets bigger than gcache.size/2 spill into page files, and releasing one drops all older history`);
    } else if (threshold && n.largestAverageWriteSetBytes && n.largestAverageWriteSetBytes > threshold / 4) {
      warnings.push(
        `${n.name}: write-sets averaging ${formatBytes(n.largestAverageWriteSetBytes)} over a sampling interval come close to gcache.size/2 (${formatBytes(threshold)}), beyond which they spill into page files`,
      );
    }
  }
  const below = input.nodes.filter((n) => n.windowSeconds !== null && n.windowSeconds < input.targetWindowSeconds);
  if (below.length) {
    warnings.push(
      `the window is already below the ${formatDuration(input.targetWindowSeconds)} target on ${below.map((n) => `${n.name} (${formatDuration(n.windowSeconds!)})`).join(', ')}`,
    );
  }
  return {
    targetWindowSeconds: input.targetWindowSeconds,
    recommendedGcacheSizeBytes: atP95?.recommendedBytes ?? null,
    atP95,
    atP99,
    arithmetic: {
      formula: 'rate × target window × ring bytes per counted byte × (1 + headroom) × 128/127, rounded up to a practical size',
      ringBytesPerCountedByte: k,
      ringFactorSource: input.ringFactorSource,
      headroom: SIZING_HEADROOM,
      safetyGapFactor: SAFETY_GAP_FACTOR,
      text,
    },
    currentGcacheSizeBytes: current,
    warnings,
  };
}
