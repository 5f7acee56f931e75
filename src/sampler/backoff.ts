/**
 * Backoff for nodes that fail. A dead node costs a connection attempt (and, when it hangs, a
 * whole timeout) every cycle; after a failure the sampler leaves it alone for a while, doubling
 * the pause on every further failed attempt up to a cap. The jitter spreads the retries of many
 * nodes that failed together (a network partition) over several cycles. Pure.
 */
import { MINUTE_MS } from '../units/time.js';

export interface BackoffPolicy {
  /** The pause after the first failed attempt: one sampling interval. */
  initialMs: number;
  maxMs: number;
  /** ±this fraction of the pause, at random. */
  jitter: number;
}

export const DEFAULT_MAX_BACKOFF_MS = 5 * MINUTE_MS;
export const DEFAULT_BACKOFF_JITTER = 0.2;

/** The pause after `failedAttempts` consecutive failed attempts (1 or more); `random` is in [0, 1). */
export function backoffDelayMs(failedAttempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const doublings = Math.max(0, failedAttempts - 1);
  // Past 2^30 the cap has long been reached; this also keeps 2 ** n finite.
  const base = Math.min(policy.initialMs * 2 ** Math.min(doublings, 30), policy.maxMs);
  return Math.round(base * (1 + policy.jitter * (2 * random() - 1)));
}
