/**
 * JSON-lines logger on stderr. Every string of a record (message, fields, nested objects, Error
 * messages) passes through the secret scrubber before it is serialised, and the final line once
 * more, so a password or webhook URL that ends up in an error message from a library is still
 * never written out. Scrubbing before serialising matters: JSON escapes `"` and `\`, so a secret
 * containing them no longer appears verbatim in the serialised line.
 */

type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVEL_ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const secrets = new Set<string>();

/** Registers a value that must never appear in any output. Very short values are ignored to avoid scrubbing noise. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** Replaces every registered secret in `text` with "***". */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('***');
  }
  return out;
}

/** Like scrubSecrets, also for each secret as it reads once escaped inside a JSON string. */
function scrubSerialised(line: string): string {
  let out = scrubSecrets(line);
  for (const secret of secrets) {
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret && out.includes(escaped)) out = out.split(escaped).join('***');
  }
  return out;
}

/**
 * A copy of a log value with every string scrubbed, keys included. An Error becomes
 * { message, code }: its stack and own properties could carry anything. A value seen twice on
 * the current path (a cycle) becomes "[Circular]" instead of failing the log call.
 */
function scrubValue(value: unknown, path: Set<object> = new Set()): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (path.has(value)) return '[Circular]';
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return { message: scrubSecrets(value.message), code: typeof code === 'string' ? scrubSecrets(code) : code };
  }
  // Dates, Buffers and the like serialise through toJSON; scrub what they turn into.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return scrubValue(toJSON.call(value), path);
  path.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => scrubValue(item, path));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[scrubSecrets(key)] = scrubValue(item, path);
    return out;
  } finally {
    path.delete(value);
  }
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: Level;
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}, bound: Record<string, unknown> = {}): Logger {
  const minimum = LEVEL_ORDER[options.level ?? (process.env.LOG_LEVEL as Level | undefined) ?? 'info'] ?? LEVEL_ORDER.info;
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVEL_ORDER[level] < minimum) return;
    const record = { time: new Date().toISOString(), level, msg, ...bound, ...fields };
    write(scrubSerialised(JSON.stringify(scrubValue(record))));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}
