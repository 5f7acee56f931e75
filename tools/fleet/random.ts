/**
 * A small seeded pseudo-random generator, so that a fleet (and the history seeded for it) is the
 * same on every run with the same seed: a benchmark that changes its load between runs measures
 * nothing. Mulberry32: 32-bit state, good enough spread for load parameters.
 */

export type Random = () => number;

/** A generator of floats in [0, 1) for the given seed and stream (e.g. a cluster index). */
export function seededRandom(seed: number, stream = 0): Random {
  // Mix the stream into the seed so that neighbouring streams do not start correlated.
  return mulberry32((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((stream + 1) >>> 0, 0x85ebca6b)) >>> 0);
}

/** Mulberry32 from a 32-bit starting state. */
export function mulberry32(start: number): Random {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A value spread evenly on a log scale between low and high (for factors and sizes). */
export function logUniform(random: Random, low: number, high: number): number {
  return Math.exp(Math.log(low) + random() * (Math.log(high) - Math.log(low)));
}

export function uniform(random: Random, low: number, high: number): number {
  return low + random() * (high - low);
}

/** A version-4-shaped UUID drawn from the generator (deterministic, not unique across seeds by design). */
export function seededUuid(random: Random): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[Math.floor(random() * 4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
