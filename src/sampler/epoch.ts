/**
 * Counter epochs. A restart resets Galera's counters, so a rate computed across one would be
 * garbage (negative, or a huge spike). Every sample belongs to an epoch; a new epoch starts
 * whenever the counters can no longer be trusted to continue the previous sample's. Pure.
 */
import { EXACT_COUNTERS, exactCounter, type ExactCounterName, type NodeStatus } from './status.js';

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
  for (const counter of EXACT_COUNTERS) {
    // Exactly: beyond 2^53 a step back by less than a double's ULP would vanish in the numbers.
    const before = exactCounter(p, counter) ?? p[counter];
    const after = exactCounter(n, counter) ?? n[counter];
    if (after < before) return `${counter} went backwards from ${before} to ${after}`;
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
    bytes: counterDelta(prev.status, next.status, ['replicatedBytes', 'receivedBytes']),
    writeSets: counterDelta(prev.status, next.status, ['lastCommitted']),
  };
}

/**
 * Δ of the sum of some counters, computed exactly in BigInt (the counters are 64-bit; a double
 * loses the low bits beyond 2^53, which would make a small delta of a large counter wrong),
 * then turned into a number: a delta is small. Falls back to the numbers if a value is not an integer.
 */
function counterDelta(prev: NodeStatus, next: NodeStatus, counters: ExactCounterName[]): number {
  let exact = 0n;
  for (const c of counters) {
    const before = exactCounter(prev, c);
    const after = exactCounter(next, c);
    if (before === null || after === null) return counters.reduce((sum, k) => sum + next[k] - prev[k], 0);
    exact += after - before;
  }
  return Number(exact);
}
