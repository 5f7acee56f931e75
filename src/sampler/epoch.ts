/**
 * Counter epochs. A restart resets Galera's counters, so a rate computed across one would be
 * garbage (negative, or a huge spike). Every sample belongs to an epoch; a new epoch starts
 * whenever the counters can no longer be trusted to continue the previous sample's. Pure.
 */
import type { NodeStatus } from './status.js';

export interface EpochPoint {
  takenAt: number; // ms since the Unix epoch
  status: NodeStatus;
}

/**
 * Uptime has one-second granularity and the query itself takes time: two samples whose
 * implied server start times differ by less than this are the same run of the server.
 */
const START_TIME_TOLERANCE_MS = 5_000;

/** Why `next` cannot continue `prev`'s epoch, or null when it can. */
export function epochBreakReason(prev: EpochPoint, next: EpochPoint): string | null {
  const p = prev.status;
  const n = next.status;
  if (n.uptimeSeconds < p.uptimeSeconds) return `Uptime dropped from ${p.uptimeSeconds} to ${n.uptimeSeconds}`;
  // A restart between two samples can leave Uptime higher than before if the gap was long; the
  // server's implied start time still moves.
  const prevStart = prev.takenAt - p.uptimeSeconds * 1000;
  const nextStart = next.takenAt - n.uptimeSeconds * 1000;
  if (nextStart - prevStart > START_TIME_TOLERANCE_MS) return `server restarted (start time moved by ${Math.round((nextStart - prevStart) / 1000)} s)`;
  for (const counter of ['receivedBytes', 'replicatedBytes', 'received', 'replicated', 'lastCommitted'] as const) {
    if (n[counter] < p[counter]) return `${counter} went backwards from ${p[counter]} to ${n[counter]}`;
  }
  if (p.localStateUuid && n.localStateUuid !== p.localStateUuid) return `wsrep_local_state_uuid changed from ${p.localStateUuid} to ${n.localStateUuid}`;
  if (p.clusterStateUuid && n.clusterStateUuid !== p.clusterStateUuid) return `wsrep_cluster_state_uuid changed from ${p.clusterStateUuid} to ${n.clusterStateUuid}`;
  return null;
}

/** The counters' movement from one sample to the next within an epoch. */
export interface SampleDelta {
  seconds: number;
  bytes: number; // Δ(replicated_bytes + received_bytes): the gcache fill
  writeSets: number; // Δ last_committed
}

export function sampleDelta(prev: EpochPoint, next: EpochPoint): SampleDelta {
  return {
    seconds: (next.takenAt - prev.takenAt) / 1000,
    bytes: next.status.replicatedBytes + next.status.receivedBytes - (prev.status.replicatedBytes + prev.status.receivedBytes),
    writeSets: next.status.lastCommitted - prev.status.lastCommitted,
  };
}
