/**
 * The load model behind the simulated fleet: what every node's SHOW GLOBAL STATUS says at any
 * instant. Pure and deterministic (a seed and an origin fix everything), so the history the
 * benchmark seeds into the store and the answers the live simulator gives later are one
 * continuous story: the daemon sees the same counter epoch carry on, as after its own restart.
 *
 * Per cluster: one writer node and a write-set rate that varies with time,
 *   rate(τ) = b·(1 + g·τ/day) + b·A1·sin(2πτ/day + φ1) + b·A2·sin(2πτ/hour + φ2)   (write-sets/s)
 * with τ the seconds since the origin, b a per-cluster base rate, g a slow growth (for the trend)
 * and A1 + A2 < 1 so the rate stays positive. Its integral has a closed form, so the seqno at any
 * instant costs a few sin/cos and no stepping. Every write-set of a cluster has the cluster's mean
 * size; the gcache ring then holds floor(gcache.size / align8(size + 24)) write-sets (Galera's
 * per-buffer header, see GALERA_NOTES.md).
 */
import type { NodeStatus } from '../../src/sampler/status.js';
import type { GcacheSettings } from '../../src/sampler/provider-options.js';
import { logUniform, seededRandom, seededUuid, uniform } from './random.js';

const DAY_SECONDS = 86_400;
const HOUR_SECONDS = 3_600;
/** Galera's gcache buffer header, added to every write-set in the ring. */
const RING_HEADER_BYTES = 24;
/** What an empty gcache reads as on MariaDB with older Galera (unsigned -1). */
export const EMPTY_CACHED_DOWNTO = '18446744073709551615';
/** gcache.page_size: Galera's default. */
const GCACHE_PAGE_SIZE = 128 * 1024 * 1024;

export interface LoadModelOptions {
  clusters: number;
  nodesPerCluster: number;
  /** Fixes every cluster's load parameters and uuids. Default 1. */
  seed?: number;
  /** ms since the Unix epoch at which every cluster's seqno was 0 and every node started. Default: now. */
  origin?: number;
  /** gcache.size of every node, in bytes. Default 128 MiB (Galera's default). */
  gcacheSize?: number;
  /** Mean write-sets per second of a cluster whose load factor is 1. Default 40. */
  baseRate?: number;
  /** gcache.recover: with it off, a restarted node's gcache starts empty. Default true (Galera 4). */
  gcacheRecover?: boolean;
}

export function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

export class ClusterLoad {
  readonly uuid: string;
  /** Write-sets per second before the daily and hourly swings. */
  readonly baseRate: number;
  readonly writeSetBytes: number;
  readonly growthPerDay: number;
  private readonly dailyAmplitude: number;
  private readonly dailyPhase: number;
  private readonly hourlyAmplitude: number;
  private readonly hourlyPhase: number;

  constructor(
    readonly name: string,
    readonly index: number,
    seed: number,
    baseRate: number,
    private readonly origin: number,
  ) {
    const random = seededRandom(seed, index);
    this.uuid = seededUuid(random);
    // Clusters differ by more than an order of magnitude in a real fleet.
    this.baseRate = baseRate * logUniform(random, 0.25, 4);
    this.writeSetBytes = Math.round(logUniform(random, 200, 4000));
    this.growthPerDay = uniform(random, 0, 0.03);
    this.dailyAmplitude = uniform(random, 0.3, 0.6);
    this.dailyPhase = uniform(random, 0, 2 * Math.PI);
    this.hourlyAmplitude = uniform(random, 0.05, 0.25);
    this.hourlyPhase = uniform(random, 0, 2 * Math.PI);
  }

  /** Write-sets per second at time t (ms). */
  rateAt(t: number): number {
    const tau = Math.max(0, (t - this.origin) / 1000);
    const b = this.baseRate;
    return (
      b * (1 + (this.growthPerDay * tau) / DAY_SECONDS) +
      b * this.dailyAmplitude * Math.sin((2 * Math.PI * tau) / DAY_SECONDS + this.dailyPhase) +
      b * this.hourlyAmplitude * Math.sin((2 * Math.PI * tau) / HOUR_SECONDS + this.hourlyPhase)
    );
  }

