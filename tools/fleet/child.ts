/** A child process the benchmark owns: started, watched, and always stopped by its pid. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  /** Settles when the process has exited (never rejects). */
  exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  stop(graceMs?: number): Promise<Exit>;
}

export function startChild(name: string, argv: string[], options: SpawnOptions): Child {
  const [command, ...args] = argv;
  const proc = spawn(command!, args, options);
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let exit: Exit | null = null;
  const exited = new Promise<Exit>((resolve) => {
    proc.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
    proc.once('error', () => {
      exit = exit ?? { code: null, signal: null };
      resolve(exit);
    });
  });
  return {
    name,
    process: proc,
    pid: proc.pid,
    exited,
    async stop(graceMs = 15_000) {
      if (exit) return exit;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
