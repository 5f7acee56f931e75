/**
 * Write-load shapes for the accuracy runs, as a list of phases (a duration and a sysbench rate
 * per writer). Random shapes come from a seeded generator, so that a run can be repeated.
 * - `profile`: the fixed cycle of six rates that `npm run accuracy` has always used;
 * - `stationary`: random but stationary: phases of 60-150 s whose rates are drawn from one fixed
 *   log-uniform distribution (25-150 tx/s per writer unless told), so the past is a fair sample
 *   of the future;
 * - `bursty`: mostly quiet, with short bursts several times heavier, at random moments.
 */
import { logUniform, mulberry32, uniform } from '../fleet/random.js';

export type LoadShape = 'profile' | 'stationary' | 'bursty';
export const LOAD_SHAPES: readonly LoadShape[] = ['profile', 'stationary', 'bursty'];

export interface LoadPhase {
  ms: number;
  /** sysbench transactions per second, per writer. */
  rate: number;
}

/** Per-writer rates of the `profile` shape: a load that varies by 8x. */
const PROFILE_RATES = [10, 50, 20, 80, 15, 40];

/** The phases of a shape, enough to cover `totalMs`. */
export function loadPhases(shape: LoadShape, totalMs: number, opts: { seed?: number; profilePhaseMs?: number; stationaryRates?: readonly [number, number] } = {}): LoadPhase[] {
  const [low, high] = opts.stationaryRates ?? [25, 150];
  const random = mulberry32(opts.seed ?? 1);
  const between = (lo: number, hi: number) => uniform(random, lo, hi);
  const logBetween = (lo: number, hi: number) => logUniform(random, lo, hi);
  const phases: LoadPhase[] = [];
  for (let covered = 0, i = 0; covered < totalMs; i++) {
    let phase: LoadPhase;
    if (shape === 'profile') phase = { ms: opts.profilePhaseMs ?? 60_000, rate: PROFILE_RATES[i % PROFILE_RATES.length]! };
    else if (shape === 'stationary') phase = { ms: Math.round(between(60, 150)) * 1000, rate: Math.round(logBetween(low, high)) };
    else if (random() < 0.3) phase = { ms: Math.round(between(20, 60)) * 1000, rate: Math.round(between(150, 250)) };
    else phase = { ms: Math.round(between(40, 120)) * 1000, rate: Math.round(between(3, 15)) };
    phases.push(phase);
    covered += phase.ms;
  }
  return phases;
}
