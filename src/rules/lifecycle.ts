/**
 * The alert lifecycle, as in Prometheus: inactive → pending (while the condition has held for
 * less than `for`) → firing → resolved. One alert per rule and label set. Pure.
 */

export interface AlertState {
  state: 'pending' | 'firing';
  activeAt: number;
  firedAt: number | null;
  lastNotifiedAt: number | null;
}

export type Transition = 'pending' | 'firing' | 'repeat' | 'resolved' | 'dropped' | null;

/**
 * @returns the next state (null when the alert is inactive again) and what happened:
 *   'firing' and 'resolved' notify; 'repeat' notifies again after repeatSeconds of firing;
 *   'dropped' is a pending alert whose condition went away before `for` elapsed (no notice).
 */
export function step(prev: AlertState | null, active: boolean, now: number, forSeconds: number, repeatSeconds: number): { next: AlertState | null; transition: Transition } {
  if (!active) {
    if (!prev) return { next: null, transition: null };
    return { next: null, transition: prev.state === 'firing' ? 'resolved' : 'dropped' };
  }
  const base: AlertState = prev ?? { state: 'pending', activeAt: now, firedAt: null, lastNotifiedAt: null };
  if (base.state === 'pending') {
    if (now - base.activeAt >= forSeconds * 1000) return { next: { ...base, state: 'firing', firedAt: now, lastNotifiedAt: now }, transition: 'firing' };
    return { next: base, transition: prev ? null : 'pending' };
  }
  if (base.lastNotifiedAt !== null && now - base.lastNotifiedAt >= repeatSeconds * 1000) {
    return { next: { ...base, lastNotifiedAt: now }, transition: 'repeat' };
  }
  return { next: base, transition: null };
}
