/**
 * Member discovery on real parts. A 4-node sandbox with wsrep_node_incoming_address set, three
 * nodes started: one seed is enough to find all three by their wsrep_node_name; the 4th, started
 * later, appears; a stopped node is departed after departAfter and back when restarted; the
 * seed itself going down does not stop discovery. A 1-node sandbox left at Galera's default
 * (AUTO) gives the clear error. DNS discovery runs against a real dnsmasq on a loopback port,
 * serving SRV records (ports from the records) and A/AAAA records (one port, reached through
 * TCP forwarders on 127.0.1.x and ::1), each followed as records are added, moved and removed.
 *
 * Needs mariadb-server, galera-4, rsync and dnsmasq-base (the dnsmasq binary).
 * Ports: sandboxes 27010-27043 and 27110-27113, dnsmasq 27953/udp+tcp, forwarders 27950.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { GaleraSandbox, sleep } from '../../tools/sandbox/galera-sandbox.ts';
import { parseConfig, type ClusterConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { Membership } from '../../src/sampler/discovery/membership.ts';
import { waitFor } from '../support/wait.ts';
import { tracked } from '../support/children.ts';
import { ADVISOR_USER, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';

const DNS_PORT = 27953;
const DNS_SERVER = `127.0.0.1:${DNS_PORT}`;
/** The one SQL port every A/AAAA member is reached at, through a forwarder per address. */
const A_PORT = 27950;
const DEPART_AFTER_S = 3;

let sandbox: GaleraSandbox;
let autoSandbox: GaleraSandbox;
let dns: Dnsmasq;
const memberships: Membership[] = [];
const forwarders: Forwarder[] = [];
const logLines: string[] = [];
const log = createLogger({ level: 'debug', write: (l) => logLines.push(l) });

/** Starts the first `started` of a prepared sandbox's nodes and creates the least-privilege account. */
async function start(s: GaleraSandbox, started: number): Promise<void> {
  await s.start(120_000, started);
  await s.query(1, `CREATE USER '${ADVISOR_USER}'@'127.0.0.1' IDENTIFIED BY '${ADVISOR_PASSWORD}'`);
}

before(async () => {
  // Prepared one after the other: a run with two mariadb-install-db at once failed here once (its bootstrap SQL).
  sandbox = await GaleraSandbox.create({ nodes: 4, basePort: 27000, incomingAddresses: true, gcacheSize: '8M' });
  autoSandbox = await GaleraSandbox.create({ nodes: 1, basePort: 27100, gcacheSize: '8M' });
  await Promise.all([start(sandbox, 3), start(autoSandbox, 1)]);
});

after(async () => {
  await Promise.all(memberships.map((m) => m.close()));
  await Promise.all(forwarders.map((f) => f.close()));
  await dns?.stop();
  await Promise.all([sandbox?.destroy(), autoSandbox?.destroy()]);
});

/** A discovery cluster from YAML, as the daemon would load it. */
function discoveryCluster(discovery: string): ClusterConfig {
  const yaml = `clusters:\n  - name: disc\n    connection: { user: ${ADVISOR_USER}, passwordEnv: ${PASSWORD_ENV} }\n    discovery: ${discovery}\n`;
  return parseConfig(yaml, 'discovery-test.yaml', { [PASSWORD_ENV]: ADVISOR_PASSWORD }).clusters[0]!;
}

function membershipOf(cluster: ClusterConfig, now?: () => number): Membership {
  const m = new Membership(cluster, { timeoutMs: 2000, log, ...(now ? { now } : {}) });
  memberships.push(m);
  return m;
}

/** name → "host:port [departed]", the view a test asserts on. */
function view(cluster: ClusterConfig): Record<string, string> {
  return Object.fromEntries(cluster.nodes.map((n) => [n.name, `${n.host}:${n.port}${n.departed ? ' departed' : ''}`]));
}

async function incomingAddresses(index: number): Promise<string> {
  return (await sandbox.status(index, ['wsrep_incoming_addresses'])).wsrep_incoming_addresses ?? '';
}

