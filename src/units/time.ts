/**
 * Lengths of time in milliseconds, the unit of every timestamp the daemon keeps: the one place
 * that says how long a minute is, for the code that buckets, thins and windows history. Pure.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
