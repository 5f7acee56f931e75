/**
 * A steady REST load on the daemon with autocannon: `overallRate` requests per second in total,
 * each to the window endpoint of a node picked at random, for a fixed time.
 */
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

export function startRestLoad(options: RestLoadOptions): RestLoad {
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
