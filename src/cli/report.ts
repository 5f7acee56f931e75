/**
 * `gcache-advisor report`: the answer for the DBA who just wants it. A terminal table of every
 * node (window measured and estimated, IST budget at the current rate, by the forecast and at a
 * pessimistic rate, donor), the countdown of any node that is away, then each cluster's
 * recommendation with its arithmetic and warnings. Reads the latest analysis the daemon stored.
 */
import type { ClusterAnalysis, NodeAnalysis } from '../analysis/cluster-analysis.js';
import { formatBytes, formatDuration } from '../units/format.js';

const dash = '–';

function seconds(v: number | null | undefined, lowerBound = false): string {
  if (v === null || v === undefined) return dash;
  return (lowerBound ? '≥ ' : '') + formatDuration(v);
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]!].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(widths[i]! - [...c].length))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

/** "node2 away for 5 min: IST lost in ~7 min (safe 3 min), donor node1", for a node that is away; else null. */
export function awayLine(n: NodeAnalysis): string | null {
  const r = n.rejoin;
  if (!r) return null;
  const away = `${n.node} away for ${formatDuration(r.awaySeconds)}`;
  switch (r.verdict) {
    case 'ist-lost':
      // The reason ends with the consequence ("…: the node will need an SST").
      return `${away}: IST lost — ${r.reason}`;
    case 'unknown':
      return `${away}: IST outlook unknown (${r.reason})`;
    default: {
      const { likely, safe } = r.remainingSeconds;
      const donor = r.donor ? `, donor ${r.donor}` : '';
      const bytes = formatBytes(r.remainingBytes ?? 0);
      // Both figures come from one forecast: both known or neither.
      if (likely === null || safe === null) return `${away}: IST still possible for ${bytes} more writes${donor}; not enough write history for a time yet`;
      const urgent = r.verdict === 'sst-likely' ? ': bring it back now' : '';
      return `${away}: IST lost in ~${seconds(likely)} (safe ${seconds(safe)}), after ${bytes} more writes${donor}${urgent}`;
    }
  }
}

export function renderReport(analyses: readonly ClusterAnalysis[], now: number): string {
  const out: string[] = [];
  for (const a of analyses) {
    out.push(`Cluster ${a.cluster}: target window ${formatDuration(a.recommendation.targetWindowSeconds)}, analysed ${formatDuration((now - a.computedAt) / 1000)} ago`);
    out.push('');
    out.push(
      table(
        ['node', 'state', 'gcache', 'window (measured)', 'est. 5m rate', 'est. long rate', 'IST budget', 'likely', 'safe', 'pessimistic', 'donor'],
        a.nodes.map((n) => [
          n.node,
          n.reachable ? `${n.localState ?? '?'}${n.clusterStatus && n.clusterStatus !== 'Primary' ? `/${n.clusterStatus}` : ''}` : 'UNREACHABLE',
          n.gcacheSizeBytes === null ? dash : formatBytes(n.gcacheSizeBytes),
          n.measured.measuredSeconds !== null
            ? seconds(n.measured.measuredSeconds)
            : n.measured.ring === 'filling'
              ? `not full (${seconds(n.measured.ageSeconds, n.measured.lowerBound)})`
              : n.measured.ring === 'empty'
                ? 'EMPTY'
                : n.measured.lowerBound
                  ? seconds(n.measured.ageSeconds, true)
                  : dash,
          seconds(n.estimated.short.bestSeconds),
          seconds(n.estimated.long.bestSeconds),
          seconds(n.istBudget.current?.seconds),
          seconds(n.istBudget.likely?.seconds),
          seconds(n.istBudget.safe?.seconds),
          seconds(n.istBudget.pessimistic?.seconds),
          n.istBudget.current?.donor ?? dash,
        ]),
      ),
    );
    for (const n of a.nodes) {
      const line = awayLine(n);
      if (line) out.push(line);
    }
    out.push('');
    const r = a.recommendation;
    if (r.recommendedGcacheSizeBytes !== null) {
      const current = r.currentGcacheSizeBytes === null ? '' : ` (now ${formatBytes(r.currentGcacheSizeBytes)})`;
      out.push(`Recommended gcache.size for ${formatDuration(r.targetWindowSeconds)}: ${formatBytes(r.recommendedGcacheSizeBytes)}${current}`);
    } else {
      out.push('Recommended gcache.size: not yet (no write rate measured)');
    }
    for (const line of r.arithmetic.text) out.push(`  ${line}`);
    out.push(`  trend: ${a.trend.summary}`);
    if (r.warnings.length) {
      out.push('Warnings:');
      for (const w of r.warnings) out.push(`  ! ${w}`);
    }
    for (const n of a.nodes) if (n.historyDrop) out.push(`  ! ${n.node}: ${n.historyDrop.reason}`);
    out.push('');
  }
  return out.join('\n');
}
