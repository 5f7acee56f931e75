/** The fleet benchmark's figures, as a table for people and one JSON line for tools. */

export interface BenchFigures {
  bench: 'fleet';
  /** loadAverage: the 1-minute load average at the start and the end of the measurement (other work on the machine skews every figure). */
  machine: { cpu: string; cores: number; node: string; daemonNodeFlags: string[]; daemonEnv: Record<string, string>; loadAverage: { start: number; end: number } };
  nodes: number;
  clusters: number;
  nodesPerCluster: number;
  historySeconds: number;
  intervalSeconds: number;
  /** How long the figures were measured, after the warm-up. */
  measuredSeconds: number;
  seeding: { samples: number; rollupOnlySamples: number; seconds: number };
  /** From the daemon's start to the end of its warm-up cycles. */
  startupSeconds: number;
  /** Daemon CPU over the measurement, as a share of one core (0.084 = 8.4%). */
  daemonCpuShare: number;
  /** The simulator's CPU over the same period, for context: it shares the machine. */
  simulatorCpuShare: number;
  rssBytes: number;
  peakRssBytes: number;
  /** Of the resident set now, the pages mapped from files: the Node.js binary and the libraries' code. */
  fileBackedRssBytes: number;
  /**
   * Where the resident set goes, from the daemon's own gauges at the end: the V8 heap (used and
   * reserved), memory outside it (typed arrays, buffers), and the analysis state's share of that.
   */
  memory: { heapUsedBytes: number | null; heapTotalBytes: number | null; externalBytes: number | null; analysisStateBytes: number | null };
  /**
   * count: cycles completed while measured; ticks: schedule ticks in that time (the last cycles of
   * the period may complete just after it, so count can be a tick short). skipped: ticks that ran
   * no cycle: the daemon's "sampling cycle skipped" plus node-cron's "missed execution" (a tick
   * dropped while the event loop was blocked, which the daemon never sees).
   */
  cycles: {
    count: number;
    ticks: number;
    p50Ms: number | null;
    p99Ms: number | null;
    skipped: number;
    skippedByDaemon: number;
    missedTicks: number;
    skippedSinceStart: number;
  };
  /** The highest per-cycle event-loop delay p99 the daemon reported; null where it reports none. */
  eventLoopDelayP99Ms: number | null;
  /** The highest per-cycle maximum, and the longest each step held the event loop at once (what an HTTP request can wait behind). */
  eventLoopDelayMaxMs: number | null;
  longestStepMs: Record<string, number>;
  /** bytes: on the wire, as Prometheus gets them (gzipped); textBytes: the exposition uncompressed. */
  metrics: { scrapes: number; p50Ms: number | null; p99Ms: number | null; bytes: number | null; textBytes: number | null; failures: number; firstFailure: string | null };
  rest: { targetRate: number; achievedRate: number; requests: number; p50Ms: number; p99Ms: number; maxMs: number; non2xx: number; errors: number };
  /** Bytes the database grows by per node and day of sampling at the interval (measured per completed cycle). */
  dbGrowthBytesPerNodeDay: number | null;
  daemonErrors: number;
}

export function formatDuration(seconds: number): string {
  if (seconds > 0 && seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds > 0 && seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60}m`;
  return `${Math.round(seconds * 10) / 10}s`;
}

function mb(bytes: number | null): string {
  return bytes === null ? 'n/a' : `${(bytes / 1e6).toFixed(bytes < 10e6 ? 2 : 0)} MB`;
}

function ms(value: number | null): string {
  if (value === null) return 'n/a';
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`;
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

export function formatTable(f: BenchFigures): string {
  const rows: Array<[string, string]> = [
    [
      'machine',
      `${f.machine.cpu}, ${f.machine.cores} cores, node ${f.machine.node} (daemon flags: ${f.machine.daemonNodeFlags.join(' ') || 'none'}; daemon env: ${
        Object.entries(f.machine.daemonEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || 'none'
      }); load average ${f.machine.loadAverage.start.toFixed(2)} → ${f.machine.loadAverage.end.toFixed(2)}`,
    ],
    ['nodes', `${f.nodes} (${f.clusters} clusters × ${f.nodesPerCluster}), sampled every ${formatDuration(f.intervalSeconds)}`],
    [
      'history',
      `${formatDuration(f.historySeconds)} (seeded ${f.seeding.samples.toLocaleString('en')} samples + ${f.seeding.rollupOnlySamples.toLocaleString('en')} per-minute in ${f.seeding.seconds.toFixed(1)} s)`,
    ],
    ['measured', `${Math.round(f.measuredSeconds)} s after the warm-up (daemon start to warm: ${f.startupSeconds.toFixed(1)} s)`],
    ['daemon CPU', `${pct(f.daemonCpuShare)} of one core (simulator: ${pct(f.simulatorCpuShare)})`],
    ['RSS', `${mb(f.rssBytes)} now, ${mb(f.peakRssBytes)} peak; of it ${mb(f.fileBackedRssBytes)} mapped from files (the Node.js binary, libraries)`],
    [
      'memory',
      `V8 heap ${mb(f.memory.heapUsedBytes)} used of ${mb(f.memory.heapTotalBytes)}; outside it ${mb(f.memory.externalBytes)}, of which analysis state ${mb(f.memory.analysisStateBytes)}`,
    ],
    ['cycle duration', `p50 ${ms(f.cycles.p50Ms)}, p99 ${ms(f.cycles.p99Ms)} (${f.cycles.count} cycles completed in ${f.cycles.ticks} ticks)`],
    [
      'cycles skipped',
      `${f.cycles.skipped} (${f.cycles.skippedByDaemon} by the daemon, ${f.cycles.missedTicks} ticks dropped by node-cron); ${f.cycles.skippedSinceStart} since start`,
    ],
    [
      'event-loop delay',
      `p99 ${ms(f.eventLoopDelayP99Ms)}${f.eventLoopDelayP99Ms === null ? ' (the daemon does not report it)' : ' (worst cycle)'}, max ${ms(f.eventLoopDelayMaxMs)}`,
    ],
    [
      'longest blocks',
      Object.entries(f.longestStepMs)
        .sort((a, b) => b[1] - a[1])
        .map(([step, held]) => `${step} ${ms(held)}`)
        .join(', ') || 'n/a (the daemon does not report them)',
    ],
    [
      '/metrics',
      `p50 ${ms(f.metrics.p50Ms)}, p99 ${ms(f.metrics.p99Ms)}, ${mb(f.metrics.bytes)} gzipped (${mb(f.metrics.textBytes)} of text; ${f.metrics.scrapes} scrapes, ${f.metrics.failures} failed${f.metrics.firstFailure ? `: ${f.metrics.firstFailure}` : ''})`,
    ],
    [
      'REST window',
      `p99 ${ms(f.rest.p99Ms)} (p50 ${ms(f.rest.p50Ms)}, max ${ms(f.rest.maxMs)}) at ${f.rest.targetRate} req/s (made ${f.rest.achievedRate.toFixed(1)}/s, ${f.rest.non2xx} non-2xx, ${f.rest.errors} errors)`,
    ],
    ['database growth', `${mb(f.dbGrowthBytesPerNodeDay)} per node-day`],
    ['daemon errors', String(f.daemonErrors)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

export function formatJsonLine(f: BenchFigures): string {
  return JSON.stringify(f);
}
