/** What the fault tests share: waiting, reading the daemon's API and metrics, a steady write load. */
import path from 'node:path';
import http from 'node:http';
import mysql from 'mysql2/promise';
import { sleep, type GaleraSandbox } from '../../../tools/sandbox/galera-sandbox.ts';

export const ROOT = path.join(import.meta.dirname, '..', '..', '..');
export const SHIPPED_RULES = path.join(ROOT, 'rules');

export { waitFor } from '../../support/wait.ts';

export interface HttpAnswer {
  status: number;
  body: any;
  text: string;
}

export async function get(base: string, route: string, timeoutMs = 5000): Promise<HttpAnswer> {
  const res = await fetch(base + route, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // /metrics is text
  }
  return { status: res.status, body, text };
}

/** One sample of a Prometheus text exposition, by its exact name and labels (in any order). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return null;
}

export interface NodeView {
  name: string;
  reachable: boolean;
  localState: string | null;
  clusterStatus: string | null;
  istBudgetSeconds: number | null;
  donor: string | null;
}

export async function nodesOf(base: string, cluster: string): Promise<NodeView[]> {
  const r = await get(base, `/api/v1/clusters/${cluster}/nodes`);
  if (r.status !== 200) throw new Error(`/nodes answered ${r.status}: ${r.text}`);
  return r.body.nodes as NodeView[];
}

export interface EventView {
  cluster: string;
  node: string;
  at: string;
  kind: string;
  detail: string;
}

export async function eventsSince(base: string, since: number): Promise<EventView[]> {
  const r = await get(base, `/api/v1/events?since=${Math.floor(since / 1000)}&limit=1000`);
  if (r.status !== 200) throw new Error(`/events answered ${r.status}: ${r.text}`);
  return r.body.events as EventView[];
}

/**
 * A steady write load on one node through its own connection: one ~1 KiB row at a time, about
 * `perSecond` a second, so the ring fills at a known, modest pace. Errors (the node leaving the
 * Primary component, a restart) are counted and the loop carries on with a new connection.
 */
export class SteadyWriter {
  written = 0;
  errors = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly sandbox: GaleraSandbox,
    private readonly node: number,
    private readonly perSecond = 20,
  ) {
    this.loop = this.run();
  }

  static async prepare(sandbox: GaleraSandbox, node = 1): Promise<void> {
    await sandbox.query(node, 'CREATE TABLE IF NOT EXISTS sbtest.fault_load (id BIGINT AUTO_INCREMENT PRIMARY KEY, payload VARBINARY(1024) NOT NULL) ENGINE=InnoDB');
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    let conn: mysql.Connection | null = null;
    const payload = Buffer.alloc(1000, 0x61);
    while (this.running) {
      const started = Date.now();
      try {
        conn ??= await mysql.createConnection({ ...this.sandbox.adminConnectionOptions(this.node), connectTimeout: 2000 });
        await conn.query({ sql: 'INSERT INTO sbtest.fault_load (payload) VALUES (?)', values: [payload], timeout: 5000 });
        this.written++;
      } catch {
        this.errors++;
        conn?.destroy();
        conn = null;
        await sleep(500);
      }
      const wait = 1000 / this.perSecond - (Date.now() - started);
      if (wait > 0) await sleep(wait);
    }
    conn?.destroy();
  }
}

/** A webhook receiver on 127.0.0.1 that answers 200 and keeps every body, with when it came. */
export async function webhookReceiver(port: number): Promise<{ got: Array<{ at: number; body: any }>; close: () => Promise<void> }> {
  const got: Array<{ at: number; body: any }> = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      got.push({ at: Date.now(), body: JSON.parse(raw || 'null') });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { got, close: () => new Promise((r) => server.close(() => r())) };
}
