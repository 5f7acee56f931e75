/**
 * What the kernel says about another process (Linux /proc): CPU time and memory. Measuring the
 * daemon from outside keeps the measurement out of the thing measured.
 */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | null = null;

/** USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on practically every Linux). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat: cannot read utime/stime`);
  return (utime + stime) / clockTicksPerSecond();
}

export interface MemoryUse {
  /** Resident set size now (VmRSS), bytes. */
  rssBytes: number;
  /** The highest resident set size so far (VmHWM), bytes. */
  peakRssBytes: number;
  /** Of the resident set, pages mapped from files (RssFile): the Node.js binary and the libraries' code. */
  fileBackedBytes: number;
}

export function memoryUse(pid: number): MemoryUse {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status: no ${key}`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM'), fileBackedBytes: kib('RssFile') };
}

export function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return match[1]!.trim();
  } catch {
    // not Linux: fall through
  }
  return 'unknown';
}
