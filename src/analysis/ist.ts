/**
 * The IST budget: how long a node could be away, starting now, and still rejoin by IST. Pure.
 *
 * A node that leaves at seqno S rejoins needing S+1 onwards. Galera gives it an IST when a
 * Synced donor (same gmcast segment preferred, wsrep_sst_donor respected) still caches S+1, and
 * when S is not inside the safety gap: it refuses IST when S < lowest + min((last - lowest) >> 7, 2^20),
 * lowest being the lowest seqno cached in the group and last the current seqno. So the budget
 * is the time until the donors' rings have evicted S+1 (or until the group's lowest cached seqno
 * comes within the gap of S), at a given forward write rate.
 */
import { bytesAtTime, timeAtSeqno } from './timeline.js';
import { asSeries, type SeriesLike } from './series.js';

export interface Member {
  name: string;
  synced: boolean;
  segment: number | null;
  lastCommitted: number;
  downto: number | null;
  /** The member's own samples (for its byte counters). */
  points: SeriesLike;
  /** Counted bytes its ring holds when full. */
  capacityBytes: number;
  /** Counted bytes it holds now (null when unknown). */
  heldBytes: number | null;
}

export interface IstBudget {
  seconds: number | null;
  /** The same budget in counted bytes: how much the cluster may write before IST is lost. */
  bytes: number | null;
  donor: string | null;
  /** Seqno the node would need first on rejoin (S+1). */
  needsSeqno: number;
  /** Galera's safety gap at the current cached range, in seqnos. */
  safetyGapSeqnos: number;
  reason: string;
}

/** Galera's IST safety gap: min((last - lowest) >> 7, 2^20) seqnos. */
export function istSafetyGap(lowest: number, last: number): number {
  return Math.min(Math.floor(Math.max(0, last - lowest) / 128), 2 ** 20);
}

/**
 * Parses wsrep_sst_donor: a comma-separated list of node names; a trailing comma means any other
 * node may donate when the listed ones cannot.
 */
export function parseDonorList(value: string): { names: string[]; othersAllowed: boolean } {
  const trimmed = value.trim();
  if (!trimmed) return { names: [], othersAllowed: true };
  return {
    names: trimmed
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    othersAllowed: trimmed.endsWith(','),
  };
}

/**
 * Counted bytes that member `m` must still take in before seqno `x` leaves its ring: its free
 * space, plus what it holds that is older than x. Zero when x is already gone.
 */
export function bytesUntilEvicted(m: Member, x: number, clusterSeqnoPoints: SeriesLike): number | null {
  if (m.downto === null || x < m.downto) return 0;
  if (m.heldBytes === null) return null;
  const points = asSeries(m.points);
  if (points.length === 0) return null;
  const latestBytes = points.bytes(points.length - 1);
  const at = timeAtSeqno(clusterSeqnoPoints, x);
  // x newer than anything recorded: everything the member holds is older than x.
  const bytesAtX = !at || at.kind === 'after' ? latestBytes : bytesAtTime(points, at.t);
  if (bytesAtX === null) return null;
  const heldOlderThanX = m.heldBytes - (latestBytes - bytesAtX);
  const free = Math.max(0, m.capacityBytes - m.heldBytes);
  return free + Math.max(0, heldOlderThanX);
}

export function istBudget(
  joiner: { name: string; lastCommitted: number; segment: number | null; sstDonor: string; synced: boolean },
  members: readonly Member[],
  clusterSeqnoPoints: SeriesLike,
  bytesPerSecond: number | null,
): IstBudget {
  const needsSeqno = joiner.lastCommitted + 1;
  const others = members.filter((m) => m.name !== joiner.name && m.synced && m.downto !== null);
  const base = { needsSeqno, safetyGapSeqnos: 0, bytes: null };
  if (!joiner.synced) return { ...base, seconds: null, donor: null, reason: 'the node is not Synced: it is away already' };
  if (others.length === 0) return { ...base, seconds: 0, bytes: 0, donor: null, reason: 'no other Synced node holds a gcache: any rejoin needs an SST' };

  const { names, othersAllowed } = parseDonorList(joiner.sstDonor);
  const eligible = names.length === 0 || othersAllowed ? others : others.filter((m) => names.includes(m.name));
  if (eligible.length === 0) return { ...base, seconds: 0, bytes: 0, donor: null, reason: `no Synced node is allowed by wsrep_sst_donor=${joiner.sstDonor}` };

  let lowest = Number.POSITIVE_INFINITY;
  let last = joiner.lastCommitted;
  for (const m of others) {
    lowest = Math.min(lowest, m.downto!);
    last = Math.max(last, m.lastCommitted);
  }
  const gap = istSafetyGap(lowest, last);

  // Donor condition: some eligible donor still caches S+1.
  let best: { member: Member; bytes: number } | null = null;
  for (const m of eligible) {
    const bytes = bytesUntilEvicted(m, needsSeqno, clusterSeqnoPoints);
    if (bytes === null) continue;
    const better = !best || bytes > best.bytes || (bytes === best.bytes && m.segment === joiner.segment && best.member.segment !== joiner.segment);
    if (better) best = { member: m, bytes };
  }
  if (!best) return { ...base, safetyGapSeqnos: gap, seconds: null, donor: null, reason: 'not enough history to model the donors yet' };

  // Gap condition: the group's lowest cached seqno must stay at or below S - gap, i.e. some
  // member still holds S - gap.
  let gapBytes = 0;
  for (const m of others) gapBytes = Math.max(gapBytes, bytesUntilEvicted(m, joiner.lastCommitted - gap, clusterSeqnoPoints) ?? 0);

  const limitingBytes = Math.min(best.bytes, gapBytes);
  const limitedByGap = gapBytes < best.bytes;
  const writing = bytesPerSecond !== null && bytesPerSecond > 0;
  return {
    needsSeqno,
    safetyGapSeqnos: gap,
    // With no writes nothing is ever evicted: the budget in time is unbounded.
    seconds: writing ? limitingBytes / bytesPerSecond : null,
    bytes: limitingBytes,
    donor: best.member.name,
    reason: !writing
      ? 'no writes: nothing is evicted, the budget in time is unbounded'
      : limitedByGap
        ? `limited by Galera's IST safety gap of ${gap} seqnos`
        : `until ${best.member.name}'s gcache evicts seqno ${needsSeqno}`,
  };
}
