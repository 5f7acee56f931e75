/**
 * What sampling stores per node: samples (their per-epoch values in node_epochs), per-minute
 * rollups, failures, gcache settings per epoch, and events.
 */
import type { SampleDelta } from '../sampler/epoch.js';
import type { NodeOutcome } from '../sampler/sampler.js';
import type { StoredSample, StoredFailure, NodeSettings, StoredEvent } from '../sampler/records.js';
import { nodeKey } from '../config/keys.js';
import type { Row } from './columns.js';
import { Repository, type StoreDatabase } from './database.js';
import { DAY_MS, MINUTE_MS } from '../units/time.js';
import { INSERT_SAMPLE_SQL, SELECT_SAMPLES_SQL, UPSERT_EPOCH_SQL, epochRowKey, sampleFromRow, sampleToRow } from './sample-columns.js';

export type { StoredSample, StoredFailure, NodeSettings, StoredEvent } from '../sampler/records.js';

export interface MinuteRollup {
  minute: number;
  epoch: number;
  seconds: number;
  bytes: number;
  writeSets: number;
  samples: number;
  lastAt: number;
  lastCommitted: number;
}

interface SettingsRow {
  cluster: string;
  node: string;
  epoch: number;
  read_at: number;
  gcache_size: number;
  gcache_page_size: number;
  gcache_keep_pages_size: number;
  gcache_recover: number;
  gmcast_segment: number;
  sst_donor: string;
}

type EventRow = Omit<StoredEvent, 'detail'> & { detail: string };

function prepareStatements(db: StoreDatabase) {
  return {
    insertSample: db.prepare(INSERT_SAMPLE_SQL),
    upsertEpoch: db.prepare(UPSERT_EPOCH_SQL),
    upsertRollup: db.prepare(`INSERT INTO rollups_1m (cluster, node, minute, epoch, seconds, bytes, write_sets, samples, last_at, last_committed)
      VALUES (@cluster, @node, @minute, @epoch, @seconds, @bytes, @write_sets, 1, @last_at, @last_committed)
      ON CONFLICT (cluster, node, minute, epoch) DO UPDATE SET
        seconds = seconds + excluded.seconds, bytes = bytes + excluded.bytes, write_sets = write_sets + excluded.write_sets,
        samples = samples + 1, last_at = excluded.last_at, last_committed = excluded.last_committed`),
    insertFailure: db.prepare(`INSERT INTO sample_failures (cluster, node, taken_at, reason, message) VALUES (?, ?, ?, ?, ?)`),
    upsertSettings: db.prepare(`INSERT OR REPLACE INTO node_settings (cluster, node, epoch, read_at, gcache_size, gcache_page_size,
        gcache_keep_pages_size, gcache_recover, gmcast_segment, sst_donor)
      VALUES (@cluster, @node, @epoch, @readAt, @sizeBytes, @pageSizeBytes, @keepPagesSizeBytes, @recover, @segment, @sstDonor)`),
    insertEvent: db.prepare(`INSERT INTO events (cluster, node, at, kind, detail) VALUES (?, ?, ?, ?, ?)`),
    latestSample: db.prepare(`${SELECT_SAMPLES_SQL} WHERE s.cluster = ? AND s.node = ? ORDER BY s.taken_at DESC LIMIT 1`),
    samplesForAnalysis: db.prepare(`${SELECT_SAMPLES_SQL}
      WHERE s.cluster = @cluster AND s.node = @node AND s.taken_at >= @from AND (s.taken_at >= @fullFrom OR s.taken_at IN (
        SELECT MAX(taken_at) FROM samples WHERE cluster = @cluster AND node = @node AND taken_at >= @from AND taken_at < @fullFrom GROUP BY taken_at / ${MINUTE_MS}, epoch
        UNION SELECT MIN(taken_at) FROM samples WHERE cluster = @cluster AND node = @node AND taken_at >= @from AND taken_at < @fullFrom GROUP BY epoch
        UNION SELECT MIN(taken_at) FROM samples WHERE cluster = @cluster AND node = @node AND taken_at >= @from AND taken_at < @fullFrom AND cached_downto IS NOT NULL GROUP BY epoch))
      ORDER BY s.taken_at`),
    samplesBetween: db.prepare(`${SELECT_SAMPLES_SQL} WHERE s.cluster = ? AND s.node = ? AND s.taken_at >= ? AND s.taken_at <= ? ORDER BY s.taken_at`),
    countSamples: db.prepare(`SELECT COUNT(*) AS n FROM samples WHERE cluster = ? AND node = ?`),
    failuresBetween: db.prepare(`SELECT cluster, node, taken_at, reason, message FROM sample_failures
      WHERE cluster = ? AND node = ? AND taken_at >= ? AND taken_at <= ? ORDER BY taken_at`),
    latestSettings: db.prepare(`SELECT * FROM node_settings WHERE cluster = ? AND node = ? ORDER BY epoch DESC LIMIT 1`),
    rollupsBetween: db.prepare(`SELECT minute, epoch, seconds, bytes, write_sets, samples, last_at, last_committed FROM rollups_1m
      WHERE cluster = ? AND node = ? AND minute >= ? AND minute <= ? ORDER BY minute, epoch`),
    dailyTotals: db.prepare(`SELECT (minute / ${DAY_MS}) * ${DAY_MS} AS minute, SUM(seconds) AS seconds, SUM(bytes) AS bytes
      FROM rollups_1m WHERE cluster = ? AND node = ? AND minute >= ? GROUP BY minute / ${DAY_MS} ORDER BY 1`),
    eventsBetween: db.prepare(`SELECT cluster, node, at, kind, detail FROM events WHERE cluster = ? AND node = ? AND at >= ? AND at <= ? ORDER BY at`),
    recentEvents: db.prepare(`SELECT cluster, node, at, kind, detail FROM events WHERE at >= ? ORDER BY at DESC LIMIT ?`),
    recentClusterEvents: db.prepare(`SELECT cluster, node, at, kind, detail FROM events WHERE cluster = ? AND at >= ? ORDER BY at DESC LIMIT ?`),
    countEvents: db.prepare(`SELECT COUNT(*) AS n FROM events WHERE cluster = ? AND node = ? AND kind = ? AND at >= ?`),
  };
}

