/**
 * One sampling cycle reads every node in parallel, each under its own deadline, decides each
 * sample's counter epoch, reads the gcache settings at the start of every epoch, and stores
 * the results. Cycles never overlap: a tick that finds the previous cycle still running is
 * skipped and counted.
 */
import cron from 'node-cron';
import type { Config, NodeTarget } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { Store, StoredSample } from '../store/store.js';
import { NodeReader } from './node-reader.js';
import { epochBreakReason, sampleDelta } from './epoch.js';
import { classifyFailure, type Failure } from './failure.js';
import type { NodeStatus } from './status.js';

export type NodeOutcome =
  | { cluster: string; node: string; ok: true; sample: StoredSample; newEpochReason: string | null }
  | { cluster: string; node: string; ok: false; takenAt: number; failure: Failure; consecutiveFailures: number };

export interface CycleResult {
  startedAt: number;
  durationMs: number;
  outcomes: NodeOutcome[];
}

interface NodeState {
  target: NodeTarget;
  reader: NodeReader;
  last: StoredSample | null;
  /** Epoch whose gcache settings are stored; the settings are read again when the epoch moves on. */
  settingsEpoch: number | null;
  consecutiveFailures: number;
}

export interface SamplerOptions {
  now?: () => number;
}

export class Sampler {
  private readonly nodes: NodeState[];
  private running: Promise<CycleResult> | null = null;
  private task: ReturnType<typeof cron.schedule> | null = null;
  private readonly listeners: Array<(result: CycleResult) => void> = [];
  private readonly now: () => number;
  skippedCycles = 0;

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly log: Logger,
    options: SamplerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    const latest = new Map(store.latestSamples().map((s) => [`${s.cluster}\u0000${s.node}`, s]));
    this.nodes = config.clusters.flatMap((c) =>
      c.nodes.map((target) => {
        const last = latest.get(`${c.name}\u0000${target.name}`) ?? null;
        const settings = last ? store.latestSettings(c.name, target.name) : null;
        return {
          target,
          reader: new NodeReader(target, config.sampling.timeoutSeconds * 1000),
          last,
          settingsEpoch: settings && last && settings.epoch === last.epoch ? settings.epoch : null,
          consecutiveFailures: 0,
        };
      }),
    );
  }

  /** Called after every completed cycle (analysis, metrics and rules hang off this). */
  onCycle(listener: (result: CycleResult) => void): void {
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
    await Promise.all(this.nodes.map((n) => n.reader.close()));
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
          listener(result);
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
    const outcomes = await Promise.all(this.nodes.map((n) => this.sampleNode(n)));
    return { startedAt, durationMs: this.now() - startedAt, outcomes };
  }

  private async sampleNode(state: NodeState): Promise<NodeOutcome> {
    const { cluster, name: node } = state.target;
    const started = this.now();
    let status: NodeStatus;
    try {
      status = await state.reader.readStatus();
    } catch (err) {
      return this.fail(state, started, err);
    }
    const finished = this.now();
    // The status reflects some instant during the query; its midpoint is the best guess.
    const takenAt = Math.round((started + finished) / 2);
    const point = { takenAt, status };
    const breakReason = state.last ? epochBreakReason(state.last, point) : null;
    const epoch = !state.last ? 1 : breakReason ? state.last.epoch + 1 : state.last.epoch;
    const sample: StoredSample = { cluster, node, takenAt, epoch, durationMs: finished - started, status };

    if (breakReason) {
      this.log.info('new counter epoch', { cluster, node, epoch, reason: breakReason });
      this.store.recordEvent({ cluster, node, at: takenAt, kind: 'epoch_start', detail: { epoch, reason: breakReason } });
    }
    if (state.settingsEpoch !== epoch) {
      try {
        const settings = await state.reader.readSettings();
        this.store.recordSettings({ cluster, node, epoch, readAt: takenAt, sstDonor: settings.sstDonor, ...settings.gcache });
        state.settingsEpoch = epoch;
      } catch (err) {
        // The sample is still good; the settings are tried again next cycle.
        const failure = classifyFailure(err);
        this.log.warn('could not read gcache settings', { cluster, node, reason: failure.reason, error: failure.message });
        this.store.recordFailure({ cluster, node, takenAt, reason: failure.reason, message: `settings: ${failure.message}` });
      }
    }
    const delta = state.last && !breakReason ? sampleDelta(state.last, point) : null;
    this.store.recordSample(sample, delta);
    state.last = sample;
    if (state.consecutiveFailures > 0) this.log.info('node reachable again', { cluster, node, after: state.consecutiveFailures });
    state.consecutiveFailures = 0;
    return { cluster, node, ok: true, sample, newEpochReason: breakReason };
  }

  private fail(state: NodeState, takenAt: number, err: unknown): NodeOutcome {
    const { cluster, name: node } = state.target;
    const failure = classifyFailure(err);
    state.consecutiveFailures++;
    this.store.recordFailure({ cluster, node, takenAt, reason: failure.reason, message: failure.message });
    // Log the first failure and then every tenth, so a node that is down for hours does not flood the log.
    if (state.consecutiveFailures === 1 || state.consecutiveFailures % 10 === 0) {
      this.log.warn('node sample failed', { cluster, node, reason: failure.reason, error: failure.message, consecutiveFailures: state.consecutiveFailures });
    }
    return { cluster, node, ok: false, takenAt, failure, consecutiveFailures: state.consecutiveFailures };
  }
}
