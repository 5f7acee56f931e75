/**
 * Seeds mode: ask one member of the Primary component for wsrep_incoming_addresses, the client
 * address of every member. One query per cycle, over a connection kept open to the member that
 * answered last; when it does not answer, the other known members and then the seeds are tried
 * in turn.
 *
 * Only a member of the Primary component is believed: a node cut off from the others lists
 * only its own side of the partition, and would make every other member look gone.
 */
import type { DiscoveryConnection, NodeTarget } from '../../config/load.js';
import type { HostResolver } from '../host-resolver.js';
import { addressKey, parseIncomingAddresses, type MemberAddress } from '../../config/addresses.js';
import { describeError, ListingError, type Listing, type MemberSource } from './listing.js';
import { MemberSession } from './member-session.js';

const MEMBERSHIP_SQL = "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_incoming_addresses', 'wsrep_cluster_status')";

export const AUTO_MESSAGE =
  'wsrep_incoming_addresses reads AUTO for some members: discovery by seeds needs wsrep_node_incoming_address ' +
  "set to each node's client address (host:port) on every node, as Galera leaves it at AUTO by default; " +
  'set it, or use dns discovery or a fixed nodes list';

export class IncomingAddressesSource implements MemberSource {
  private session: MemberSession | null = null;

  constructor(
    private readonly seeds: readonly MemberAddress[],
    private readonly settings: DiscoveryConnection,
    private readonly timeoutMs: number,
    private readonly resolver: HostResolver,
  ) {}

  async list(known: readonly NodeTarget[]): Promise<Listing> {
    const failures: string[] = [];
    for (const candidate of this.candidates(known)) {
      const session =
        this.session && addressKey(this.session.address) === addressKey(candidate) ? this.session : new MemberSession(candidate, this.settings, this.timeoutMs, this.resolver);
      if (session !== this.session) await this.dropSession();
      this.session = session;
      let rows: Array<{ Variable_name: string; Value: string }>;
      try {
        rows = await session.query(MEMBERSHIP_SQL);
      } catch (err) {
        failures.push(`${addressKey(candidate)}: ${describeError(err)}`);
        await this.dropSession();
        continue;
      }
      const status = Object.fromEntries(rows.map((r) => [r.Variable_name.toLowerCase(), String(r.Value)]));
      const clusterStatus = status.wsrep_cluster_status ?? '';
      if (clusterStatus !== 'Primary') {
        failures.push(`${addressKey(candidate)}: ${clusterStatus ? `not in the Primary component (${clusterStatus})` : 'not a Galera node'}`);
        await this.dropSession();
        continue;
      }
      return fromIncomingAddresses(status.wsrep_incoming_addresses ?? '', this.settings.port);
    }
    throw new ListingError(`no seed or known member answered from the Primary component: ${failures.join('; ')}`);
  }

  openSession(): MemberSession | null {
    return this.session;
  }

  async close(): Promise<void> {
    await this.dropSession();
  }

  /** The member that answered last, the other known members, then the seeds; each once. */
  private candidates(known: readonly NodeTarget[]): MemberAddress[] {
    const all = [...(this.session ? [this.session.address] : []), ...known.filter((n) => !n.departed && n.host).map((n) => ({ host: n.host!, port: n.port })), ...this.seeds];
    const seen = new Set<string>();
    return all.filter((a) => !seen.has(addressKey(a)) && seen.add(addressKey(a)));
  }

  private async dropSession(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.close();
  }
}

/** The listing one member's wsrep_incoming_addresses gives. Exported for the unit tests. */
export function fromIncomingAddresses(value: string, defaultPort: number): Listing {
  const parsed = parseIncomingAddresses(value, defaultPort);
  const problems: string[] = [];
  if (parsed.auto > 0) problems.push(AUTO_MESSAGE);
  if (parsed.invalid.length > 0) problems.push(`wsrep_incoming_addresses has entries that are not host:port: ${parsed.invalid.map((e) => JSON.stringify(e)).join(', ')}`);
  if (parsed.members.length === 0 && problems.length === 0) problems.push('wsrep_incoming_addresses is empty');
  return { members: parsed.members, complete: problems.length === 0, problems, distinctServers: true };
}
