/**
 * `gcache-advisor serve` as a child process, as an operator runs it: its JSON-lines log is kept
 * record by record, its listen address read from the "http listening" line, and it is always
 * stopped by its own pid.
 */
import readline from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from '../helpers.ts';
import { waitFor } from './common.ts';

export interface LogRecord {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

export class DaemonChild {
  /** Every log line that parsed as JSON, with the time it was read. */
  readonly records: Array<LogRecord & { readAt: number }> = [];
  /** Lines that were not JSON (a crash trace, node-cron's own warnings). */
  readonly otherLines: string[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;

  private constructor(readonly process: ChildProcess) {
    readline.createInterface({ input: process.stderr! }).on('line', (line) => {
      try {
        this.records.push({ ...(JSON.parse(line) as LogRecord), readAt: Date.now() });
      } catch {
        this.otherLines.push(line);
      }
    });
    process.stdout!.resume();
    this.exited = new Promise((resolve) =>
      process.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
  }

  static start(configFile: string, env: NodeJS.ProcessEnv): DaemonChild {
    return new DaemonChild(spawnCli(['serve', '-c', configFile], env));
  }

  get pid(): number {
    return this.process.pid!;
  }

  /** The daemon's base URL, once it has said where it listens. */
  async url(timeoutMs = 30_000): Promise<string> {
    const line = await waitFor(
      "the daemon's listen address",
      () =>
        this.records.find((r) => r.msg === 'http listening') ??
        (this.exit ? Promise.reject(new Error(`the daemon exited (${JSON.stringify(this.exit)}): ${this.logText()}`)) : null),
      timeoutMs,
    );
    return String(line.url);
  }

  /** The whole log so far, for failure messages. */
  logText(): string {
    return [...this.records.map((r) => JSON.stringify(r)), ...this.otherLines].join('\n');
  }

  cyclesSince(t: number): number {
    return this.records.filter((r) => r.msg === 'cycle done' && r.readAt >= t).length;
  }

  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves with how it ended. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exit) {
      this.process.kill(signal);
      const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exit!;
  }

  async exitedWithin(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, timeoutMs))]);
    return this.exit;
  }
}