const sql = (i: number) => `127.0.0.1:${sandbox.node(i).sqlPort}`;

test('seeds: one seed finds every member by its wsrep_node_name; a 4th node, a departure and a return are followed', async () => {
  // Galera lists the members in its view's order, not the order they started in: compared as a set.
  const listed = (await incomingAddresses(1)).split(',').sort();
  assert.deepEqual(listed, [1, 2, 3].map(sql).sort(), 'the sandbox sets wsrep_node_incoming_address');
  const cluster = discoveryCluster(`{ seeds: ["${sql(2)}"], departAfter: ${DEPART_AFTER_S}s }`);
  const nodes = cluster.nodes;
  const membership = membershipOf(cluster);

  await membership.refresh();
  assert.equal(membership.lastError, null);
  assert.deepEqual(view(cluster), { node1: sql(1), node2: sql(2), node3: sql(3) });
  assert.ok(cluster.nodes.every((n) => n.discovered === true && n.user === ADVISOR_USER && n.password.reveal() === ADVISOR_PASSWORD && n.cluster === 'disc'));
  const node3 = cluster.nodes.find((n) => n.name === 'node3')!;

  // A 4th node joins: it is there after the next refresh.
  await sandbox.startNode(4);
  await membership.refresh();
  assert.equal(membership.lastError, null);
  assert.deepEqual(view(cluster), { node1: sql(1), node2: sql(2), node3: sql(3), node4: sql(4) });

  // Node 3 leaves the cluster: absent, but departed only after departAfter.
  await sandbox.stopNode(3);
  await waitFor('node 3 out of wsrep_incoming_addresses', async () => !(await incomingAddresses(1)).includes(sql(3)));
  await membership.refresh();
  assert.equal(view(cluster).node3, sql(3), 'not departed within the grace period');
  await sleep(DEPART_AFTER_S * 1000 + 200);
  await membership.refresh();
  assert.equal(membership.lastError, null);
  assert.deepEqual(view(cluster), { node1: sql(1), node2: sql(2), node3: `${sql(3)} departed`, node4: sql(4) });

  // Restarted, it is the same member again: same name, same object, no longer departed.
  await sandbox.startNode(3);
  await membership.refresh();
  assert.deepEqual(view(cluster), { node1: sql(1), node2: sql(2), node3: sql(3), node4: sql(4) });
  assert.equal(
    cluster.nodes.find((n) => n.name === 'node3'),
    node3,
  );
  assert.equal('departed' in node3, false);

  // The only seed goes away: the known members still answer.
  await sandbox.stopNode(2);
  await waitFor('node 2 out of wsrep_incoming_addresses', async () => !(await incomingAddresses(1)).includes(sql(2)));
  await membership.refresh();
  assert.equal(membership.lastError, null);
  assert.equal(cluster.nodes.length, 4);
  assert.equal(cluster.nodes.filter((n) => n.departed).length, 0, 'node 2 is absent, still within its grace period');

  assert.equal(cluster.nodes, nodes, 'the node list is edited in place');
  const logged = logLines.map((l) => JSON.parse(l) as { msg: string; node?: string });
  assert.deepEqual(
    logged
      .filter((l) => l.msg === 'member discovered')
      .map((l) => l.node)
      .sort(),
    ['node1', 'node2', 'node3', 'node4'],
  );
  assert.deepEqual(
    logged.filter((l) => /departed/.test(l.msg)).map((l) => [l.msg, l.node]),
    [
      ['member departed: absent from the membership for longer than departAfter', 'node3'],
      ['departed member is back', 'node3'],
    ],
  );
  assert.doesNotMatch(logLines.join('\n'), new RegExp(ADVISOR_PASSWORD));
});

