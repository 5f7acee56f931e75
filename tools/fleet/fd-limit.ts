/**
 * The open-file limit (RLIMIT_NOFILE). Node has no setrlimit, so a process can only read its
 * limit and say how to raise it; a parent can start a child under `ulimit -n` (see
 * `withDescriptorLimit`).
 */
import fs from 'node:fs';

export interface DescriptorLimit {
  soft: number;
  hard: number;
}

/** This process's limit from /proc/self/limits; null where that file does not exist. */
export function descriptorLimit(): DescriptorLimit | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!match) return null;
  const read = (v: string) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: read(match[1]!), hard: read(match[2]!) };
}

/** Throws with a remedy when `needed` descriptors exceed the soft limit. */
export function checkDescriptorBudget(needed: number, what: string): void {
  const limit = descriptorLimit();
  if (!limit || limit.soft >= needed) return;
  const remedy =
    limit.hard >= needed
      ? `run \`ulimit -n ${needed}\` first (the hard limit is ${limit.hard})`
      : `raise the hard limit to at least ${needed} (it is ${limit.hard}; see limits.conf or systemd's LimitNOFILE)`;
  throw new Error(`${what} needs about ${needed} open files, but the limit is ${limit.soft}: ${remedy}`);
}

/**
 * A command line that runs `argv` with the soft limit raised to `needed` (or to the hard limit,
 * whichever is lower) when the current soft limit is below it. `exec` keeps the pid, so the
 * caller's child pid is the program's own.
 */
export function withDescriptorLimit(argv: string[], needed: number): string[] {
  const limit = descriptorLimit();
  if (!limit || limit.soft >= needed) return argv;
  const target = Math.min(needed, limit.hard);
  return ['/bin/sh', '-c', `ulimit -S -n ${target} && exec "$@"`, 'sh', ...argv];
}
