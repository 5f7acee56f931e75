/**
 * Numbered schema migrations. Migration N brings the schema from user_version N-1 to N; each
 * runs in its own transaction together with the PRAGMA user_version bump, so a crash leaves
 * the database either before or after a migration, never half-way.
 */
import type Database from 'better-sqlite3';

export const MIGRATIONS: ReadonlyArray<string> = [
  // 1: samples, failures, gcache settings per epoch, events, per-minute rollups
  `
  CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    taken_at INTEGER NOT NULL,            -- ms since the Unix epoch
    epoch INTEGER NOT NULL,               -- counter epoch: rates never span two
    received_bytes INTEGER NOT NULL,
    replicated_bytes INTEGER NOT NULL,
    received INTEGER NOT NULL,
    replicated INTEGER NOT NULL,
    last_committed INTEGER NOT NULL,
    cached_downto INTEGER,                -- NULL when the gcache is empty
    local_state TEXT NOT NULL,
    cluster_status TEXT NOT NULL,
    cluster_size INTEGER NOT NULL,
    local_state_uuid TEXT NOT NULL,
    cluster_state_uuid TEXT NOT NULL,
    segment INTEGER,
    flow_control_paused REAL,
    uptime INTEGER NOT NULL,
    duration_ms REAL NOT NULL
  );
  CREATE INDEX samples_by_node_time ON samples (cluster, node, taken_at);
  CREATE INDEX samples_by_time ON samples (taken_at);

  CREATE TABLE sample_failures (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    taken_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL
  );
  CREATE INDEX sample_failures_by_node_time ON sample_failures (cluster, node, taken_at);
  CREATE INDEX sample_failures_by_time ON sample_failures (taken_at);

  CREATE TABLE node_settings (
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    read_at INTEGER NOT NULL,
    gcache_size INTEGER NOT NULL,
    gcache_page_size INTEGER NOT NULL,
    gcache_keep_pages_size INTEGER NOT NULL,
    gcache_recover INTEGER NOT NULL,
    gmcast_segment INTEGER NOT NULL,
    sst_donor TEXT NOT NULL,
    PRIMARY KEY (cluster, node, epoch)
  );

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL                  -- JSON
  );
  CREATE INDEX events_by_node_time ON events (cluster, node, at);

  -- One row per node, minute and epoch. The deltas are sums of sample-to-sample movements
  -- within one epoch whose later sample falls in the minute, so any horizon's rate is
  -- SUM(bytes)/SUM(seconds) and exact; last_* keep a (time, seqno) point per minute for
  -- looking up when a seqno was committed after the raw samples have expired.
  CREATE TABLE rollups_1m (
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    minute INTEGER NOT NULL,              -- ms, start of the minute
    epoch INTEGER NOT NULL,
    seconds REAL NOT NULL,
    bytes INTEGER NOT NULL,
    write_sets INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    last_committed INTEGER NOT NULL,
    PRIMARY KEY (cluster, node, minute, epoch)
  );
  CREATE INDEX rollups_1m_by_time ON rollups_1m (minute);
  `,
  // 2: analysis results. History keeps the figures as columns (cheap to keep every cycle);
  // the full analysis, with its explanations, is kept only for the latest cycle.
  `
  CREATE TABLE node_analysis (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    computed_at INTEGER NOT NULL,
    ring TEXT NOT NULL,
    measured_seconds REAL,
    age_seconds REAL,
    estimated_short_seconds REAL,
    estimated_long_seconds REAL,
    classic_short_seconds REAL,
    classic_long_seconds REAL,
    ist_current_seconds REAL,
    ist_pessimistic_seconds REAL,
    donor TEXT,
    rate_short_bps REAL,
    rate_long_bps REAL,
    writesets_short_per_s REAL,
    writesets_long_per_s REAL
  );
  CREATE INDEX node_analysis_by_node_time ON node_analysis (cluster, node, computed_at);
  CREATE INDEX node_analysis_by_time ON node_analysis (computed_at);

  CREATE TABLE cluster_analysis (
    id INTEGER PRIMARY KEY,
    cluster TEXT NOT NULL,
    computed_at INTEGER NOT NULL,
    target_seconds REAL NOT NULL,
    recommended_bytes INTEGER
  );
  CREATE INDEX cluster_analysis_by_cluster_time ON cluster_analysis (cluster, computed_at);
  CREATE INDEX cluster_analysis_by_time ON cluster_analysis (computed_at);

  CREATE TABLE latest_analysis (
    cluster TEXT PRIMARY KEY,
    computed_at INTEGER NOT NULL,
    detail TEXT NOT NULL                  -- JSON of the whole ClusterAnalysis
  );
  `,
  // 3: alerts (open ones and their history) and the notification outbox
  `
  CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,            -- rule + label set
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    labels TEXT NOT NULL,                 -- JSON
    annotations TEXT NOT NULL,            -- JSON: summary, description
    state TEXT NOT NULL,                  -- pending | firing | resolved
    active_at INTEGER NOT NULL,
    fired_at INTEGER,
    resolved_at INTEGER,
    last_notified_at INTEGER
  );
  CREATE UNIQUE INDEX alerts_open_by_fingerprint ON alerts (fingerprint) WHERE state != 'resolved';
  CREATE INDEX alerts_by_time ON alerts (active_at);

  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    sink TEXT NOT NULL,
    alert_id INTEGER NOT NULL,
    kind TEXT NOT NULL,                   -- firing | resolved
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,                -- JSON, built when enqueued
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER,
    expired_at INTEGER,
    last_error TEXT
  );
  CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND expired_at IS NULL;
  `,
  // 4: compact history for fleets. The big tables are keyed by node and time with no rowid and
  // no second index (a row is stored once, in key order, and retention deletes by node and time
  // range); the state uuids, constant within an epoch, move to node_epochs; the analysis history
  // is one row per node and minute, its figures rounded to what they can mean.
  `
  CREATE TABLE node_epochs (
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    local_state_uuid TEXT NOT NULL,
    cluster_state_uuid TEXT NOT NULL,
    PRIMARY KEY (cluster, node, epoch)
  ) WITHOUT ROWID;
  INSERT OR REPLACE INTO node_epochs SELECT cluster, node, epoch, local_state_uuid, cluster_state_uuid
    FROM samples WHERE id IN (SELECT MAX(id) FROM samples GROUP BY cluster, node, epoch);

  CREATE TABLE samples_v4 (
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    taken_at INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    received_bytes INTEGER NOT NULL,
    replicated_bytes INTEGER NOT NULL,
    received INTEGER NOT NULL,
    replicated INTEGER NOT NULL,
    last_committed INTEGER NOT NULL,
    cached_downto INTEGER,
    local_state TEXT NOT NULL,
    cluster_status TEXT NOT NULL,
    cluster_size INTEGER NOT NULL,
    segment INTEGER,
    flow_control_paused REAL,
    uptime INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (cluster, node, taken_at)
  ) WITHOUT ROWID;
  INSERT OR REPLACE INTO samples_v4 SELECT cluster, node, taken_at, epoch, received_bytes, replicated_bytes, received, replicated,
    last_committed, cached_downto, local_state, cluster_status, cluster_size, segment, flow_control_paused, uptime, CAST(ROUND(duration_ms) AS INTEGER)
    FROM samples;
  DROP TABLE samples;
  ALTER TABLE samples_v4 RENAME TO samples;

  CREATE TABLE rollups_v4 (
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    minute INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    seconds REAL NOT NULL,
    bytes INTEGER NOT NULL,
    write_sets INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    last_committed INTEGER NOT NULL,
    PRIMARY KEY (cluster, node, minute, epoch)
  ) WITHOUT ROWID;
  INSERT INTO rollups_v4 SELECT cluster, node, minute, epoch, seconds, bytes, write_sets, samples, last_at, last_committed FROM rollups_1m;
  DROP TABLE rollups_1m;
  ALTER TABLE rollups_v4 RENAME TO rollups_1m;

  CREATE TABLE node_analysis_v4 (
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    computed_at INTEGER NOT NULL,
    ring TEXT NOT NULL,
    measured_seconds REAL,
    age_seconds REAL,
    estimated_short_seconds REAL,
    estimated_long_seconds REAL,
    classic_short_seconds REAL,
    classic_long_seconds REAL,
    ist_current_seconds REAL,
    ist_pessimistic_seconds REAL,
    donor TEXT,
    rate_short_bps REAL,
    rate_long_bps REAL,
    writesets_short_per_s REAL,
    writesets_long_per_s REAL,
    PRIMARY KEY (cluster, node, computed_at)
  ) WITHOUT ROWID;
  INSERT OR REPLACE INTO node_analysis_v4 SELECT cluster, node, computed_at, ring, measured_seconds, age_seconds, estimated_short_seconds,
    estimated_long_seconds, classic_short_seconds, classic_long_seconds, ist_current_seconds, ist_pessimistic_seconds, donor, rate_short_bps,
    rate_long_bps, writesets_short_per_s, writesets_long_per_s FROM node_analysis;
  DROP TABLE node_analysis;
  ALTER TABLE node_analysis_v4 RENAME TO node_analysis;

  CREATE TABLE cluster_analysis_v4 (
    cluster TEXT NOT NULL,
    computed_at INTEGER NOT NULL,
    target_seconds REAL NOT NULL,
    recommended_bytes INTEGER,
    PRIMARY KEY (cluster, computed_at)
  ) WITHOUT ROWID;
  INSERT OR REPLACE INTO cluster_analysis_v4 SELECT cluster, computed_at, target_seconds, recommended_bytes FROM cluster_analysis;
  DROP TABLE cluster_analysis;
  ALTER TABLE cluster_analysis_v4 RENAME TO cluster_analysis;
  `,
];

export function migrate(db: Database.Database): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > MIGRATIONS.length) {
    throw new Error(`database schema version ${from} is newer than this gcache-advisor knows (${MIGRATIONS.length}); upgrade gcache-advisor`);
  }
  for (let version = from + 1; version <= MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version - 1]!);
      db.pragma(`user_version = ${version}`);
    })();
  }
  return { from, to: MIGRATIONS.length };
}
