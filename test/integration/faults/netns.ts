/**
 * A private network on this machine for a sandbox cluster: one network namespace per node, each
 * joined by a veth pair to a bridge in the root namespace, on a /24 of its own. The advisor and
 * the test stay in the root namespace (the bridge's address) and reach every node through it.
 *
 * Faults are blackhole routes inside the namespaces: a namespace that may not talk to an address
 * drops, locally, everything it sends there. Dropping both ways between two namespaces is a
 * partition; dropping a node's packets to the root namespace alone cuts the advisor off while
 * the cluster carries on. Only iproute2 is needed (no iptables or nftables), and nothing leaves
 * this machine: the subnet is not routed anywhere.
 *
 * Names carry the lab's short prefix so that a crashed run's leftovers are recognised and removed
 * by the next run of the same test, and never anyone else's.
 */
import { execFileSync } from 'node:child_process';

export interface NetnsLabOptions {
  /** 2-5 letters, unique per test file: the start of every namespace and interface name. */
  prefix: string;
  /** The third octet of 10.231.X.0/24, unique per test file. */
  subnet: number;
  nodes: number;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function ipQuietly(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // Not there: nothing to remove.
  }
}

export class NetnsLab {
  private readonly blocked = new Set<string>();

  private constructor(private readonly opts: NetnsLabOptions) {}

  /** Builds the bridge, the namespaces and their links; removes this prefix's leftovers first. */
  static create(opts: NetnsLabOptions): NetnsLab {
    if (!/^[a-z]{2,5}$/.test(opts.prefix)) throw new Error(`prefix: expected 2-5 lower-case letters, got "${opts.prefix}"`);
    if (!Number.isInteger(opts.subnet) || opts.subnet < 1 || opts.subnet > 254) throw new Error(`subnet: expected 1..254, got ${opts.subnet}`);
    const lab = new NetnsLab(opts);
    lab.removeLinks();
    try {
      ip('link', 'add', lab.bridge, 'type', 'bridge');
      ip('addr', 'add', `${lab.hostAddress}/24`, 'dev', lab.bridge);
      ip('link', 'set', lab.bridge, 'up');
      for (let i = 1; i <= opts.nodes; i++) {
        const ns = lab.namespace(i);
        ip('netns', 'add', ns);
        ip('link', 'add', lab.hostSide(i), 'type', 'veth', 'peer', 'name', lab.nodeSide(i));
        ip('link', 'set', lab.nodeSide(i), 'netns', ns);
        ip('link', 'set', lab.hostSide(i), 'master', lab.bridge);
        ip('link', 'set', lab.hostSide(i), 'up');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('-n', ns, 'addr', 'add', `${lab.nodeHost(i)}/24`, 'dev', lab.nodeSide(i));
        ip('-n', ns, 'link', 'set', lab.nodeSide(i), 'up');
      }
    } catch (err) {
      lab.destroy();
      throw new Error(`could not build the test network (needs root and iproute2): ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`, {
        cause: err,
      });
    }
    return lab;
  }

  /** The root namespace's address on the bridge: where the advisor's connections come from. */
  get hostAddress(): string {
    return `10.231.${this.opts.subnet}.1`;
  }

  nodeHost(i: number): string {
    return `10.231.${this.opts.subnet}.${10 + i}`;
  }

  namespace(i: number): string {
    return `${this.opts.prefix}-ns${i}`;
  }

  /** What to start node i's server under: `ip netns exec` execs it, so the pid is the server's. */
  commandPrefix(i: number): string[] {
    return ['ip', 'netns', 'exec', this.namespace(i)];
  }

  nodeHosts(): string[] {
    return Array.from({ length: this.opts.nodes }, (_, k) => this.nodeHost(k + 1));
  }

  commandPrefixes(): string[][] {
    return Array.from({ length: this.opts.nodes }, (_, k) => this.commandPrefix(k + 1));
  }

  /** Cuts node i off from every other node, both ways; the root namespace still reaches it. */
  isolate(i: number): void {
    for (let j = 1; j <= this.opts.nodes; j++) {
      if (j === i) continue;
      this.block(i, this.nodeHost(j));
      this.block(j, this.nodeHost(i));
    }
  }

  /** Cuts node i off from the root namespace (the advisor): its answers never come back. */
  isolateFromHost(i: number): void {
    this.block(i, this.hostAddress);
  }

  /** Removes every drop this lab added: the network is whole again. */
  healAll(): void {
    for (const key of [...this.blocked]) {
      const [node, address] = key.split(' ') as [string, string];
      ipQuietly('-n', this.namespace(Number(node)), 'route', 'del', 'blackhole', `${address}/32`);
      this.blocked.delete(key);
    }
  }

  /** Removes the namespaces and links. Servers still running in a namespace keep it alive: stop them first. */
  destroy(): void {
    this.blocked.clear();
    this.removeLinks();
  }

  private block(node: number, address: string): void {
    const key = `${node} ${address}`;
    if (this.blocked.has(key)) return;
    ip('-n', this.namespace(node), 'route', 'add', 'blackhole', `${address}/32`);
    this.blocked.add(key);
  }

  private get bridge(): string {
    return `${this.opts.prefix}-br`;
  }

  private hostSide(i: number): string {
    return `${this.opts.prefix}-h${i}`;
  }

  private nodeSide(i: number): string {
    return `${this.opts.prefix}-n${i}`;
  }

  private removeLinks(): void {
    for (let i = 1; i <= this.opts.nodes; i++) {
      ipQuietly('link', 'del', this.hostSide(i));
      ipQuietly('netns', 'del', this.namespace(i));
    }
    ipQuietly('link', 'del', this.bridge);
  }
}