test('seeds: a cluster left at wsrep_node_incoming_address=AUTO gives a clear error, logged once a minute', async () => {
  assert.equal((await autoSandbox.status(1, ['wsrep_incoming_addresses'])).wsrep_incoming_addresses, 'AUTO');
  let now = Date.now();
  const cluster = discoveryCluster(`{ seeds: ["127.0.0.1:${autoSandbox.node(1).sqlPort}"] }`);
  const membership = membershipOf(cluster, () => now);
  const logStart = logLines.length;
  const autoLogs = () => logLines.slice(logStart).filter((l) => /wsrep_node_incoming_address/.test(l)).length;

  await membership.refresh();
  assert.deepEqual(cluster.nodes, [], 'AUTO names nobody: nothing is added');
  assert.match(membership.lastError ?? '', /AUTO/);
  assert.match(membership.lastError ?? '', /wsrep_node_incoming_address .*on every node/);
  assert.equal(autoLogs(), 1);

  now += 30_000;
  await membership.refresh();
  assert.equal(autoLogs(), 1, 'not again within the minute');
  now += 31_000;
  await membership.refresh();
  assert.equal(autoLogs(), 2);
  assert.match(membership.lastError ?? '', /AUTO/);
});

test('dns: SRV records give the members and their ports; a record added and one removed are followed', async () => {
  dns = new Dnsmasq();
  const srv = (nodes: number[]) =>
    nodes.flatMap((i) => [`--srv-host=_mysql._tcp.galera.test,n${i}.galera.test,${sandbox.node(i).sqlPort}`, `--host-record=n${i}.galera.test,127.0.0.1`]);
  await dns.start(srv([1, 3]));
  const cluster = discoveryCluster(`{ dns: _mysql._tcp.galera.test, dnsServer: "${DNS_SERVER}", departAfter: ${DEPART_AFTER_S}s }`);
  const membership = membershipOf(cluster);

  await membership.refresh();
  assert.equal(membership.lastError, null);
  assert.deepEqual(view(cluster), { node1: sql(1), node3: sql(3) });

  // node4 added, node1 removed from DNS (node1 keeps running: gone from DNS is gone).
  await dns.start(srv([3, 4]));
  await membership.refresh();
  assert.equal(membership.lastError, null);
  assert.deepEqual(view(cluster), { node1: sql(1), node3: sql(3), node4: sql(4) });
  await sleep(DEPART_AFTER_S * 1000 + 200);
  await membership.refresh();
  assert.deepEqual(view(cluster), { node1: `${sql(1)} departed`, node3: sql(3), node4: sql(4) });

  // A name with no records at all is an error, not a cluster whose members all left.
  await dns.start([]);
  await sleep(DEPART_AFTER_S * 1000 + 200);
  await membership.refresh();
  assert.match(membership.lastError ?? '', /_mysql\._tcp\.galera\.test has no SRV, A or AAAA records/);
  assert.deepEqual(view(cluster), { node1: `${sql(1)} departed`, node3: sql(3), node4: sql(4) });
});

test('dns: A and AAAA records with one port; an address added, one moved and one removed (SIGHUP) are followed; a listed member that is down stays', async () => {
  const forward = async (host: string, node: number) => {
    const f = await Forwarder.open(host, A_PORT, sandbox.node(node).sqlPort);
    forwarders.push(f);
    return f;
  };
  await forward('127.0.1.1', 1);
  await forward('127.0.1.3', 3);
  dns.hosts(['127.0.1.1 galera-a.test', '127.0.1.3 galera-a.test']);
  await dns.start([]);
  const cluster = discoveryCluster(`{ dns: galera-a.test, port: ${A_PORT}, dnsServer: "${DNS_SERVER}", departAfter: ${DEPART_AFTER_S}s }`);
  const membership = membershipOf(cluster);

  await membership.refresh();
  assert.equal(membership.lastError, null);
  assert.deepEqual(view(cluster), { node1: `127.0.1.1:${A_PORT}`, node3: `127.0.1.3:${A_PORT}` });
  const node3 = cluster.nodes.find((n) => n.name === 'node3')!;

  // node4 appears at ::1 (AAAA), node3 moves to a new address, node1 is removed.
  const node3Moved = await forward('127.0.1.5', 3);
  await forward('::1', 4);
  dns.hosts(['127.0.1.5 galera-a.test', '::1 galera-a.test']);
  await dns.reload();
  await membership.refresh();
  assert.equal(membership.lastError, null);
  assert.deepEqual(view(cluster), { node1: `127.0.1.1:${A_PORT}`, node3: `127.0.1.5:${A_PORT}`, node4: `::1:${A_PORT}` });
  assert.equal(
    cluster.nodes.find((n) => n.name === 'node3'),
    node3,
    'a new address is the same member',
  );

  // node3 stops answering but stays in DNS: still a member (it alerts as down), not departed.
  await node3Moved.close();
  await sleep(DEPART_AFTER_S * 1000 + 200);
  await membership.refresh();
  assert.deepEqual(view(cluster), { node1: `127.0.1.1:${A_PORT} departed`, node3: `127.0.1.5:${A_PORT}`, node4: `::1:${A_PORT}` });
});

