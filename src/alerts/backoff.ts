/**
 * Retry timing for deliveries: exponential backoff with jitter, and a circuit breaker per sink so
 * that a receiver that keeps failing is left alone for a while instead of being hammered (and
 * instead of eating the time of every notification queued for it). Pure, apart from the clock
 * and random source passed in.
 */

/** Exponential backoff with ±50% jitter, capped; a receiver's Retry-After wins when longer. */
export function backoffMs(attempts: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  const base = Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1));
  const jittered = base * (0.5 + random());
  return Math.max(jittered, retryAfterMs ?? 0);
}

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failuresToOpen: number;
  /** How long the first opening lasts; each reopening doubles it, up to maxOpenMs. */
  openMs: number;
  maxOpenMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failuresToOpen: 5, openMs: 15_000, maxOpenMs: 300_000 };

/**
 * closed: every due notification is sent; open: nothing is sent until `openUntil`; then one trial
 * send (half-open) closes it on success or reopens it for twice as long on failure.
 */
export class CircuitBreaker {
  private failures = 0;
  private openings = 0;
  private openUntilMs: number | null = null;

  constructor(private readonly options: BreakerOptions = DEFAULT_BREAKER) {}

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openUntilMs === null) return 'closed';
    return this.openUntilMs > Date.now() ? 'open' : 'half-open';
  }

  /** When sending may resume, or null when it may now. */
  blockedUntil(now: number): number | null {
    return this.openUntilMs !== null && this.openUntilMs > now ? this.openUntilMs : null;
  }

  /** Records a success; returns true when this closed an open circuit. */
  success(): boolean {
    const wasOpen = this.openUntilMs !== null;
    this.failures = 0;
    this.openings = 0;
    this.openUntilMs = null;
    return wasOpen;
  }

  /** Records a failure; returns the time the circuit stays open until when this opened it. */
  failure(now: number): number | null {
    this.failures++;
    const halfOpen = this.openUntilMs !== null;
    if (!halfOpen && this.failures < this.options.failuresToOpen) return null;
    this.openings++;
    this.openUntilMs = now + Math.min(this.options.maxOpenMs, this.options.openMs * 2 ** (this.openings - 1));
    return this.openUntilMs;
  }
}
