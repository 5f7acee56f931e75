/**
 * Loads the YAML config file, applies environment overrides, validates it against the schema
 * and resolves passwords. Any problem becomes one ConfigError line that names the key and what
 * was expected; the CLI turns it into exit code 2 before anything starts.
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import YAML from 'yaml';
import { configSchema, type ParsedConfig } from './schema.js';
import type { SinkType } from '../sinks/registry.js';
import { registerSecret } from '../log/logger.js';
import { parseHostPort } from './addresses.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly exitCode = 2;
}

/** A password that never shows itself in logs, JSON or string interpolation. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    registerSecret(value);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret(***)';
  }
}

export interface NodeTarget {
  cluster: string;
  name: string;
  host?: string;
  port: number;
  socket?: string;
  user: string;
  password: Secret;
  /** ca, cert and key are absolute paths, checked readable when the config was loaded. */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean; verifyIdentity: boolean };
  /** Found by member discovery rather than listed in the config. */
  discovered?: boolean;
  /** Absent from the cluster's membership (and DNS) for longer than discovery.departAfter. */
  departed?: boolean;
}

/** What a discovered member connects with: the cluster's `connection`, resolved like a node's. */
export type DiscoveryConnection = Pick<NodeTarget, 'port' | 'user' | 'password' | 'tls'>;

export type DiscoveryConfig = ({ seeds: Array<{ host: string; port: number }> } | { dns: string; port: number; dnsServer: string | null }) & {
  departAfterSeconds: number;
  connection: DiscoveryConnection;
};

export interface ClusterConfig {
  name: string;
  targetWindowSeconds: number;
  maintenanceAllowanceSeconds: number;
  /** With discovery, starts empty and is kept up to date in place by Membership. */
  nodes: NodeTarget[];
  discovery: DiscoveryConfig | null;
}

export interface SinkConfig {
  name: string;
  type: SinkType;
  url: Secret;
  hmacSecret: Secret | null;
  severities: string[] | null;
  clusters: string[] | null;
  timeoutSeconds: number;
}

export interface Config {
  source: string;
  /** The clusters this instance watches: all of them, or its shard's share. */
  clusters: ClusterConfig[];
  sharding: { index: number; count: number; totalClusters: number };
  sampling: { schedule: string; timeoutSeconds: number; concurrency: number };
  horizons: { shortSeconds: number; longSeconds: number };
  storage: { path: string; retention: { rawSeconds: number; rollupSeconds: number }; cacheSize: number };
  http: { host: string; port: number; token: Secret | null };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
  rules: { dir: string };
  alerting: { repeatIntervalSeconds: number; alertmanagerResendSeconds: number; expireAfterSeconds: number; sinks: SinkConfig[] };
}

export const ENV_PREFIX = 'GCACHE_ADVISOR_';

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfig(readConfigText(file), file, env);
}

/**
 * Only what a client of the daemon needs (can-leave): the address it listens on and its API
 * token. The whole file is still checked, but no node's password or sink's secret is read, so
 * the machine that asks need not hold them.
 */
export function loadHttpSettings(file: string, env: NodeJS.ProcessEnv = process.env): Config['http'] {
  return resolveHttp(validateConfig(readConfigText(file), file, env).http, baseDirOf(file), env);
}

