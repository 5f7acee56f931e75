/**
 * One sampling cycle reads the nodes, at most `sampling.concurrency` at once, each under its own
 * deadline, decides each sample's counter epoch and reads the gcache settings at the start of
 * every epoch. It writes nothing: each outcome carries the rows it produced (sample, rollup delta,
 * settings, events, failures), and the cycle pipeline stores a whole cycle in one transaction.
 * Cycles never overlap: a tick that finds the previous cycle still running is skipped and counted.
 *
 * A node that fails is left alone for a while (see backoff.ts), but it is still reported as
 * failing in every cycle, so `up` and the "not sampled" rule see it; only the attempt is skipped,
 * and nothing is stored for a cycle in which it was not contacted.
 */
import cron from 'node-cron';
import type { Config, NodeTarget } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { NodeSettings, SampleMemory, StoredEvent, StoredFailure, StoredSample } from './records.js';
import { NodeReader, type StatusReader } from './node-reader.js';
import { HostResolver } from './host-resolver.js';
import { Membership } from './discovery/membership.js';
import { epochBreakReason, sampleDelta, type SampleDelta } from './epoch.js';
import { classifyFailure, type Failure } from './failure.js';
import { backoffDelayMs, DEFAULT_BACKOFF_JITTER, DEFAULT_MAX_BACKOFF_MS, type BackoffPolicy } from './backoff.js';
import { mapWithConcurrency } from './limiter.js';
import type { NodeStatus } from './status.js';
import { MINUTE_MS } from '../units/time.js';

export type NodeOutcome =
  | {
      cluster: string;
      node: string;
      ok: true;
      sample: StoredSample;
      newEpochReason: string | null;
      /** The counters' movement since the previous sample, when it continues its epoch (for the rollups). */
      delta: SampleDelta | null;
      /** gcache settings read this cycle (at the start of an epoch). */
      settings: NodeSettings | null;
      /** Events (epoch starts) and failures (of the settings read) to store. */
      events: StoredEvent[];
      failures: StoredFailure[];
    }
  | {
      cluster: string;
      node: string;
      ok: false;
      takenAt: number;
      failure: Failure;
      consecutiveFailures: number;
      /** True when the node was not contacted this cycle because it is backing off after failures (nothing to store). */
      backingOff?: boolean;
    };

export interface CycleResult {
  startedAt: number;
  durationMs: number;
  outcomes: NodeOutcome[];
}

interface NodeState {
  target: NodeTarget;
  reader: StatusReader;
  last: StoredSample | null;
  /** Epoch whose gcache settings are stored; the settings are read again when the epoch moves on. */
  settingsEpoch: number | null;
  /** Cycles in a row without a sample, whether the node was contacted or not. */
  consecutiveFailures: number;
  /** Attempts in a row that failed: what the backoff doubles on. */
  failedAttempts: number;
  lastFailure: Failure | null;
  /** No connection attempt before this time (ms), after a failure. */
  retryAt: number | null;
}

export type ReaderFactory = (target: NodeTarget, timeoutMs: number) => StatusReader;

export interface SamplerOptions {
  now?: () => number;
  /** Makes each node's reader; NodeReader over MySQL by default. Tests pass readers of recorded statuses. */
  readerFactory?: ReaderFactory;
  /** Backoff after failures; by default one sampling interval, doubling up to 5 min, ±20%. */
  backoff?: Partial<BackoffPolicy>;
  /** The jitter's source of randomness, in [0, 1). */
  random?: () => number;
}

export class Sampler {
  /** The nodes being sampled: every configured node, and the discovered members not departed. */
  private nodes: NodeState[];
  /** The discovery clusters' memberships, refreshed at the start of every cycle. */
  private readonly memberships: Membership[];
  private readonly makeState: (target: NodeTarget) => NodeState;
  private running: Promise<CycleResult> | null = null;
  private task: ReturnType<typeof cron.schedule> | null = null;
  private readonly listeners: Array<(result: CycleResult) => void | Promise<void>> = [];
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly backoff: BackoffPolicy;
  skippedCycles = 0;

