/**
 * Turns the rows of one SHOW GLOBAL STATUS query into a typed node status. Pure: no I/O.
 */
import { quoteValue } from '../units/parse.js';

/** Every status variable a sample reads, in one query. */
export const STATUS_VARIABLES = [
  'wsrep_received_bytes',
  'wsrep_replicated_bytes',
  'wsrep_received',
  'wsrep_replicated',
  'wsrep_last_committed',
  'wsrep_local_cached_downto',
  'wsrep_local_state_comment',
  'wsrep_cluster_status',
  'wsrep_cluster_size',
  'wsrep_local_state_uuid',
  'wsrep_cluster_state_uuid',
  'wsrep_gmcast_segment',
  'wsrep_flow_control_paused',
  'Uptime',
] as const;

export interface NodeStatus {
  receivedBytes: number;
  replicatedBytes: number;
  received: number;
  replicated: number;
  lastCommitted: number;
  /** Lowest seqno in the gcache, or null when the gcache is empty. */
  cachedDownto: number | null;
  localState: string;
  clusterStatus: string;
  clusterSize: number;
  localStateUuid: string;
  clusterStateUuid: string;
  segment: number | null;
  flowControlPaused: number | null;
  uptimeSeconds: number;
  /**
   * The counters exactly as the server reported them. Galera's counters are unsigned 64-bit;
   * the number fields above are doubles, exact only up to 2^53, so deltas and the backwards
   * checks use these when they are present (they are not stored: samples reloaded from SQLite
   * have only the numbers). See exactCounter().
   */
  exact?: ExactCounters;
}

/** The counters whose deltas matter: bytes and write-sets, and the seqno. */
export const EXACT_COUNTERS = ['receivedBytes', 'replicatedBytes', 'received', 'replicated', 'lastCommitted'] as const;
export type ExactCounterName = (typeof EXACT_COUNTERS)[number];
export type ExactCounters = Record<ExactCounterName, bigint>;

/** The largest value of an unsigned 64-bit counter. */
export const MAX_COUNTER = 2n ** 64n - 1n;

export class StatusValueError extends Error {
  override name = 'StatusValueError';
}

/**
 * The three spellings of "the gcache is empty": unsigned -1 (older MariaDB and Galera docs),
 * -1 (MariaDB 10.4+ through wsrep-lib) and 0 (Percona XtraDB Cluster). No real seqno is ever
 * 0 or negative: seqnos start at 1.
 */
export function parseCachedDownto(value: string): number | null {
  const text = value.trim();
  if (text === '18446744073709551615' || text === '-1' || text === '0') return null;
  const n = parseCounter('wsrep_local_cached_downto', text);
  return n;
}

// Made once: a regular expression literal in a function is a new object at every call, and these
// run for five counters of every node in every cycle.
const NEGATIVE_INTEGER = /^-\d+$/;
const DIGITS = /^\d+$/;
const LEADING_ZEROS = /^0+(?=\d)/;

/** A counter within unsigned 64 bits, exactly; anything else is a bad value named with the variable. */
function parseExactCounter(variable: string, value: string | undefined): bigint {
  if (value === undefined) throw new StatusValueError(`${variable} is missing from SHOW GLOBAL STATUS (is wsrep enabled?)`);
  const text = value.trim();
  if (NEGATIVE_INTEGER.test(text)) throw new StatusValueError(`${variable} has a negative value ${quoteValue(text)}`);
  if (!DIGITS.test(text)) throw new StatusValueError(`${variable} has a non-numeric value ${quoteValue(value)}`);
  // Leading zeros aside, more than 20 digits is beyond 2^64 whatever they are: no need to build the BigInt.
  const digits = text.replace(LEADING_ZEROS, '');
  const n = digits.length > 20 ? null : BigInt(digits);
  if (n === null || n > MAX_COUNTER) throw new StatusValueError(`${variable} value ${quoteValue(text).slice(1, -1)} is beyond 2^64-1`);
  return n;
}

function parseCounter(variable: string, value: string | undefined): number {
  // A double is imprecise by at most its ULP beyond 2^53: harmless for a rate at that magnitude.
  return Number(parseExactCounter(variable, value));
}

/**
 * The exact value of one counter of a status: the one the server reported while it still matches
 * the number field (a copy whose number was changed no longer uses it), else the number itself
 * (exact below 2^53). Null when the number is not an integer at all.
 */
