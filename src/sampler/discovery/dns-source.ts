/**
 * DNS mode: the members are what a name resolves to, as a Kubernetes headless service lists the
 * pods of a StatefulSet. SRV records (with the ports they carry) when the name has them, else
 * its A and AAAA records with the configured port. The kind that answered last is asked first,
 * so a steady cycle costs one query (two, A and AAAA together, for a plain name).
 *
 * SRV targets stay host names, which the sampler resolves like any configured host, so a pod
 * that comes back with a new IP keeps its address. With `dnsServer` set the system resolver may
 * not know those names, so they are resolved here, through that server, every cycle.
 */
import dns from 'node:dns';
import net from 'node:net';
import type { MemberAddress } from '../../config/addresses.js';
import { describeError, ListingError, type Listing, type MemberSource } from './listing.js';

/** The answers that mean "no such records", as opposed to a resolver that failed. */
const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);

type Kind = 'srv' | 'address';

export interface DnsSourceOptions {
  name: string;
  port: number;
  dnsServer: string | null;
  timeoutMs: number;
}

export class DnsSource implements MemberSource {
  private readonly resolver: dns.promises.Resolver;
  private readonly ownServer: boolean;
  /** The kind of record the name answered with last time; asked first. */
  private kind: Kind = 'srv';

  constructor(private readonly options: DnsSourceOptions) {
    // One try: the next cycle is the retry, and a refresh must not hang for several timeouts.
    this.resolver = new dns.promises.Resolver({ timeout: options.timeoutMs, tries: 1 });
    this.ownServer = options.dnsServer !== null;
    if (options.dnsServer) this.resolver.setServers([options.dnsServer]);
  }

  async list(): Promise<Listing> {
    const order: Kind[] = this.kind === 'srv' ? ['srv', 'address'] : ['address', 'srv'];
    for (const kind of order) {
      const listing = kind === 'srv' ? await this.fromSrv() : await this.fromAddresses(this.options.name, this.options.port);
      if (listing.members.length > 0 || listing.problems.length > 0) {
        this.kind = kind;
        if (listing.members.length === 0) throw new ListingError(listing.problems.join('; '));
        return listing;
      }
    }
    // A name that lists nobody is not a cluster whose members all left: it is a name that is wrong, or a cluster that is down.
    throw new ListingError(`${this.options.name} has no SRV, A or AAAA records`);
  }

  openSession(): null {
    return null;
  }

  async close(): Promise<void> {
    this.resolver.cancel();
  }

  private async fromSrv(): Promise<Listing> {
    const records = await this.query(() => this.resolver.resolveSrv(this.options.name), `SRV records of ${this.options.name}`);
    const targets = records.map((r) => ({ host: r.name.replace(/\.$/, ''), port: r.port }));
    if (!this.ownServer) return { members: targets, complete: true, problems: [], distinctServers: false };
    const listing: Listing = { members: [], complete: true, problems: [], distinctServers: false };
    const resolved = await Promise.all(targets.map((t) => (net.isIP(t.host) ? Promise.resolve({ ...emptyListing(), members: [t] }) : this.fromAddresses(t.host, t.port))));
    resolved.forEach((r, i) => {
      listing.members.push(...r.members);
      listing.problems.push(...r.problems);
      if (r.members.length === 0 && r.problems.length === 0) listing.problems.push(`SRV target ${targets[i]!.host} has no A or AAAA records`);
    });
    listing.complete = listing.problems.length === 0;
    return listing;
  }

  /** The A and AAAA records of `name`, each with `port`. */
  private async fromAddresses(name: string, port: number): Promise<Listing> {
    const answers = await Promise.allSettled([
      this.query(() => this.resolver.resolve4(name), `A records of ${name}`),
      this.query(() => this.resolver.resolve6(name), `AAAA records of ${name}`),
    ]);
    const listing = emptyListing();
    for (const answer of answers) {
      if (answer.status === 'fulfilled') listing.members.push(...answer.value.map((host): MemberAddress => ({ host, port })));
      else listing.problems.push(describeError(answer.reason));
    }
    listing.complete = listing.problems.length === 0;
    return listing;
  }

  /** Runs one query: no records is an empty answer, any other failure an error naming the query. */
  private async query<T>(ask: () => Promise<T[]>, what: string): Promise<T[]> {
    try {
      return await ask();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (NO_RECORDS.has(code)) return [];
      throw new ListingError(`cannot resolve the ${what}${this.ownServer ? ` at ${this.options.dnsServer}` : ''}: ${code || describeError(err)}`);
    }
  }
}

function emptyListing(): Listing {
  return { members: [], complete: true, problems: [], distinctServers: false };
}
