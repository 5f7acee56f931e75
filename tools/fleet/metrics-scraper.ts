/**
 * Scrapes /metrics once a second, as a Prometheus with a 1 s interval would, one scrape at a time
 * (a scrape slower than a second delays the next instead of piling up), recording how long each
 * took until the last byte and how big it was.
 */
export interface ScrapeFigures {
  latenciesMs: number[];
  sizes: number[];
  failures: string[];
}

const SCRAPE_TIMEOUT_MS = 10_000;

export class MetricsScraper {
  readonly figures: ScrapeFigures = { latenciesMs: [], sizes: [], failures: [] };
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    private readonly intervalMs = 1000,
  ) {}

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
        const res = await fetch(this.url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
        const body = await res.arrayBuffer();
        if (res.status !== 200) this.figures.failures.push(`HTTP ${res.status}`);
        else {
          this.figures.latenciesMs.push(performance.now() - started);
          this.figures.sizes.push(body.byteLength);
        }
      } catch (err) {
        this.figures.failures.push((err as Error).message);
      }
      const wait = this.intervalMs - (performance.now() - started);
      if (wait > 0 && this.running) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