  /** The store is read once, for each node's last sample and settings, to continue their epochs. */
  constructor(
    private readonly config: Config,
    private readonly store: SampleMemory,
    private readonly log: Logger,
    options: SamplerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.backoff = {
      initialMs: options.backoff?.initialMs ?? scheduleIntervalMs(config.sampling.schedule),
      maxMs: options.backoff?.maxMs ?? DEFAULT_MAX_BACKOFF_MS,
      jitter: options.backoff?.jitter ?? DEFAULT_BACKOFF_JITTER,
    };
    const timeoutMs = config.sampling.timeoutSeconds * 1000;
    // One resolver for all nodes: each host name is looked up once per TTL, however many cycles.
    const resolver = new HostResolver({ timeoutMs });
    const makeReader = options.readerFactory ?? ((target: NodeTarget, ms: number) => new NodeReader(target, ms, resolver));
    this.makeState = (target) => {
      // A node's last stored sample continues its epoch across a restart of the daemon.
      const last = store.latestSample(target.cluster, target.name);
      const settings = last ? store.latestSettings(target.cluster, target.name) : null;
      return {
        target,
        reader: makeReader(target, timeoutMs),
        last,
        settingsEpoch: settings && last && settings.epoch === last.epoch ? settings.epoch : null,
        consecutiveFailures: 0,
        failedAttempts: 0,
        lastFailure: null,
        retryAt: null,
      };
    };
    this.nodes = config.clusters.flatMap((c) => c.nodes.filter((t) => !t.departed).map(this.makeState));
    this.memberships = config.clusters.filter((c) => c.discovery).map((c) => new Membership(c, { timeoutMs, log, now: this.now, resolver }));
  }

  /**
   * Called after every completed cycle (analysis, metrics and rules hang off this). The cycle
   * counts as running until the listeners are done, so the next tick never overlaps them.
   */
  onCycle(listener: (result: CycleResult) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.task = cron.schedule(this.config.sampling.schedule, () => {
      void this.runCycle().catch((err: Error) => this.log.error('sampling cycle failed', { err }));
    });
  }

  /** Stops the schedule, lets a running cycle finish, and closes every connection. */
  async stop(): Promise<void> {
    this.task?.stop();
    this.task = null;
    await this.running?.catch(() => undefined);
    await Promise.all([...this.nodes.map((n) => n.reader.close()), ...this.memberships.map((m) => m.close())]);
  }

  /** Runs one cycle, or returns null when the previous one is still running. */
  async runCycle(): Promise<CycleResult | null> {
    if (this.running) {
      this.skippedCycles++;
      this.log.warn('sampling cycle skipped: the previous one is still running', { skippedCycles: this.skippedCycles });
      return null;
    }
    this.running = this.cycle();
    try {
      const result = await this.running;
      for (const listener of this.listeners) {
        try {
          await listener(result);
        } catch (err) {
          this.log.error('cycle listener failed', { err });
        }
      }
      return result;
    } finally {
      this.running = null;
    }
  }

  private async cycle(): Promise<CycleResult> {
    const startedAt = this.now();
    await this.followMembership();
    const outcomes = await mapWithConcurrency(this.nodes, this.config.sampling.concurrency, async (n) =>
      n.retryAt !== null && startedAt < n.retryAt ? this.stillBackingOff(n, startedAt) : this.sampleNode(n, startedAt),
    );
    return { startedAt, durationMs: this.now() - startedAt, outcomes };
  }

  /**
   * Refreshes the discovery clusters' members (each refresh under the sampling timeout, at most
   * `concurrency` at once) and brings the sampled nodes in line: new members are sampled from this
   * cycle on, departed ones no more (their history stays).
   */
  private async followMembership(): Promise<void> {
    if (this.memberships.length === 0) return;
    await mapWithConcurrency(this.memberships, this.config.sampling.concurrency, (m) => m.refresh());
    const wanted = this.config.clusters.flatMap((c) => c.nodes.filter((t) => !t.departed));
    const current = new Map(this.nodes.map((n) => [n.target, n]));
    const gone = this.nodes.filter((n) => !wanted.includes(n.target));
    for (const n of gone) void n.reader.close();
    this.nodes = wanted.map((t) => current.get(t) ?? this.makeState(t));
  }

  /** What went wrong in the last discovery of each cluster that uses it (null when nothing). */
  discoveryErrors(): Map<string, string | null> {
    return new Map(this.memberships.map((m, i) => [this.config.clusters.filter((c) => c.discovery)[i]!.name, m.lastError]));
  }

