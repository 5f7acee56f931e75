/**
 * The column tables against the migrated schema: every column they name exists with that name,
 * every column of the tables they describe is named, and a sample round-trips every stored field
 * of NodeStatus. A status variable added to NodeStatus and to the column table but not to a
 * migration (or the other way round) fails here. Real SQLite files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store, type StoredSample } from '../../src/store/store.ts';
import { SAMPLE_COLUMNS, SAMPLES_TABLE_COLUMNS, NODE_EPOCHS_TABLE_COLUMNS, STATUS_COLUMNS } from '../../src/store/sample-columns.ts';
import { NODE_ANALYSIS_COLUMNS } from '../../src/store/analyses.ts';
import { migrate } from '../../src/store/migrations.ts';
import { compileFromRow, compileToRow, insertSql, storedFields } from '../../src/store/columns.ts';
import { parseStatusRows, type NodeStatus } from '../../src/sampler/status.ts';
import type { ClusterAnalysis, NodeAnalysis } from '../../src/analysis/cluster-analysis.ts';

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/real-cluster.json', import.meta.url), 'utf8'));
const tmpDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-columns-')), 'ga.db');

interface ColumnInfo {
  name: string;
  type: string;
  notnull: number;
}

/** The columns of every table of a freshly migrated database (migrated alone: no statement prepared). */
function migratedSchema(): Map<string, ColumnInfo[]> {
  const db = new Database(':memory:');
  try {
    migrate(db);
    const tables = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).pluck().all() as string[];
    return new Map(tables.map((t) => [t, db.prepare(`SELECT name, type, "notnull" FROM pragma_table_info(?)`).all(t) as ColumnInfo[]]));
  } finally {
    db.close();
  }
}

const schema = migratedSchema();
const columnsOf = (table: string) => (schema.get(table) ?? []).map((c) => c.name).sort();
const statusFields = storedFields(STATUS_COLUMNS);

test('the sample column table names exactly the columns of samples and node_epochs', () => {
  assert.deepEqual([...SAMPLES_TABLE_COLUMNS].sort(), columnsOf('samples'));
  assert.deepEqual([...NODE_EPOCHS_TABLE_COLUMNS].sort(), columnsOf('node_epochs'));
  const all = [...storedFields(SAMPLE_COLUMNS), ...statusFields].map(([, c]) => c.column);
  assert.equal(new Set(all).size, all.length, 'no column is named twice');
});

test('the node-analysis column table names exactly the columns of node_analysis', () => {
  assert.deepEqual(NODE_ANALYSIS_COLUMNS.map((c) => c.name).sort(), columnsOf('node_analysis'));
});

test('every field of a parsed NodeStatus is in the column table, stored or marked as not stored', () => {
  const parsed = parseStatusRows(fixture.node2.afterWrites.rows);
  assert.deepEqual(Object.keys(parsed).sort(), Object.keys(STATUS_COLUMNS).sort());
  assert.deepEqual(
    Object.entries(STATUS_COLUMNS).flatMap(([field, c]) => (c === null ? [field] : [])),
    ['exact'],
    'only the exact counters stay out of SQLite',
  );
});

/** A value for each stored status field, distinct from every other and fitting its column's type. */
function distinctStatus(nulls: boolean): NodeStatus {
  const status: Record<string, unknown> = {};
  for (const [i, [field, c]] of statusFields.entries()) {
    const table = c.perEpoch ? 'node_epochs' : 'samples';
    const info = schema.get(table)!.find((col) => col.name === c.column)!;
    if (nulls && !info.notnull) status[field] = null;
    else if (info.type === 'TEXT') status[field] = `value-of-${field}`;
    else if (info.type === 'REAL') status[field] = i + 0.25;
    else status[field] = 2 ** 40 + i; // beyond 32 bits: nothing on the way truncates
  }
  return status as unknown as NodeStatus;
}

for (const nulls of [false, true]) {
  test(`a sample round-trips every stored field of NodeStatus${nulls ? ', the nullable ones as NULL' : ''}`, () => {
    const store = new Store(tmpDb());
    const status = distinctStatus(nulls);
    const sample: StoredSample = { cluster: 'c', node: 'n', takenAt: 1_700_000_000_000, epoch: 3, durationMs: 7, status };
    store.recordSample(sample, null);
    assert.deepEqual(store.latestSample('c', 'n'), sample);
    assert.deepEqual(store.samples('c', 'n', 0, Number.MAX_SAFE_INTEGER), [sample]);
    assert.deepEqual(store.samplesForAnalysis('c', 'n', 0, 0), [sample]);
    store.close();
  });
}

