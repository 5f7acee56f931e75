/**
 * What one read of a node produces, as the store keeps it: the sample, a failure, the gcache
 * settings, an event. Defined here, where they are made; the store imports them.
 */
import type { NodeStatus } from './status.js';
import type { GcacheSettings } from './provider-options.js';

export interface StoredSample {
  cluster: string;
  node: string;
  takenAt: number;
  epoch: number;
  durationMs: number;
  status: NodeStatus;
}

export interface StoredFailure {
  cluster: string;
  node: string;
  takenAt: number;
  reason: string;
  message: string;
}

export interface NodeSettings extends GcacheSettings {
  cluster: string;
  node: string;
  epoch: number;
  readAt: number;
  sstDonor: string;
}

export interface StoredEvent {
  cluster: string;
  node: string;
  at: number;
  kind: string;
  detail: Record<string, unknown>;
}

/** What the sampler reads back when it starts: where each node's last epoch left off. */
export interface SampleMemory {
  latestSample(cluster: string, node: string): StoredSample | null;
  latestSettings(cluster: string, node: string): NodeSettings | null;
}