  private async sampleNode(state: NodeState, cycleStartedAt: number): Promise<NodeOutcome> {
    const { cluster, name: node } = state.target;
    const started = this.now();
    let status: NodeStatus;
    try {
      status = await state.reader.readStatus();
    } catch (err) {
      return this.fail(state, started, cycleStartedAt, err);
    }
    const finished = this.now();
    // The status reflects some instant during the query; its midpoint is the best guess.
    const takenAt = Math.round((started + finished) / 2);
    const point = { takenAt, status };
    const breakReason = state.last ? epochBreakReason(state.last, point) : null;
    const epoch = !state.last ? 1 : breakReason ? state.last.epoch + 1 : state.last.epoch;
    const sample: StoredSample = { cluster, node, takenAt, epoch, durationMs: finished - started, status };

    const events: StoredEvent[] = [];
    const failures: StoredFailure[] = [];
    let settings: NodeSettings | null = null;
    if (breakReason) {
      this.log.info('new counter epoch', { cluster, node, epoch, reason: breakReason });
      events.push({ cluster, node, at: takenAt, kind: 'epoch_start', detail: { epoch, reason: breakReason } });
    }
    if (state.settingsEpoch !== epoch) {
      try {
        const read = await state.reader.readSettings();
        settings = { cluster, node, epoch, readAt: takenAt, sstDonor: read.sstDonor, ...read.gcache };
        state.settingsEpoch = epoch;
      } catch (err) {
        // The sample is still good; the settings are tried again next cycle.
        const failure = classifyFailure(err);
        this.log.warn('could not read gcache settings', { cluster, node, reason: failure.reason, error: failure.message });
        failures.push({ cluster, node, takenAt, reason: failure.reason, message: `settings: ${failure.message}` });
      }
    }
    const delta = state.last && !breakReason ? sampleDelta(state.last, point) : null;
    state.last = sample;
    if (state.consecutiveFailures > 0) this.log.info('node reachable again', { cluster, node, after: state.consecutiveFailures });
    state.consecutiveFailures = 0;
    state.failedAttempts = 0;
    state.lastFailure = null;
    state.retryAt = null;
    return { cluster, node, ok: true, sample, newEpochReason: breakReason, delta, settings, events, failures };
  }

  private fail(state: NodeState, takenAt: number, cycleStartedAt: number, err: unknown): NodeOutcome {
    const { cluster, name: node } = state.target;
    const failure = classifyFailure(err);
    state.consecutiveFailures++;
    state.failedAttempts++;
    state.lastFailure = failure;
    // Counted from the cycle's start, so that "one interval" lines up with the schedule's ticks.
    state.retryAt = cycleStartedAt + backoffDelayMs(state.failedAttempts, this.backoff, this.random);
    this.logFailure(state, failure);
    return { cluster, node, ok: false, takenAt, failure, consecutiveFailures: state.consecutiveFailures };
  }

  /** A node in its backoff: not contacted, nothing stored, but reported failing with its last failure. */
  private stillBackingOff(state: NodeState, cycleStartedAt: number): NodeOutcome {
    const { cluster, name: node } = state.target;
    const last = state.lastFailure!;
    state.consecutiveFailures++;
    const failure: Failure = {
      reason: last.reason,
      message: `not contacted: backing off after ${state.failedAttempts} failed attempt${state.failedAttempts === 1 ? '' : 's'} until ${new Date(state.retryAt!).toISOString()}; last failure: ${last.message}`,
    };
    this.logFailure(state, failure);
    return { cluster, node, ok: false, takenAt: cycleStartedAt, failure, consecutiveFailures: state.consecutiveFailures, backingOff: true };
  }

  // The first failure and then every tenth, so that a node that is down for hours does not flood the log.
  private logFailure(state: NodeState, failure: Failure): void {
    if (state.consecutiveFailures === 1 || state.consecutiveFailures % 10 === 0) {
      const { cluster, name: node } = state.target;
      this.log.warn('node sample failed', { cluster, node, reason: failure.reason, error: failure.message, consecutiveFailures: state.consecutiveFailures });
    }
  }
}

/**
 * The shortest gap between the schedule's next runs: the backoff's first pause. A schedule with
 * uneven gaps ("0,5 * * * * *") gets the shorter one, so that a node is retried rather later than
 * never.
 */
export function scheduleIntervalMs(schedule: string): number {
  const task = cron.createTask(schedule, () => undefined);
  try {
    const runs = task.getNextRuns(6).map((d) => d.getTime());
    const gaps = runs.slice(1).map((t, i) => t - runs[i]!);
    return gaps.length > 0 ? Math.min(...gaps) : MINUTE_MS;
  } finally {
    void task.destroy();
  }
}
