/**
 * Cached name resolution for the nodes' host names. dns.lookup runs getaddrinfo on libuv's
 * small thread pool (4 threads by default): resolving hundreds of names every cycle would queue
 * there, and a slow resolver would eat into every node's query deadline. Each name is resolved
 * once and kept for a TTL; a connection failure forgets it, so a moved node is found again at once.
 */
import dns from 'node:dns';
import net from 'node:net';
import { DeadlineError } from './deadline.js';
import { MINUTE_MS } from '../units/time.js';

export type LookupFn = (host: string) => Promise<{ address: string }>;

export interface HostResolverOptions {
  ttlMs?: number;
  /** Upper bound on one lookup; it runs before (and apart from) the query's own deadline. */
  timeoutMs?: number;
  lookup?: LookupFn;
  now?: () => number;
}

export const DEFAULT_RESOLVE_TTL_MS = MINUTE_MS;

export class HostResolver {
  private readonly cache = new Map<string, { address: string; expiresAt: number }>();
  /** Lookups in flight, shared by every caller that asks for the same name meanwhile. */
  private readonly pending = new Map<string, Promise<string>>();
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly lookup: LookupFn;
  private readonly now: () => number;
  /** How many lookups actually went to the resolver (for tests and debugging). */
  lookups = 0;

  constructor(options: HostResolverOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_RESOLVE_TTL_MS;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.lookup = options.lookup ?? ((host) => dns.promises.lookup(host));
    this.now = options.now ?? Date.now;
  }

  /** The address to connect to for `host`; an IP address is returned as it is. */
  async resolve(host: string): Promise<string> {
    if (net.isIP(host)) return host;
    const cached = this.cache.get(host);
    if (cached && cached.expiresAt > this.now()) return cached.address;
    let pending = this.pending.get(host);
    if (!pending) {
      pending = this.lookupWithTimeout(host).finally(() => this.pending.delete(host));
      this.pending.set(host, pending);
    }
    return pending;
  }

  /** Drops the cached address of `host`: the next connection resolves it again. */
  forget(host: string): void {
    this.cache.delete(host);
  }

  private async lookupWithTimeout(host: string): Promise<string> {
    this.lookups++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError(`resolving ${host} took longer than ${this.timeoutMs / 1000} s`)), this.timeoutMs);
    });
    try {
      const { address } = await Promise.race([this.lookup(host), timeout]);
      this.cache.set(host, { address, expiresAt: this.now() + this.ttlMs });
      return address;
    } finally {
      clearTimeout(timer);
    }
  }
}