  /** wsrep_last_committed at time t (ms): the integral of the rate since the origin, whole write-sets. */
  seqnoAt(t: number): number {
    const tau = Math.max(0, (t - this.origin) / 1000);
    const b = this.baseRate;
    const wd = (2 * Math.PI) / DAY_SECONDS;
    const wh = (2 * Math.PI) / HOUR_SECONDS;
    const integral =
      b * (tau + (this.growthPerDay * tau * tau) / (2 * DAY_SECONDS)) +
      ((b * this.dailyAmplitude) / wd) * (Math.cos(this.dailyPhase) - Math.cos(wd * tau + this.dailyPhase)) +
      ((b * this.hourlyAmplitude) / wh) * (Math.cos(this.hourlyPhase) - Math.cos(wh * tau + this.hourlyPhase));
    return Math.floor(integral);
  }
}

export class ModelNode {
  /** When the node (re)started, ms: Uptime and the counters count from here. */
  startedAt: number;
  running = true;
  private startSeqno: number;

  constructor(
    readonly load: ClusterLoad,
    readonly name: string,
    /** Position within its cluster; node 0 is the cluster's only writer. */
    readonly indexInCluster: number,
    /** Position in the whole fleet. */
    readonly index: number,
    private readonly siblings: () => ReadonlyArray<ModelNode>,
    readonly gcacheSize: number,
    readonly gcacheRecover: boolean,
    startedAt: number,
  ) {
    this.startedAt = startedAt;
    this.startSeqno = load.seqnoAt(startedAt);
  }

  get cluster(): string {
    return this.load.name;
  }

  get isWriter(): boolean {
    return this.indexInCluster === 0;
  }

  /** How many write-sets the ring holds: the cluster's write-sets are all the same size. */
  get ringCapacity(): number {
    return Math.floor(this.gcacheSize / align8(this.load.writeSetBytes + RING_HEADER_BYTES));
  }

  /** The gcache settings @@wsrep_provider_options gives (see FleetModel.providerOptions). */
  gcacheSettings(): GcacheSettings {
    return { sizeBytes: this.gcacheSize, pageSizeBytes: GCACHE_PAGE_SIZE, keepPagesSizeBytes: 0, recover: this.gcacheRecover, segment: 0 };
  }

  /** A restart: counters and Uptime start again from t; the gcache survives only with gcache.recover. */
  restart(t: number): void {
    this.startedAt = t;
    this.startSeqno = this.load.seqnoAt(t);
    this.running = true;
  }

  statusAt(t: number): NodeStatus {
    const seqno = this.load.seqnoAt(t);
    const sinceStart = Math.max(0, seqno - this.startSeqno);
    const bytes = sinceStart * this.load.writeSetBytes;
    // With gcache.recover on the ring keeps everything since the cluster began (seqno 1);
    // without it only what arrived after this node's start.
    const lowestKept = this.gcacheRecover ? 1 : this.startSeqno + 1;
    const cachedDownto = seqno < lowestKept ? null : Math.max(lowestKept, seqno - this.ringCapacity + 1);
    return {
      receivedBytes: this.isWriter ? 0 : bytes,
      replicatedBytes: this.isWriter ? bytes : 0,
      received: this.isWriter ? 0 : sinceStart,
      replicated: this.isWriter ? sinceStart : 0,
      lastCommitted: seqno,
      cachedDownto,
      localState: 'Synced',
      clusterStatus: 'Primary',
      clusterSize: this.siblings().filter((n) => n.running).length,
      localStateUuid: this.load.uuid,
      clusterStateUuid: this.load.uuid,
      segment: 0,
      flowControlPaused: 0,
      uptimeSeconds: Math.floor((t - this.startedAt) / 1000),
    };
  }
}

/** Every cluster and node of a fleet. */
export class FleetModel {
  readonly clusters: ClusterLoad[];
  readonly nodes: ModelNode[];
  readonly origin: number;
  readonly seed: number;
  readonly gcacheSize: number;
  readonly gcacheRecover: boolean;

