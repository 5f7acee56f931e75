/**
 * Keeps a discovery cluster's node list up to date. Each refresh lists the members (from
 * wsrep_incoming_addresses or DNS), names each new address by its @@wsrep_node_name, and edits
 * `cluster.nodes` in place (the sampler, analyzer, metrics and API read that array every cycle):
 * a new member is appended, a member seen at a new address is moved there, and a member absent
 * from the membership for longer than `departAfter` is marked departed (and unmarked when it
 * comes back). Names, not addresses, are a member's identity: they survive restarts and new IPs.
 */
import type { ClusterConfig, DiscoveryConfig, NodeTarget } from '../../config/load.js';
import { scrubSecrets, type Logger } from '../../log/logger.js';
import { throttled } from '../../log/throttle.js';
import { HostResolver } from '../host-resolver.js';
import { addressKey, type MemberAddress } from '../../config/addresses.js';
import { DnsSource } from './dns-source.js';
import { IncomingAddressesSource } from './incoming-source.js';
import { describeError, type Listing, type MemberSource } from './listing.js';
import { MemberSession } from './member-session.js';
import { Presence } from './presence.js';
import { MINUTE_MS } from '../../units/time.js';

export interface MembershipOptions {
  /** Deadline of each query and DNS lookup. */
  timeoutMs: number;
  log: Logger;
  now?: () => number;
  resolver?: HostResolver;
}

/** New addresses whose names are read at once: a cluster's first refresh reads them all. */
const NAME_READS_AT_ONCE = 8;
const NAME_SQL = 'SELECT @@wsrep_node_name AS name';
/** wsrep_node_name is free text; a runaway one is cut to this length. */
const MAX_NAME_LENGTH = 128;

export class Membership {
  private readonly discovery: DiscoveryConfig;
  private readonly source: MemberSource;
  private readonly presence: Presence;
  private readonly resolver: HostResolver;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly logProblem: (key: string, msg: string, fields?: Record<string, unknown>) => void;
  /** Address key → member name, for the addresses listed last time: a name is read once per new address. */
  private names = new Map<string, string>();
  private running: Promise<void> | null = null;
  private error: string | null = null;

  constructor(
    private readonly cluster: ClusterConfig,
    private readonly options: MembershipOptions,
  ) {
    if (!cluster.discovery) throw new Error(`cluster ${cluster.name} has a fixed node list, not discovery`);
    this.discovery = cluster.discovery;
    this.now = options.now ?? Date.now;
    this.log = options.log.child({ cluster: cluster.name });
    this.logProblem = throttled(this.log, MINUTE_MS, this.now);
    this.resolver = options.resolver ?? new HostResolver({ timeoutMs: options.timeoutMs, now: this.now });
    this.presence = new Presence(this.discovery.departAfterSeconds * 1000);
    this.source =
      'seeds' in this.discovery
        ? new IncomingAddressesSource(this.discovery.seeds, this.discovery.connection, options.timeoutMs, this.resolver)
        : new DnsSource({ name: this.discovery.dns, port: this.discovery.port, dnsServer: this.discovery.dnsServer, timeoutMs: options.timeoutMs });
  }

  /** What went wrong in the last refresh (null when nothing did); never contains a secret. */
  get lastError(): string | null {
    return this.error;
  }

  /** Lists the members once and updates cluster.nodes. Never throws; a refresh already running is joined. */
  refresh(): Promise<void> {
    this.running ??= this.refreshOnce()
      .catch((err) => this.report(['discovery failed unexpectedly: ' + describeError(err)]))
      .finally(() => (this.running = null));
    return this.running;
  }

  /** Closes the connection kept to a member. */
  async close(): Promise<void> {
    await this.running;
    await this.source.close();
  }

