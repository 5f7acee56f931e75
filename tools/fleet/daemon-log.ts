/**
 * Follows the daemon's JSON-lines log (stderr) while the benchmark runs: where it listens, every
 * completed cycle ("cycle done" at debug level, with durationMs and, where the daemon reports
 * it, eventLoopDelayP99Ms), skipped cycles (the daemon's own count, and the ticks node-cron
 * drops when the event loop is blocked), and errors. Every line is also copied to a file,
 * and the pipe is always drained, so a chatty daemon never blocks on a full pipe.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import type { Readable } from 'node:stream';

export interface CycleRecord {
  /** When the line was read, ms since the Unix epoch. */
  at: number;
  durationMs: number;
  eventLoopDelayP99Ms: number | null;
  nodes: number | null;
  ok: number | null;
  /** The analysis state's typed arrays, as the daemon counts them (debug level). */
  analysisStateBytes: number | null;
  /** The longest the event loop was held without a break, and by which step (ms). */
  eventLoopDelayMaxMs: number | null;
  longestStepMs: Record<string, number>;
}

const TAIL_LINES = 20;

export class DaemonLog {
  readonly cycles: CycleRecord[] = [];
  /** When each "sampling cycle skipped" line was read. */
  readonly skipped: number[] = [];
  /**
   * When each node-cron "missed execution" warning was read: a tick that found the event loop
   * blocked and was dropped before the daemon could see (and count) it.
   */
  readonly missedTicks: number[] = [];
  /** Messages of error-level lines. */
  readonly errors: string[] = [];
  url: string | null = null;
  private readonly tail: string[] = [];
  private readonly waiters = new Set<() => void>();
  /** Called with every completed cycle, as soon as its line is read. */
  onCycle: ((cycle: CycleRecord) => void) | null = null;
  private readonly out: fs.WriteStream;
  private readonly ended: Promise<void>;
  private closed = false;

  constructor(
    stream: Readable,
    readonly file: string,
  ) {
    this.out = fs.createWriteStream(file);
    const lines = readline.createInterface({ input: stream });
    lines.on('line', (line) => this.take(line));
    this.ended = new Promise((resolve) => lines.once('close', resolve));
  }

  /** The last lines read: what to show when the daemon dies. */
  lastLines(): string {
    return this.tail.join('\n');
  }

  /** Resolves when `ready()` is true; rejects after `timeoutMs` or as soon as `stopped` settles. */
  waitFor(ready: () => boolean, timeoutMs: number, what: string, stopped: Promise<unknown>): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (ready()) done();
      };
      const timer = setTimeout(() => done(new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s; last daemon log lines:\n${this.lastLines()}`)), timeoutMs);
      this.waiters.add(check);
      stopped.then(
        () => done(new Error(`${what}: the daemon exited first; last log lines:\n${this.lastLines()}`)),
        () => done(new Error(`${what}: the daemon failed; last log lines:\n${this.lastLines()}`)),
      );
    });
  }

  /** Waits (briefly) for the daemon's last lines, then closes the file. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.ended, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    this.closed = true;
    await new Promise<void>((resolve) => this.out.end(resolve));
  }

  private take(line: string): void {
    if (!this.closed) this.out.write(line + '\n');
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // Not a log record: node-cron's own warnings, or a crash trace (kept in the tail and the file).
      if (/NODE-CRON.*missed execution/.test(line)) this.missedTicks.push(Date.now());
      return;
    }
    const msg = typeof record.msg === 'string' ? record.msg : '';
    if (msg === 'http listening' && typeof record.url === 'string') this.url = record.url;
    if (msg === 'cycle done' && typeof record.durationMs === 'number') {
      const cycle: CycleRecord = {
        at: Date.now(),
        durationMs: record.durationMs,
        eventLoopDelayP99Ms: typeof record.eventLoopDelayP99Ms === 'number' ? record.eventLoopDelayP99Ms : null,
        nodes: typeof record.nodes === 'number' ? record.nodes : null,
        ok: typeof record.ok === 'number' ? record.ok : null,
        analysisStateBytes: typeof record.analysisStateBytes === 'number' ? record.analysisStateBytes : null,
        eventLoopDelayMaxMs: typeof record.eventLoopDelayMaxMs === 'number' ? record.eventLoopDelayMaxMs : null,
        longestStepMs: numbersOf(record.longestStepMs),
      };
      this.cycles.push(cycle);
      this.onCycle?.(cycle);
    }
    if (msg.startsWith('sampling cycle skipped')) this.skipped.push(Date.now());
    if (record.level === 'error') this.errors.push(msg);
    for (const check of [...this.waiters]) check();
  }
}

function numbersOf(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) if (typeof v === 'number') out[k] = v;
  return out;
}
