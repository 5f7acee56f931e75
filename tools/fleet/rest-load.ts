/**
 * A steady REST load on the daemon with autocannon: `overallRate` requests per second in total,
 * each to the window endpoint of a node picked at random, for a fixed time. startRestLoad runs it
 * in a process of its own (rest-load-child.ts), so that the latencies it measures are the
 * daemon's, not delays of the benchmark's own event loop (which also scrapes and reads logs).
 */
import path from 'node:path';
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';

export interface RestLoadOptions {
  /** The daemon's base URL, e.g. http://127.0.0.1:9106 */
  baseUrl: string;
  /** [cluster, node] pairs to spread the requests over. */
  nodes: ReadonlyArray<{ cluster: string; name: string }>;
  ratePerSecond: number;
  durationSeconds: number;
  connections?: number;
}

export interface RestLoadFigures {
  requests: number;
  /** Requests per second actually made. */
  achievedRate: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface RestLoad {
  done: Promise<RestLoadFigures>;
  stop(): void;
}

/** Runs the load in this process. */
export function runRestLoad(options: RestLoadOptions): RestLoad {
  const paths = options.nodes.map((n) => `/api/v1/clusters/${encodeURIComponent(n.cluster)}/nodes/${encodeURIComponent(n.name)}/window`);
  if (paths.length === 0) throw new Error('REST load: no nodes to request');
  let instance: autocannon.Instance | undefined;
  const done = new Promise<RestLoadFigures>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.baseUrl,
        connections: options.connections ?? 10,
        overallRate: options.ratePerSecond,
        duration: options.durationSeconds,
        timeout: 10,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[Math.floor(Math.random() * paths.length)]! }) }],
      },
      (err, result) => {
        if (err) return reject(err);
        resolve({
          requests: result.requests.total,
          achievedRate: result.requests.total / Math.max(result.duration, 1e-9),
          latencyP50Ms: result.latency.p50,
          latencyP99Ms: result.latency.p99,
          latencyMaxMs: result.latency.max,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
  });
  // autocannon's instances have stop(), which its typings leave out.
  return { done, stop: () => (instance as unknown as { stop?: () => void } | undefined)?.stop?.() };
}

/** Runs the load in a child process; stop() ends it early (the figures so far are still reported). */
export function startRestLoad(options: RestLoadOptions): RestLoad {
  // The options go on stdin: a fleet's node list outgrows what one argument may hold (128 kB).
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'rest-load-child.ts')], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin!.end(JSON.stringify(options));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<RestLoadFigures>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve(JSON.parse(line) as RestLoadFigures);
      } catch (err) {
        reject(new Error(`REST load process failed (${(err as Error).message}): ${stderr.trim().slice(-500)}`));
      }
    });
  });
  return { done, stop: () => void child.kill('SIGTERM') };
}