export class SampleRepository extends Repository<ReturnType<typeof prepareStatements>> {
  /** The epoch row last written per node, so that it is written again only when it changes. */
  readonly #epochsWritten = new Map<string, string>();

  constructor(db: StoreDatabase) {
    super(db, prepareStatements);
    db.onRollback(() => this.#epochsWritten.clear());
  }

  /** Saves a sample and, when it continues its epoch, adds its delta to the minute's rollup, atomically. */
  recordSample(sample: StoredSample, delta: SampleDelta | null): void {
    this.db.transaction(() => {
      const row = sampleToRow(sample);
      this.stmts.insertSample.run(row);
      // The uuids change with a new epoch (or once from empty): written then, not every sample.
      const node = nodeKey(sample.cluster, sample.node);
      const epochRow = epochRowKey(row);
      if (this.#epochsWritten.get(node) !== epochRow) {
        this.stmts.upsertEpoch.run(row);
        this.#epochsWritten.set(node, epochRow);
      }
      if (delta) {
        this.stmts.upsertRollup.run({
          cluster: sample.cluster,
          node: sample.node,
          minute: Math.floor(sample.takenAt / MINUTE_MS) * MINUTE_MS,
          epoch: sample.epoch,
          seconds: delta.seconds,
          bytes: delta.bytes,
          write_sets: delta.writeSets,
          last_at: sample.takenAt,
          last_committed: sample.status.lastCommitted,
        });
      }
    });
  }

  /**
   * Everything one sampling cycle produced, in one transaction: samples with their rollups,
   * gcache settings, epoch events, and the failures of the nodes that were contacted.
   */
  recordCycle(outcomes: readonly NodeOutcome[]): void {
    this.db.transaction(() => {
      for (const o of outcomes) {
        if (o.ok) {
          this.recordSample(o.sample, o.delta);
          if (o.settings) this.recordSettings(o.settings);
          for (const e of o.events) this.recordEvent(e);
          for (const f of o.failures) this.recordFailure(f);
        } else if (!o.backingOff) {
          this.recordFailure({ cluster: o.cluster, node: o.node, takenAt: o.takenAt, reason: o.failure.reason, message: o.failure.message });
        }
      }
    });
  }

  recordFailure(failure: StoredFailure): void {
    this.db.write(() => this.stmts.insertFailure.run(failure.cluster, failure.node, failure.takenAt, failure.reason, failure.message));
  }

  recordSettings(settings: NodeSettings): void {
    this.db.write(() => this.stmts.upsertSettings.run({ ...settings, recover: settings.recover ? 1 : 0 }));
  }

  recordEvent(event: StoredEvent): void {
    this.db.write(() => this.stmts.insertEvent.run(event.cluster, event.node, event.at, event.kind, JSON.stringify(event.detail)));
  }

  /** The newest sample of a node, or null: the sampler's starting point after a restart. */
  latestSample(cluster: string, node: string): StoredSample | null {
    const row = this.stmts.latestSample.get(cluster, node) as Row | undefined;
    return row ? sampleFromRow(row) : null;
  }

  /**
   * A node's samples since `from` as the analysis keeps them: every sample from `fullFrom` on,
   * and before that the last of each minute and epoch plus each epoch's first (with and without a
   * cached seqno), so a restart loads what the analysis needs, not every raw row.
   */
  samplesForAnalysis(cluster: string, node: string, from: number, fullFrom: number): StoredSample[] {
    const params = { cluster, node, from: BigInt(Math.floor(from)), fullFrom: BigInt(Math.floor(Math.max(from, fullFrom))) };
    return (this.stmts.samplesForAnalysis.all(params) as Row[]).map(sampleFromRow);
  }

  samples(cluster: string, node: string, from: number, to: number): StoredSample[] {
    return (this.stmts.samplesBetween.all(cluster, node, from, to) as Row[]).map(sampleFromRow);
  }

  sampleCount(cluster: string, node: string): number {
    return (this.stmts.countSamples.get(cluster, node) as { n: number }).n;
  }

  failures(cluster: string, node: string, from: number, to: number): StoredFailure[] {
    return (this.stmts.failuresBetween.all(cluster, node, from, to) as Array<{ cluster: string; node: string; taken_at: number; reason: string; message: string }>).map((r) => ({
      cluster: r.cluster,
      node: r.node,
      takenAt: r.taken_at,
      reason: r.reason,
      message: r.message,
    }));
  }

  latestSettings(cluster: string, node: string): NodeSettings | null {
    const r = this.stmts.latestSettings.get(cluster, node) as SettingsRow | undefined;
    if (!r) return null;
    return {
      cluster: r.cluster,
      node: r.node,
      epoch: r.epoch,
      readAt: r.read_at,
      sizeBytes: r.gcache_size,
      pageSizeBytes: r.gcache_page_size,
      keepPagesSizeBytes: r.gcache_keep_pages_size,
      recover: r.gcache_recover === 1,
      segment: r.gmcast_segment,
      sstDonor: r.sst_donor,
    };
  }

  rollups(cluster: string, node: string, from: number, to: number): MinuteRollup[] {
    return (this.stmts.rollupsBetween.all(cluster, node, from, to) as Array<Record<string, number>>).map((r) => ({
      minute: r.minute!,
      epoch: r.epoch!,
      seconds: r.seconds!,
      bytes: r.bytes!,
      writeSets: r.write_sets!,
      samples: r.samples!,
      lastAt: r.last_at!,
      lastCommitted: r.last_committed!,
    }));
  }

  /** Per-day sums of the rollups since `from`, for the trend. */
  dailyTotals(cluster: string, node: string, from: number): Array<{ minute: number; seconds: number; bytes: number }> {
    return this.stmts.dailyTotals.all(cluster, node, from) as Array<{ minute: number; seconds: number; bytes: number }>;
  }

  /** Events of every node of a cluster (or all clusters), newest first. */
  recentEvents(cluster: string | null, from: number, limit: number): StoredEvent[] {
    const rows = cluster === null ? this.stmts.recentEvents.all(from, limit) : this.stmts.recentClusterEvents.all(cluster, from, limit);
    return (rows as EventRow[]).map(eventFromRow);
  }

  events(cluster: string, node: string, from: number, to: number): StoredEvent[] {
    return (this.stmts.eventsBetween.all(cluster, node, from, to) as EventRow[]).map(eventFromRow);
  }

  countEvents(cluster: string, node: string, kind: string, since: number): number {
    return (this.stmts.countEvents.get(cluster, node, kind, since) as { n: number }).n;
  }
}

function eventFromRow(r: EventRow): StoredEvent {
  return { ...r, detail: JSON.parse(r.detail) as Record<string, unknown> };
}