test('a parsed status round-trips but for its exact counters, and the duration is kept in whole ms', () => {
  const store = new Store(tmpDb());
  const { exact, ...status } = parseStatusRows(fixture.node2.afterWrites.rows);
  assert.ok(exact, 'the parser gives the exact counters');
  store.recordSample({ cluster: 'c', node: 'n', takenAt: 10, epoch: 1, durationMs: 2.6, status: { ...status, exact } }, null);
  assert.deepEqual(store.latestSample('c', 'n'), { cluster: 'c', node: 'n', takenAt: 10, epoch: 1, durationMs: 3, status });
  store.close();
});

test('generated code and SQL take plain identifiers only', () => {
  assert.throws(() => compileToRow({ fields: [['a; process.exit(1)', { column: 'a' }]] }), /"a; process.exit\(1\)" is not a plain identifier/);
  assert.throws(() => compileFromRow({ fields: [['a', { column: 'a b' }]] }), /"a b" is not a plain identifier/);
  assert.throws(() => insertSql('INSERT', 'samples; DROP TABLE samples', ['a']), /not a plain identifier/);
  const toRow = compileToRow<{ a: number; inner: { b: string } }>({ fields: [['a', { column: 'col_a', round: true }]], nested: { inner: [['b', { column: 'col_b' }]] } });
  assert.deepEqual(toRow({ a: 1.6, inner: { b: 'x' } }), { col_a: 2, col_b: 'x' });
  const fromRow = compileFromRow<{ a: number; inner: { b: string } }>({ fields: [['a', { column: 'col_a' }]], nested: { inner: [['b', { column: 'col_b', ifNull: '' }]] } });
  assert.deepEqual(fromRow({ col_a: 2, col_b: null }), { a: 2, inner: { b: '' } });
});

test('a node analysis is stored figure by figure, rounded, and averaged under the names of the history series', () => {
  const store = new Store(tmpDb());
  const node = {
    cluster: 'c',
    node: 'n',
    computedAt: 120_000,
    measured: { ring: 'full', measuredSeconds: 3600.4, ageSeconds: 3700.6 },
    estimated: { short: { bestSeconds: 3500.2, classicSeconds: 4000.7 }, long: { bestSeconds: 3400, classicSeconds: Infinity } },
    istBudget: { current: { seconds: 1800.5, donor: 'n2' }, pessimistic: null },
    rates: { short: { bytesPerSecond: 1024.4, writeSetsPerSecond: 12.345 }, long: { bytesPerSecond: 900, writeSetsPerSecond: 10.001 } },
  } as unknown as NodeAnalysis;
  store.recordAnalysis({
    cluster: 'c',
    computedAt: 120_000,
    nodes: [node],
    recommendation: { targetWindowSeconds: 3600, recommendedGcacheSizeBytes: 1 << 20 },
  } as unknown as ClusterAnalysis);
  assert.deepEqual(store.nodeAnalysisHistory('c', 'n', 0, 200_000), [
    {
      cluster: 'c',
      node: 'n',
      computed_at: 120_000,
      ring: 'full',
      measured_seconds: 3600,
      age_seconds: 3701,
      estimated_short_seconds: 3500,
      estimated_long_seconds: 3400,
      classic_short_seconds: 4001,
      classic_long_seconds: null,
      ist_current_seconds: 1801,
      ist_pessimistic_seconds: null,
      donor: 'n2',
      rate_short_bps: 1024,
      rate_long_bps: 900,
      writesets_short_per_s: 12.35,
      writesets_long_per_s: 10,
    },
  ]);
  assert.deepEqual(store.nodeAnalysisSeries('c', 'n', 0, 200_000, 60_000, 10), [
    {
      at: 120_000,
      measuredSeconds: 3600,
      estimatedShortSeconds: 3500,
      estimatedLongSeconds: 3400,
      istBudgetCurrentSeconds: 1801,
      istBudgetPessimisticSeconds: null,
      writeRateShortBytesPerSecond: 1024,
      writeRateLongBytesPerSecond: 900,
      writeSetsShortPerSecond: 12.35,
      samples: 1,
    },
  ]);
  store.close();
});