  private async refreshOnce(): Promise<void> {
    let listing: Listing;
    try {
      listing = await this.source.list(this.cluster.nodes);
    } catch (err) {
      // Nothing learnt: no member added, moved, or counted absent.
      this.report([describeError(err)]);
      return;
    }
    const problems = [...listing.problems];
    const listed = new Map(listing.members.map((a) => [addressKey(a), a]));
    // A name is only trusted for an address listed without a break: one that went and came back is asked again.
    this.names = new Map([...this.names].filter(([key]) => listed.has(key)));
    const unnamed = [...listed].filter(([key]) => !this.names.has(key));
    let complete = listing.complete;
    for (const [key, outcome] of await this.readNames(unnamed.map(([, a]) => a))) {
      if ('name' in outcome) this.names.set(key, outcome.name);
      else {
        // Could be any member, a known one included: absences are not counted until it has a name.
        complete = false;
        problems.push(`cannot read @@wsrep_node_name at ${key}: ${outcome.error}`);
      }
    }
    const present = this.place(listed, listing.distinctServers, problems);
    const changes = this.presence.observe(this.cluster.nodes, present, complete, this.now());
    for (const n of changes.departed)
      this.log.warn('member departed: absent from the membership for longer than departAfter', { node: n.name, departAfterSeconds: this.discovery.departAfterSeconds });
    for (const n of changes.returned) this.log.info('departed member is back', { node: n.name, host: n.host, port: n.port });
    this.report(problems);
  }

  /**
   * Adds or moves a node for every name listed; returns the names present. When one name is
   * listed at several addresses, a node already at one of them stays there.
   */
  private place(listed: Map<string, MemberAddress>, distinctServers: boolean, problems: string[]): Set<string> {
    const byName = new Map<string, string[]>();
    for (const key of listed.keys()) {
      const name = this.names.get(key);
      if (name !== undefined) byName.set(name, [...(byName.get(name) ?? []), key]);
    }
    for (const [name, keys] of byName) {
      if (keys.length > 1 && distinctServers)
        problems.push(`several members report wsrep_node_name ${JSON.stringify(name)} (${keys.join(', ')}): give each node a name of its own`);
      const node = this.cluster.nodes.find((n) => n.name === name);
      if (!node) {
        this.cluster.nodes.push(this.newNode(name, listed.get(keys[0]!)!));
        this.log.info('member discovered', { node: name, address: keys[0] });
      } else if (!keys.includes(addressKey({ host: node.host ?? '', port: node.port }))) {
        const address = listed.get(keys[0]!)!;
        this.log.info('member moved to a new address', { node: name, from: addressKey({ host: node.host ?? '', port: node.port }), to: keys[0] });
        node.host = address.host;
        node.port = address.port;
      }
    }
    return new Set(byName.keys());
  }

  private newNode(name: string, address: MemberAddress): NodeTarget {
    const c = this.discovery.connection;
    return {
      cluster: this.cluster.name,
      name,
      host: address.host,
      port: address.port,
      user: c.user,
      password: c.password,
      ...(c.tls ? { tls: c.tls } : {}),
      discovered: true,
    };
  }

  /** Reads @@wsrep_node_name at each address, a few at a time; an empty name falls back to the address. */
  private async readNames(addresses: MemberAddress[]): Promise<Map<string, { name: string } | { error: string }>> {
    const out = new Map<string, { name: string } | { error: string }>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < addresses.length) {
        const address = addresses[next++]!;
        const key = addressKey(address);
        try {
          const name = (await this.readName(address)).trim().slice(0, MAX_NAME_LENGTH);
          out.set(key, { name: name || key });
        } catch (err) {
          out.set(key, { error: describeError(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(NAME_READS_AT_ONCE, addresses.length) }, worker));
    return out;
  }

  private async readName(address: MemberAddress): Promise<string> {
    const open = this.source.openSession();
    if (open && addressKey(open.address) === addressKey(address)) return nameOf(await open.query<{ name: unknown }>(NAME_SQL));
    const session = new MemberSession(address, this.discovery.connection, this.options.timeoutMs, this.resolver);
    try {
      return nameOf(await session.query<{ name: unknown }>(NAME_SQL));
    } finally {
      await session.close();
    }
  }

  /** Sets lastError from this refresh's problems and logs each kind at most once a minute. */
  private report(problems: string[]): void {
    this.error = problems.length > 0 ? scrubSecrets(problems.join('; ')) : null;
    for (const problem of problems) {
      // The key is the problem without the details that change between cycles (addresses, error texts).
      this.logProblem(`${this.cluster.name}:${problem.slice(0, 40)}`, `discovery: ${problem}`);
    }
  }
}

function nameOf(rows: Array<{ name: unknown }>): string {
  const value = rows[0]?.name;
  return value === null || value === undefined ? '' : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}
