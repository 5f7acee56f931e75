/**
 * Reads the gcache settings out of @@wsrep_provider_options. Pure: no I/O.
 *
 * Galera prints the options as "key = value; key = value; ". Values may be escaped with a
 * backslash (a literal ';' in a path, for instance).
 */
import { parseGaleraBool, parseSize, quoteValue, UnitParseError } from '../units/parse.js';

export interface GcacheSettings {
  sizeBytes: number;
  pageSizeBytes: number;
  keepPagesSizeBytes: number;
  recover: boolean;
  segment: number;
}

/** Galera 4's defaults, used when an option is absent (Galera 3 defaults gcache.recover to no). */
const DEFAULTS = { size: '128M', pageSize: '128M', keepPagesSize: '0', recover: 'no', segment: '0' };

export function splitProviderOptions(text: string): Map<string, string> {
  const options = new Map<string, string>();
  let current = '';
  const pairs: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
    } else if (ch === ';') {
      pairs.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  pairs.push(current);
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim();
    if (key) options.set(key, pair.slice(eq + 1).trim());
  }
  return options;
}

export class ProviderOptionsError extends Error {
  override name = 'ProviderOptionsError';
}

export function parseGcacheSettings(providerOptions: string): GcacheSettings {
  const options = splitProviderOptions(providerOptions);
  const read = <T>(key: string, fallback: string, parse: (v: string) => T): T => {
    const value = options.get(key) ?? fallback;
    try {
      return parse(value);
    } catch (err) {
      throw new ProviderOptionsError(`wsrep_provider_options ${key}: ${(err as UnitParseError).message}`);
    }
  };
  return {
    sizeBytes: read('gcache.size', DEFAULTS.size, parseSize),
    pageSizeBytes: read('gcache.page_size', DEFAULTS.pageSize, parseSize),
    keepPagesSizeBytes: read('gcache.keep_pages_size', DEFAULTS.keepPagesSize, parseSize),
    recover: read('gcache.recover', DEFAULTS.recover, parseGaleraBool),
    segment: read('gmcast.segment', DEFAULTS.segment, (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 255) throw new UnitParseError(`expected a segment number 0-255, got ${quoteValue(v)}`);
      return n;
    }),
  };
}