export function exactCounter(status: NodeStatus, name: ExactCounterName): bigint | null {
  const n = status[name];
  const exact = status.exact?.[name];
  if (exact !== undefined && Number(exact) === n) return exact;
  return Number.isInteger(n) ? BigInt(n) : null;
}

/** Exact counters that survive JSON.stringify (as decimal strings): `sample --once` prints statuses. */
function exactCounters(values: ExactCounters): ExactCounters {
  return Object.defineProperty(values, 'toJSON', EXACT_COUNTERS_TO_JSON);
}

/** One descriptor and one function for every status (not a closure each): toJSON reads the counters off `this`. */
const EXACT_COUNTERS_TO_JSON: PropertyDescriptor = {
  enumerable: false,
  value(this: ExactCounters) {
    return Object.fromEntries(EXACT_COUNTERS.map((k) => [k, this[k].toString()]));
  },
};

function parseOptionalNumber(variable: string, value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new StatusValueError(`${variable} has a non-numeric value ${quoteValue(value)}`);
  return n;
}

/** Each status variable's place in STATUS_VARIABLES, under its name as spelt there and in lower case (one key when they are the same). */
const STATUS_INDEX = new Map<string, number>(STATUS_VARIABLES.flatMap((name, i) => [[name, i] as const, [name.toLowerCase(), i] as const]));

/** Builds a NodeStatus from SHOW GLOBAL STATUS rows ({Variable_name, Value}). */
export function parseStatusRows(rows: ReadonlyArray<{ Variable_name: string; Value: string | null }>): NodeStatus {
  // By position rather than in a Map: only the variables asked for are ever read, and the server
  // spells most of them in lower case already (Uptime aside), so few names need lowering.
  const values = new Array<string | undefined>(STATUS_VARIABLES.length);
  for (const row of rows) {
    const i = STATUS_INDEX.get(row.Variable_name) ?? STATUS_INDEX.get(row.Variable_name.toLowerCase());
    if (i !== undefined) values[i] = row.Value ?? '';
  }
  const get = (name: (typeof STATUS_VARIABLES)[number]) => values[STATUS_INDEX.get(name)!];
  const lastCommitted = get('wsrep_last_committed');
  // A server with wsrep off still answers, but has none of these: say so plainly.
  if (lastCommitted === undefined && get('wsrep_local_state_comment') === undefined) {
    throw new StatusValueError('no wsrep status variables: this server is not a Galera node (wsrep_on=OFF or no provider)');
  }
  const cachedDownto = get('wsrep_local_cached_downto');
  const exact = exactCounters({
    receivedBytes: parseExactCounter('wsrep_received_bytes', get('wsrep_received_bytes')),
    replicatedBytes: parseExactCounter('wsrep_replicated_bytes', get('wsrep_replicated_bytes')),
    received: parseExactCounter('wsrep_received', get('wsrep_received')),
    replicated: parseExactCounter('wsrep_replicated', get('wsrep_replicated')),
    // -1 before the node has joined anything; treat it as "nothing committed yet".
    lastCommitted: lastCommitted?.trim() === '-1' ? 0n : parseExactCounter('wsrep_last_committed', lastCommitted),
  });
  return {
    receivedBytes: Number(exact.receivedBytes),
    replicatedBytes: Number(exact.replicatedBytes),
    received: Number(exact.received),
    replicated: Number(exact.replicated),
    lastCommitted: Number(exact.lastCommitted),
    cachedDownto: cachedDownto === undefined ? null : parseCachedDownto(cachedDownto),
    localState: get('wsrep_local_state_comment') ?? 'Unknown',
    clusterStatus: get('wsrep_cluster_status') ?? 'Unknown',
    clusterSize: parseOptionalNumber('wsrep_cluster_size', get('wsrep_cluster_size')) ?? 0,
    localStateUuid: get('wsrep_local_state_uuid') ?? '',
    clusterStateUuid: get('wsrep_cluster_state_uuid') ?? '',
    segment: parseOptionalNumber('wsrep_gmcast_segment', get('wsrep_gmcast_segment')),
    flowControlPaused: parseOptionalNumber('wsrep_flow_control_paused', get('wsrep_flow_control_paused')),
    uptimeSeconds: parseCounter('Uptime', get('Uptime')),
    exact,
  };
}
