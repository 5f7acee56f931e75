/**
 * Analysis results: the figures of every node per cycle (node_analysis, for history), the
 * cluster's recommendation per cycle, and the latest whole analysis of each cluster.
 */
import type { ClusterAnalysis, NodeAnalysis } from '../analysis/cluster-analysis.js';
import { computedValues, insertSql, type ComputedColumn } from './columns.js';
import { Repository, type StoreDatabase } from './database.js';

interface NodeAnalysisColumn extends ComputedColumn<NodeAnalysis> {
  /** Its name in the averaged history series (`nodeAnalysisSeries`), when it is one of its figures. */
  readonly series?: string;
}

/**
 * The column table of node_analysis: each column and the figure it holds. The insert, and the
 * averages of the history series, are generated from it.
 */
export const NODE_ANALYSIS_COLUMNS: readonly NodeAnalysisColumn[] = [
  { name: 'cluster', value: (n) => n.cluster },
  { name: 'node', value: (n) => n.node },
  { name: 'computed_at', value: (n) => n.computedAt },
  { name: 'ring', value: (n) => n.measured.ring },
  { name: 'measured_seconds', value: (n) => whole(n.measured.measuredSeconds), series: 'measuredSeconds' },
  { name: 'age_seconds', value: (n) => whole(n.measured.ageSeconds) },
  { name: 'estimated_short_seconds', value: (n) => whole(n.estimated.short.bestSeconds), series: 'estimatedShortSeconds' },
  { name: 'estimated_long_seconds', value: (n) => whole(n.estimated.long.bestSeconds), series: 'estimatedLongSeconds' },
  { name: 'classic_short_seconds', value: (n) => whole(n.estimated.short.classicSeconds) },
  { name: 'classic_long_seconds', value: (n) => whole(n.estimated.long.classicSeconds) },
  { name: 'ist_current_seconds', value: (n) => whole(n.istBudget.current?.seconds), series: 'istBudgetCurrentSeconds' },
  { name: 'ist_pessimistic_seconds', value: (n) => whole(n.istBudget.pessimistic?.seconds), series: 'istBudgetPessimisticSeconds' },
  { name: 'donor', value: (n) => n.istBudget.current?.donor ?? null },
  { name: 'rate_short_bps', value: (n) => whole(n.rates.short?.bytesPerSecond), series: 'writeRateShortBytesPerSecond' },
  { name: 'rate_long_bps', value: (n) => whole(n.rates.long?.bytesPerSecond), series: 'writeRateLongBytesPerSecond' },
  { name: 'writesets_short_per_s', value: (n) => hundredths(n.rates.short?.writeSetsPerSecond), series: 'writeSetsShortPerSecond' },
  { name: 'writesets_long_per_s', value: (n) => hundredths(n.rates.long?.writeSetsPerSecond) },
];

const seriesAverages = NODE_ANALYSIS_COLUMNS.flatMap((c) => (c.series ? [`AVG(${c.name}) AS ${c.series}`] : [])).join(', ');

function prepareStatements(db: StoreDatabase) {
  return {
    insertNodeAnalysis: db.prepare(
      insertSql(
        'INSERT OR REPLACE',
        'node_analysis',
        NODE_ANALYSIS_COLUMNS.map((c) => c.name),
        'positional',
      ),
    ),
    insertClusterAnalysis: db.prepare(`INSERT OR REPLACE INTO cluster_analysis (cluster, computed_at, target_seconds, recommended_bytes) VALUES (?, ?, ?, ?)`),
    upsertLatestAnalysis: db.prepare(`INSERT OR REPLACE INTO latest_analysis (cluster, computed_at, detail) VALUES (?, ?, ?)`),
    latestAnalyses: db.prepare(`SELECT detail FROM latest_analysis ORDER BY cluster`),
    nodeAnalysisBetween: db.prepare(`SELECT * FROM node_analysis WHERE cluster = ? AND node = ? AND computed_at >= ? AND computed_at <= ? ORDER BY computed_at`),
    nodeAnalysisSeries: db.prepare(`SELECT @from + ((computed_at - @from) / @step) * @step AS at, ${seriesAverages}, COUNT(*) AS samples
       FROM node_analysis WHERE cluster = @cluster AND node = @node AND computed_at >= @from AND computed_at <= @to
       GROUP BY (computed_at - @from) / @step ORDER BY 1 LIMIT @limit`),
  };
}

export class AnalysisRepository extends Repository<ReturnType<typeof prepareStatements>> {
  constructor(db: StoreDatabase) {
    super(db, prepareStatements);
  }

  /** Saves one cycle's analysis of a cluster: the figures into the history, the whole into the latest. */
  recordAnalysis(analysis: ClusterAnalysis): void {
    this.db.transaction(() => {
      for (const n of analysis.nodes) this.stmts.insertNodeAnalysis.run(computedValues(NODE_ANALYSIS_COLUMNS, n));
      this.stmts.insertClusterAnalysis.run(analysis.cluster, analysis.computedAt, analysis.recommendation.targetWindowSeconds, analysis.recommendation.recommendedGcacheSizeBytes);
      this.recordLatestAnalysis(analysis);
    });
  }

  /** Replaces the stored latest analysis of the cluster (the whole of it, with its explanations). */
  recordLatestAnalysis(analysis: ClusterAnalysis): void {
    this.db.write(() => this.stmts.upsertLatestAnalysis.run(analysis.cluster, analysis.computedAt, JSON.stringify(analysis)));
  }

  latestAnalyses(): ClusterAnalysis[] {
    return (this.stmts.latestAnalyses.all() as Array<{ detail: string }>).map((r) => withNewFields(JSON.parse(r.detail) as ClusterAnalysis));
  }

  nodeAnalysisHistory(cluster: string, node: string, from: number, to: number): Array<Record<string, number | string | null>> {
    return this.stmts.nodeAnalysisBetween.all(cluster, node, from, to) as Array<Record<string, number | string | null>>;
  }

  /**
   * The figures of a node between two times, averaged per step (like a Prometheus range query):
   * one row per step that has data, `at` being the start of the step, at most `limit` rows.
   * The bucket is computed in integers: better-sqlite3 binds JS numbers as REAL, and a REAL
   * division would put every row in a group of its own.
   */
  nodeAnalysisSeries(cluster: string, node: string, from: number, to: number, stepMs: number, limit: number): Array<Record<string, number | null>> {
    return this.stmts.nodeAnalysisSeries.all({ from: BigInt(Math.floor(from)), step: BigInt(Math.max(1, Math.floor(stepMs))), to: Math.floor(to), cluster, node, limit }) as Array<
      Record<string, number | null>
    >;
  }
}

/**
 * Figures are stored rounded to what they can mean (windows are exact to a sampling interval,
 * rates are averages): SQLite then keeps them as small integers, not 8-byte doubles.
 */
function whole(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x);
}

function hundredths(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 100) / 100;
}

/** An analysis stored by an older version, given the fields added since (until the first cycle replaces it). */
function withNewFields(a: ClusterAnalysis): ClusterAnalysis {
  for (const n of a.nodes) {
    n.istBudget.likely ??= null;
    n.istBudget.safe ??= null;
    n.istBudget.forecast ??= null;
    n.rejoin ??= null;
    n.lastRejoin ??= null;
  }
  return a;
}
