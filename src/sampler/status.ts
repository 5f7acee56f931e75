/**
 * Turns the rows of one SHOW GLOBAL STATUS query into a typed node status. Pure: no I/O.
 */

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
}

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

function parseCounter(variable: string, value: string | undefined): number {
  if (value === undefined) throw new StatusValueError(`${variable} is missing from SHOW GLOBAL STATUS (is wsrep enabled?)`);
  if (!/^\d+$/.test(value.trim())) throw new StatusValueError(`${variable} has a non-numeric value "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new StatusValueError(`${variable} value ${value} is beyond 2^53`);
  return n;
}

function parseOptionalNumber(variable: string, value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new StatusValueError(`${variable} has a non-numeric value "${value}"`);
  return n;
}

/** Builds a NodeStatus from SHOW GLOBAL STATUS rows ({Variable_name, Value}). */
export function parseStatusRows(rows: ReadonlyArray<{ Variable_name: string; Value: string | null }>): NodeStatus {
  const v = new Map<string, string>();
  for (const row of rows) v.set(row.Variable_name.toLowerCase(), row.Value ?? '');
  const get = (name: string) => v.get(name.toLowerCase());
  const lastCommitted = get('wsrep_last_committed');
  // A server with wsrep off still answers, but has none of these: say so plainly.
  if (lastCommitted === undefined && get('wsrep_local_state_comment') === undefined) {
    throw new StatusValueError('no wsrep status variables: this server is not a Galera node (wsrep_on=OFF or no provider)');
  }
  const cachedDownto = get('wsrep_local_cached_downto');
  return {
    receivedBytes: parseCounter('wsrep_received_bytes', get('wsrep_received_bytes')),
    replicatedBytes: parseCounter('wsrep_replicated_bytes', get('wsrep_replicated_bytes')),
    received: parseCounter('wsrep_received', get('wsrep_received')),
    replicated: parseCounter('wsrep_replicated', get('wsrep_replicated')),
    // -1 before the node has joined anything; treat it as "nothing committed yet".
    lastCommitted: lastCommitted?.trim() === '-1' ? 0 : parseCounter('wsrep_last_committed', lastCommitted),
    cachedDownto: cachedDownto === undefined ? null : parseCachedDownto(cachedDownto),
    localState: get('wsrep_local_state_comment') ?? 'Unknown',
    clusterStatus: get('wsrep_cluster_status') ?? 'Unknown',
    clusterSize: parseOptionalNumber('wsrep_cluster_size', get('wsrep_cluster_size')) ?? 0,
    localStateUuid: get('wsrep_local_state_uuid') ?? '',
    clusterStateUuid: get('wsrep_cluster_state_uuid') ?? '',
    segment: parseOptionalNumber('wsrep_gmcast_segment', get('wsrep_gmcast_segment')),
    flowControlPaused: parseOptionalNumber('wsrep_flow_control_paused', get('wsrep_flow_control_paused')),
    uptimeSeconds: parseCounter('Uptime', get('uptime')),
  };
}