  constructor(options: LoadModelOptions) {
    checkCount('clusters', options.clusters);
    checkCount('nodesPerCluster', options.nodesPerCluster);
    this.seed = options.seed ?? 1;
    this.origin = options.origin ?? Date.now();
    this.gcacheSize = options.gcacheSize ?? 128 * 1024 * 1024;
    this.gcacheRecover = options.gcacheRecover ?? true;
    const baseRate = options.baseRate ?? 40;
    if (!(this.gcacheSize >= 4096)) throw new RangeError(`gcacheSize: expected at least 4096 bytes, got ${options.gcacheSize}`);
    if (!(baseRate > 0)) throw new RangeError(`baseRate: expected a rate above 0 write-sets/s, got ${options.baseRate}`);
    const width = String(options.clusters).length;
    this.clusters = Array.from({ length: options.clusters }, (_, i) => new ClusterLoad(`c${String(i + 1).padStart(width, '0')}`, i, this.seed, baseRate, this.origin));
    this.nodes = [];
    for (const load of this.clusters) {
      const members: ModelNode[] = [];
      for (let j = 0; j < options.nodesPerCluster; j++) {
        const node = new ModelNode(load, `db${j + 1}`, j, this.nodes.length, () => members, this.gcacheSize, this.gcacheRecover, this.origin);
        members.push(node);
        this.nodes.push(node);
      }
    }
  }

  /** @@wsrep_provider_options as Galera 26.4 prints it, with this fleet's gcache settings. */
  providerOptions(gmcastPort: number): string {
    const options: Array<[string, string]> = [
      ['base_dir', '/var/lib/mysql/'],
      ['base_host', '127.0.0.1'],
      ['base_port', String(gmcastPort)],
      ['cert.log_conflicts', 'no'],
      ['cert.optimistic_pa', 'yes'],
      ['debug', 'no'],
      ['evs.auto_evict', '0'],
      ['evs.delay_margin', 'PT1S'],
      ['evs.inactive_timeout', 'PT15S'],
      ['evs.suspect_timeout', 'PT5S'],
      ['evs.version', '1'],
      ['gcache.dir', '/var/lib/mysql/'],
      ['gcache.freeze_purge_at_seqno', '-1'],
      ['gcache.keep_pages_count', '0'],
      ['gcache.keep_pages_size', '0'],
      ['gcache.mem_size', '0'],
      ['gcache.name', 'galera.cache'],
      ['gcache.page_size', galeraSize(GCACHE_PAGE_SIZE)],
      ['gcache.recover', this.gcacheRecover ? 'yes' : 'no'],
      ['gcache.size', galeraSize(this.gcacheSize)],
      ['gcomm.thread_prio', ''],
      ['gcs.fc_debug', '0'],
      ['gcs.fc_factor', '1.0'],
      ['gcs.fc_limit', '16'],
      ['gcs.fc_master_slave', 'no'],
      ['gmcast.listen_addr', `tcp://0.0.0.0:${gmcastPort}`],
      ['gmcast.segment', '0'],
      ['gmcast.version', '0'],
      ['pc.recovery', 'true'],
      ['pc.weight', '1'],
      ['protonet.backend', 'asio'],
      ['repl.causal_read_timeout', 'PT30S'],
      ['repl.commit_order', '3'],
      ['socket.ssl', 'NO'],
    ];
    return options.map(([k, v]) => `${k} = ${v}`).join('; ');
  }
}

/** A size as a Galera option is usually written: in M or K when exact, else in bytes. */
function galeraSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}M`;
  if (bytes % 1024 === 0) return `${bytes / 1024}K`;
  return String(bytes);
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name}: expected a whole number of at least 1, got ${value}`);
}

/** SHOW GLOBAL STATUS rows for a status, exactly as a MariaDB Galera node names and prints them. */
export function statusVariables(status: NodeStatus): Map<string, string> {
  return new Map<string, string>([
    ['Uptime', String(status.uptimeSeconds)],
    ['wsrep_cluster_size', String(status.clusterSize)],
    ['wsrep_cluster_state_uuid', status.clusterStateUuid],
    ['wsrep_cluster_status', status.clusterStatus],
    ['wsrep_flow_control_paused', String(status.flowControlPaused ?? 0)],
    ['wsrep_gmcast_segment', String(status.segment ?? 0)],
    ['wsrep_last_committed', String(status.lastCommitted)],
    ['wsrep_local_cached_downto', status.cachedDownto === null ? EMPTY_CACHED_DOWNTO : String(status.cachedDownto)],
    ['wsrep_local_state_comment', status.localState],
    ['wsrep_local_state_uuid', status.localStateUuid],
    ['wsrep_received', String(status.received)],
    ['wsrep_received_bytes', String(status.receivedBytes)],
    ['wsrep_replicated', String(status.replicated)],
    ['wsrep_replicated_bytes', String(status.replicatedBytes)],
  ]);
}
