/**
 * The column table of a sample: where each field of a StoredSample and of its NodeStatus is
 * stored. The statements that write and read samples, and the mapping between a StoredSample and
 * its row, are generated from it.
 *
 * A new sampled status variable is one line in STATUS_COLUMNS (the compiler asks for it: every
 * NodeStatus field must be listed) and its column in a new migration;
 * test/unit/store-columns.test.ts checks that the two agree and that every field round-trips.
 */
import type { NodeStatus } from '../sampler/status.js';
import type { StoredSample } from './samples.js';
import { compileFromRow, compileToRow, insertSql, storedFields, type FieldColumn, type FieldTable, type Row, type RowLayout } from './columns.js';

export interface StatusColumn extends FieldColumn {
  /**
   * Constant within an epoch (the state uuids), so stored once per epoch in `node_epochs` rather
   * than in every sample, and joined back when samples are read.
   */
  readonly perEpoch?: true;
}

/** The sample's own fields, in `samples`. */
export const SAMPLE_COLUMNS: FieldTable<Omit<StoredSample, 'status'>> = {
  cluster: { column: 'cluster' },
  node: { column: 'node' },
  takenAt: { column: 'taken_at' },
  epoch: { column: 'epoch' },
  durationMs: { column: 'duration_ms', round: true },
};

/** The status variables, in `samples` unless `perEpoch`. */
export const STATUS_COLUMNS: FieldTable<NodeStatus, StatusColumn> = {
  receivedBytes: { column: 'received_bytes' },
  replicatedBytes: { column: 'replicated_bytes' },
  received: { column: 'received' },
  replicated: { column: 'replicated' },
  lastCommitted: { column: 'last_committed' },
  cachedDownto: { column: 'cached_downto' },
  localState: { column: 'local_state' },
  clusterStatus: { column: 'cluster_status' },
  clusterSize: { column: 'cluster_size' },
  localStateUuid: { column: 'local_state_uuid', perEpoch: true, ifNull: '' },
  clusterStateUuid: { column: 'cluster_state_uuid', perEpoch: true, ifNull: '' },
  segment: { column: 'segment' },
  flowControlPaused: { column: 'flow_control_paused' },
  uptimeSeconds: { column: 'uptime' },
  // Not stored: the exact 64-bit counters exist only in samples just read from a server.
  exact: null,
};

// --- generated from the tables above ---------------------------------------------------------

const sampleFields = storedFields(SAMPLE_COLUMNS);
const statusFields = storedFields(STATUS_COLUMNS);
const epochColumns = statusFields.filter(([, c]) => c.perEpoch).map(([, c]) => c.column);

/** The columns of `samples` and of `node_epochs` the tables name. */
export const SAMPLES_TABLE_COLUMNS: readonly string[] = [...sampleFields, ...statusFields.filter(([, c]) => !c.perEpoch)].map(([, c]) => c.column);
export const NODE_EPOCHS_TABLE_COLUMNS: readonly string[] = ['cluster', 'node', 'epoch', ...epochColumns];

export const INSERT_SAMPLE_SQL = insertSql('INSERT OR REPLACE', 'samples', SAMPLES_TABLE_COLUMNS);

/** Writes a node's epoch row, and rewrites it only when a per-epoch value changed. */
export const UPSERT_EPOCH_SQL = `${insertSql('INSERT', 'node_epochs', NODE_EPOCHS_TABLE_COLUMNS)}
  ON CONFLICT (cluster, node, epoch) DO UPDATE SET ${epochColumns.map((c) => `${c} = excluded.${c}`).join(', ')}
  WHERE ${epochColumns.map((c) => `${c} != excluded.${c}`).join(' OR ')}`;

/** The start of every sample read: each sample with its epoch's values joined (`s` is samples). */
export const SELECT_SAMPLES_SQL = `SELECT s.*, ${epochColumns.map((c) => `e.${c}`).join(', ')}
  FROM samples s LEFT JOIN node_epochs e ON e.cluster = s.cluster AND e.node = s.node AND e.epoch = s.epoch`;

const layout: RowLayout = { fields: sampleFields, nested: { status: statusFields } };

/** The named parameters of both statements: every column of `samples` and of `node_epochs`. */
export const sampleToRow: (s: StoredSample) => Row = compileToRow(layout);

export const sampleFromRow: (row: Row) => StoredSample = compileFromRow(layout);

/** What identifies a row's epoch values: when it changes for a node, its epoch row is written. */
export function epochRowKey(row: Row): string {
  let key = String(row.epoch);
  for (const c of epochColumns) key += `\u0000${row[c]}`;
  return key;
}
