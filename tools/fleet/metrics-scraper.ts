/**
 * Scrapes /metrics once a second, as a Prometheus with a 1 s interval would (asking for gzip, as
 * Prometheus does), one scrape at a time (a scrape slower than a second delays the next instead
 * of piling up), recording how long each took until the last byte and how many bytes came.
 */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface ScrapeFigures {
  latenciesMs: number[];
  /** Bytes on the wire (gzipped when the daemon gzips). */
  sizes: number[];
  failures: string[];
}

/** The value of an unlabelled sample in a Prometheus text exposition, or null. */
export function unlabelledValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

const SCRAPE_TIMEOUT_MS = 10_000;

export class MetricsScraper {
  readonly figures: ScrapeFigures = { latenciesMs: [], sizes: [], failures: [] };
  private running = false;
  private loop: Promise<void> | null = null;
  private last: { body: Buffer; gzipped: boolean } | null = null;

  constructor(
    private readonly url: string,
    private readonly intervalMs = 1000,
  ) {}

  /** The last exposition scraped, as text, for the process's own gauges (heap, external memory). */
  get lastText(): string | null {
    if (!this.last) return null;
    return (this.last.gzipped ? gunzipSync(this.last.body) : this.last.body).toString('utf8');
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<ScrapeFigures> {
    this.running = false;
    await this.loop;
    return this.figures;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = performance.now();
      try {
        const { status, body, gzipped } = await scrape(this.url);
        if (status !== 200) this.figures.failures.push(`HTTP ${status}`);
        else {
          this.figures.latenciesMs.push(performance.now() - started);
          this.figures.sizes.push(body.length);
          this.last = { body, gzipped };
        }
      } catch (err) {
        this.figures.failures.push((err as Error).message);
      }
      const wait = this.intervalMs - (performance.now() - started);
      if (wait > 0 && this.running) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** One GET with Accept-Encoding: gzip; the body as it came, not decompressed (that is the scraper's cost, not the daemon's). */
function scrape(url: string): Promise<{ status: number; body: Buffer; gzipped: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { 'accept-encoding': 'gzip' }, timeout: SCRAPE_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), gzipped: res.headers['content-encoding'] === 'gzip' }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${SCRAPE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}
