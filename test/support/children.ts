/**
 * Child processes a test started, killed when the test process exits however it exits. A failed
 * assertion skips the test's own clean-up; a daemon left running would then hold the test file's
 * pipes open and the run would wait for it forever.
 */
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
// A run stopped from outside (CI's timeout, Ctrl-C) exits through the 'exit' hooks too: these,
// and the sandbox's, which stop its detached servers.
for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  process.once(signal, () => process.exit(code));
}

/** Registers `child` to be killed at exit (unless it has exited by then) and returns it. */
export function tracked<C extends ChildProcess>(child: C): C {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Resolves when `child` has exited, also when it had before this was called (an 'exit' listener added late never fires). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