function readConfigText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config error: cannot read ${displayPath(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  return resolve(validateConfig(text, source, env), source, env);
}

/** The YAML with the environment's overrides applied, checked against the schema; nothing resolved yet. */
function validateConfig(text: string, source: string, env: NodeJS.ProcessEnv): ParsedConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const e = err as Error & { linePos?: Array<{ line: number; col: number }> };
    const where = e.linePos?.[0] ? `:${e.linePos[0].line}:${e.linePos[0].col}` : '';
    // The YAML reader recurses: a document nested a thousand levels deep exhausts the stack; say so in words.
    throw new ConfigError(`config error: ${source}${where}: invalid YAML: ${firstLine(e.message).replace(/Maximum call stack size exceeded/, 'nested too deeply')}`);
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config error: ${source}: expected a mapping at the top level`);
  applyEnvOverrides(raw as Record<string, unknown>, env);

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`config error: ${source}: ${describeIssue(issue)}`);
  }
  return result.data;
}

/**
 * GCACHE_ADVISOR_<PATH>=value overrides one key. Path segments are separated by a double
 * underscore and matched without regard to case or single underscores, so
 * GCACHE_ADVISOR_STORAGE__PATH sets storage.path and GCACHE_ADVISOR_CLUSTERS__0__TARGET_WINDOW
 * sets clusters[0].targetWindow. The value is read as YAML, so numbers and booleans keep their type.
 * Only variables whose first segment names a section of the config are overrides: others under
 * the same prefix (GCACHE_ADVISOR_DB_PASSWORD, say) belong to the user.
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const sections = Object.keys(configSchema.shape);
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || value === undefined) continue;
    const segments = key.slice(ENV_PREFIX.length).split('__').filter(Boolean);
    if (segments.length === 0 || !matchKey(Object.fromEntries(sections.map((s) => [s, true])), segments[0]!)) continue;
    let target: Record<string, unknown> | unknown[] = raw;
    const at: Array<string | number> = [];
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const last = i === segments.length - 1;
      let k: string | number;
      if (Array.isArray(target)) {
        k = Number(segment);
        // Bounded: an index such as 4294967294 would make a list that validation walks for minutes.
        if (!/^\d+$/.test(segment) || k > MAX_ENV_LIST_INDEX) throw new ConfigError(`config error: ${key}: "${segment}" is not a list index (0 to ${MAX_ENV_LIST_INDEX})`);
      } else {
        k = matchKey(target, segment) ?? camelCase(segment);
      }
      at.push(k);
      if (last) {
        setOwn(target, k, parseEnvValue(value));
        break;
      }
      // Own values only: "constructor" or "prototype" must never lead to Object.prototype.
      const current = Object.hasOwn(target, k) ? (target as Record<string | number, unknown>)[k] : undefined;
      if (current === undefined || current === null) {
        const created = /^\d+$/.test(segments[i + 1]!) ? [] : {};
        setOwn(target, k, created);
        target = created;
      } else if (typeof current === 'object') {
        target = current as Record<string, unknown> | unknown[];
      } else {
        throw new ConfigError(`config error: ${key}: ${formatPath(at)} is a value, not a section or a list`);
      }
    }
  }
}

/** The highest list index an environment override may name; far beyond any real list of clusters, nodes or sinks. */
const MAX_ENV_LIST_INDEX = 999;

/** Sets an own property, even one named like a prototype member ("__proto__" included). */
function setOwn(target: Record<string, unknown> | unknown[], key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function parseEnvValue(value: string): unknown {
  try {
    return YAML.parse(value);
  } catch {
    return value;
  }
}

function matchKey(object: Record<string, unknown>, segment: string): string | undefined {
  const wanted = segment.replace(/_/g, '').toLowerCase();
  return Object.keys(object).find((k) => k.replace(/_/g, '').toLowerCase() === wanted);
}

function camelCase(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** How many unknown keys one message lists. */
const MAX_KEYS_NAMED = 5;

function describeIssue(issue: { path: PropertyKey[]; message: string; code: string; keys?: string[] }): string {
  const at = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    // A handful of keys, each cut short: a file with a thousand stray keys still gets a one-line message.
    const keys = issue.keys.slice(0, MAX_KEYS_NAMED).map((k) => (at ? `${at}.${cut(k, 64)}` : cut(k, 64)));
    const more = issue.keys.length > MAX_KEYS_NAMED ? ` (and ${issue.keys.length - MAX_KEYS_NAMED} more)` : '';
    const hint = issue.keys.includes('password') ? ' (put the password in an environment variable or file: passwordEnv or passwordFile)' : '';
    return `${keys.join(', ')}: unknown key${more}${hint}`;
  }
  return `${at || '(top level)'}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

export function formatPath(segments: PropertyKey[]): string {
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`)).join('');
}

function resolveHttp(http: ParsedConfig['http'], baseDir: string, env: NodeJS.ProcessEnv): Config['http'] {
  const [, host, port] = /^\[?(.*?)\]?:(\d+)$/.exec(http.listen)!;
  const token = http.tokenEnv || http.tokenFile ? readSecret(`http.${http.tokenEnv ? 'tokenEnv' : 'tokenFile'}`, http.tokenEnv, http.tokenFile, env, baseDir) : null;
  return { host: host!, port: Number(port), token };
}

/** The folder that the config's relative paths (password files, TLS files) are relative to. */
function baseDirOf(source: string): string {
  return path.dirname(path.resolve(source));
}

function resolve(parsed: ParsedConfig, source: string, env: NodeJS.ProcessEnv): Config {
  const baseDir = baseDirOf(source);
  const clusters = parsed.clusters.map((c, ci) => ({
    name: c.name,
    targetWindowSeconds: c.targetWindow,
    maintenanceAllowanceSeconds: c.maintenanceAllowance,
    discovery: c.discovery ? resolveDiscovery(c.discovery, c.connection, `clusters[${ci}].connection`, env, baseDir) : null,
    nodes: (c.nodes ?? []).map((n, ni): NodeTarget => {
      const at = `clusters[${ci}].nodes[${ni}]`;
      const passwordEnv = n.passwordEnv ?? (n.passwordFile ? undefined : c.connection.passwordEnv);
      const passwordFile = n.passwordFile ?? (n.passwordEnv ? undefined : c.connection.passwordFile);
      const tls = n.tls ?? c.connection.tls;
      return {
        cluster: c.name,
        name: n.name,
        ...(n.host ? { host: n.host } : {}),
        ...(n.socket ? { socket: n.socket } : {}),
        port: n.port ?? c.connection.port ?? 3306,
        user: (n.user ?? c.connection.user)!,
        password: readSecret(`${at}.${passwordEnv ? 'passwordEnv' : 'passwordFile'}`, passwordEnv, passwordFile, env, baseDir),
        ...(tls ? { tls: resolveTlsFiles(n.tls ? `${at}.tls` : `clusters[${ci}].connection.tls`, tls, baseDir) } : {}),
      };
    }),
  }));
  const mine = clusters.filter((c) => shardOf(c.name, parsed.sharding.count) === parsed.sharding.index);
  return {
    source,
    clusters: mine,
    sharding: { ...parsed.sharding, totalClusters: clusters.length },
    sampling: { schedule: parsed.sampling.schedule, timeoutSeconds: parsed.sampling.timeout, concurrency: parsed.sampling.concurrency },
    horizons: { shortSeconds: parsed.horizons.short, longSeconds: parsed.horizons.long },
    storage: {
      path: path.resolve(parsed.storage.path),
      retention: { rawSeconds: parsed.storage.retention.raw, rollupSeconds: parsed.storage.retention.rollups },
      cacheSize: parsed.storage.cacheSize,
    },
    http: resolveHttp(parsed.http, baseDir, env),
    log: parsed.log,
    rules: { dir: path.resolve(parsed.rules.dir) },
    alerting: {
      repeatIntervalSeconds: parsed.alerting.repeatInterval,
      alertmanagerResendSeconds: parsed.alerting.alertmanagerResend,
      expireAfterSeconds: parsed.alerting.expireAfter,
      sinks: parsed.alerting.sinks.map((s, i): SinkConfig => {
        const at = `alerting.sinks[${i}]`;
        return {
          name: s.name,
          type: s.type,
          // Even a URL written in the file is kept as a secret: Slack and many webhook URLs carry a token.
          url: s.url ? new Secret(s.url) : readSecret(`${at}.${s.urlEnv ? 'urlEnv' : 'urlFile'}`, s.urlEnv, s.urlFile, env, baseDir),
          hmacSecret: s.secretEnv || s.secretFile ? readSecret(`${at}.${s.secretEnv ? 'secretEnv' : 'secretFile'}`, s.secretEnv, s.secretFile, env, baseDir) : null,
          severities: s.severities ?? null,
          clusters: s.clusters ?? null,
          timeoutSeconds: s.timeout,
        };
      }),
    },
  };
}

/** The discovery settings with every port filled in and the cluster connection resolved for the members to come. */
function resolveDiscovery(
  d: NonNullable<ParsedConfig['clusters'][number]['discovery']>,
  connection: ParsedConfig['clusters'][number]['connection'],
  at: string,
  env: NodeJS.ProcessEnv,
  baseDir: string,
): DiscoveryConfig {
  const port = d.port ?? connection.port ?? 3306;
  const resolved: DiscoveryConnection = {
    port,
    user: connection.user!,
    password: readSecret(`${at}.${connection.passwordEnv ? 'passwordEnv' : 'passwordFile'}`, connection.passwordEnv, connection.passwordFile, env, baseDir),
    ...(connection.tls ? { tls: resolveTlsFiles(`${at}.tls`, connection.tls, baseDir) } : {}),
  };
  const common = { departAfterSeconds: d.departAfter, connection: resolved };
  if (d.seeds) return { seeds: d.seeds.map((s) => parseHostPort(s, port)), ...common };
  return { dns: d.dns!, port, dnsServer: d.dnsServer ?? null, ...common };
}

/**
 * Makes the TLS file paths absolute (relative to the config file, like passwordFile) and checks
 * now that each can be read: a missing CA file is a mistake in the config, to be named at start,
 * not a node that looks unreachable on every cycle.
 */
function resolveTlsFiles(at: string, tls: NonNullable<NodeTarget['tls']>, baseDir: string): NonNullable<NodeTarget['tls']> {
  const resolved = { ...tls };
  for (const kind of ['ca', 'cert', 'key'] as const) {
    const file = tls[kind];
    if (!file) continue;
    const full = path.resolve(baseDir, file);
    try {
      fs.readFileSync(full);
    } catch (err) {
      throw new ConfigError(`config error: ${at}.${kind}: cannot read ${displayPath(full)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    resolved[kind] = full;
  }
  return resolved;
}

/**
 * The shard a cluster belongs to: a hash of its name, so that every instance of a sharded
 * deployment agrees without talking to the others, and a restart keeps the assignment. Adding a
 * shard moves some clusters (their history stays in the old shard's database until retention).
 */
export function shardOf(clusterName: string, count: number): number {
  if (count <= 1) return 0;
  return createHash('sha256').update(clusterName).digest().readUInt32BE(0) % count;
}

/** Reads a secret (password, token) from an environment variable or a file; `at` names the key for errors. */
function readSecret(at: string, envName: string | undefined, file: string | undefined, env: NodeJS.ProcessEnv, baseDir: string): Secret {
  if (envName) {
    const value = env[envName];
    if (value === undefined) throw new ConfigError(`config error: ${at}: environment variable ${cut(envName)} is not set`);
    return new Secret(value);
  }
  const full = path.resolve(baseDir, file!);
  try {
    // A trailing newline is what editors and `echo` leave behind; it is never part of a secret.
    return new Secret(fs.readFileSync(full, 'utf8').replace(/\r?\n$/, ''));
  } catch (err) {
    throw new ConfigError(`config error: ${at}: cannot read ${displayPath(full)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Text from the file or the environment as it goes into a message: a runaway one is cut short. */
function cut(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A file path as it goes into a message: control characters escaped and cut short, so the message stays one line. */
function displayPath(file: string): string {
  return cut(JSON.stringify(file).slice(1, -1));
}

function firstLine(text: string): string {
  return cut(text.split('\n')[0] ?? text);
}