/** A real dnsmasq on a loopback port, answering only from the records it is given. */
class Dnsmasq {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-dnsmasq-'));
  private readonly hostsFile = path.join(this.dir, 'hosts');
  private child: ChildProcess | null = null;
  private stderr = '';

  constructor() {
    // When we are root dnsmasq drops to nobody, who must still read the hosts file on SIGHUP.
    fs.chmodSync(this.dir, 0o755);
    this.hosts([]);
  }

  hosts(lines: string[]): void {
    fs.writeFileSync(this.hostsFile, lines.map((l) => `${l}\n`).join(''), { mode: 0o644 });
  }

  /** (Re)starts it with these extra records; resolves once it answers. */
  async start(records: string[]): Promise<void> {
    await this.stop();
    const args = [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--local=/test/',
      `--port=${DNS_PORT}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--pid-file=${path.join(this.dir, 'pid')}`,
      `--addn-hosts=${this.hostsFile}`,
      '--log-facility=-',
      ...records,
    ];
    const child = tracked(spawn(dnsmasqBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    child.stderr!.on('data', (d) => (this.stderr += d));
    this.child = child;
    // "started" comes once its sockets are bound: an answer before that could come from another server on the port.
    await waitFor(
      `dnsmasq on ${DNS_SERVER}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${this.stderr}`);
        return /started, version/.test(this.stderr) && answers();
      },
      10_000,
    );
  }

  /** SIGHUP: dnsmasq reads its hosts files again. */
  async reload(): Promise<void> {
    const before = this.stderr.length;
    this.child!.kill('SIGHUP');
    await waitFor('dnsmasq to re-read its hosts file', async () => /read .*hosts/.test(this.stderr.slice(before)), 10_000);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

function dnsmasqBinary(): string {
  const found = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => fs.existsSync(p));
  if (!found) throw new Error('dnsmasq not found: apt-get install dnsmasq-base');
  return found;
}

/** True once something answers DNS on the test port (any answer, NXDOMAIN included). */
async function answers(): Promise<boolean> {
  const { Resolver } = await import('node:dns/promises');
  const r = new Resolver({ timeout: 500, tries: 1 });
  r.setServers([DNS_SERVER]);
  try {
    await r.resolve4('probe.test');
    return true;
  } catch (err) {
    return ['ENOTFOUND', 'ENODATA'].includes((err as NodeJS.ErrnoException).code ?? '');
  }
}

/** A TCP forwarder: listen on host:port, pass every connection on to 127.0.0.1:targetPort. */
class Forwarder {
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  static async open(host: string, port: number, targetPort: number): Promise<Forwarder> {
    const server = net.createServer();
    const f = new Forwarder(server);
    server.on('connection', (client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      for (const s of [client, upstream]) {
        f.sockets.add(s);
        s.on('close', () => f.sockets.delete(s));
        s.on('error', () => (s === client ? upstream : client).destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    return f;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
