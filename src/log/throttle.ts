/**
 * Logs a recurring error at most once per interval per key, with how many were left out: a
 * full disk or a locked database fails every cycle, and one line a minute says as much.
 */
import type { Logger } from './logger.js';
import { MINUTE_MS } from '../units/time.js';

export function throttled(log: Logger, intervalMs = MINUTE_MS, now: () => number = Date.now) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key: string, msg: string, fields: Record<string, unknown> = {}): void => {
    const t = now();
    const seen = last.get(key);
    if (seen && t - seen.at < intervalMs) {
      seen.suppressed++;
      return;
    }
    log.error(msg, seen && seen.suppressed > 0 ? { ...fields, suppressedSinceLast: seen.suppressed } : fields);
    last.set(key, { at: t, suppressed: 0 });
  };
}
