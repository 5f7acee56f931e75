/**
 * The one place where durations and sizes are parsed, for the config file, the REST API and
 * the values Galera reports in wsrep_provider_options.
 *
 * Every parser throws a UnitParseError whose message says what was expected, so that callers
 * can prefix it with the name of the key or parameter that held the bad value.
 */

export class UnitParseError extends Error {
  override name = 'UnitParseError';
}

/** The longest part of a bad value repeated in a message: a runaway value must not make a runaway message. */
const MAX_QUOTED_CHARS = 64;

/** A bad value as it goes into a message: cut short, in quotes, control characters escaped so the message stays one line. */
export function quoteValue(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text);
}

const DURATION_UNITS_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
};

const DURATION_EXPECTED = 'a duration such as 90s, 15m, 2h, 7d or 1h30m';

/**
 * Parses a Prometheus-style duration ("90s", "15m", "2h", "1d", "1w", "1h30m", "250ms") into
 * seconds. A bare number is refused on purpose: "60" could mean seconds or minutes, and a
 * config that silently means the other one is worse than one that is rejected.
 */
export function parseDuration(input: string): number {
  const text = String(input).trim();
  if (text === '') throw new UnitParseError(`expected ${DURATION_EXPECTED}, got an empty value`);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let seconds = 0;
  let consumed = 0;
  for (let match = part.exec(text); match; match = part.exec(text)) {
    seconds += Number(match[1]) * DURATION_UNITS_SECONDS[match[2]!]!;
    consumed = part.lastIndex;
  }
  if (consumed !== text.length || consumed === 0) {
    throw new UnitParseError(`expected ${DURATION_EXPECTED}, got ${quoteValue(text)}`);
  }
  // Hundreds of digits make Infinity, which would pass every "greater than zero" check downstream.
  if (!Number.isFinite(seconds)) throw new UnitParseError(`duration ${quoteValue(text)} is too large`);
  return seconds;
}

const SIZE_SHIFT: Record<string, number> = { '': 0, k: 10, m: 20, g: 30, t: 40, p: 50 };
const SIZE_EXPECTED = 'a size such as 134217728, 512K, 128M, 2G or 1T';

/**
 * Parses a size the way Galera's own option parser does: an integer read with C's strtoll in
 * base 0 (so "0x10" is hex and "010" octal), then an optional K/M/G/T suffix in either case,
 * each a power of 1024. For people writing our config we also accept a trailing "B"/"iB"
 * ("512MiB", "2GB") and decimals ("1.5G"), which Galera itself would refuse.
 */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    // Beyond 2^53 a number is no longer exact: the same limit as for a size written as text.
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw new UnitParseError(`expected ${SIZE_EXPECTED}, got ${input}`);
  }
  const text = String(input).trim();
  const match = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*(?:\.\d+)?|0\.\d+)\s*([kKmMgGtTpP]?)(?:i?[bB])?$/.exec(text);
  if (!match) throw new UnitParseError(`expected ${SIZE_EXPECTED}, got ${quoteValue(text)}`);
  const digits = match[1]!;
  let value: number;
  if (/^0[xX]/.test(digits)) value = parseInt(digits.slice(2), 16);
  else if (digits.length > 1 && digits.startsWith('0') && !digits.includes('.')) value = parseInt(digits, 8);
  else value = Number(digits);
  const bytes = Math.round(value * 2 ** SIZE_SHIFT[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new UnitParseError(`size ${quoteValue(text)} is too large`);
  return bytes;
}

/** Parses a yes/no flag the way Galera prints and accepts them. */
export function parseGaleraBool(input: string): boolean {
  const text = input.trim().toLowerCase();
  if (['yes', 'true', 'on', '1'].includes(text)) return true;
  if (['no', 'false', 'off', '0'].includes(text)) return false;
  throw new UnitParseError(`expected yes or no, got ${quoteValue(input)}`);
}
