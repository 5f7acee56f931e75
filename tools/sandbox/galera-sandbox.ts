/**
 * A real MariaDB Galera cluster on loopback, for the tests, the demo and the benchmarks.
 *
 * Each node gets its own datadir under one root folder and its own SQL, gmcast, IST and SST
 * ports. Node 1 bootstraps the cluster; the others join it by a real rsync SST. The sandbox
 * state (ports, pids) is written to <root>/sandbox.json so that one process can start a
 * cluster and another (the CLI's `down`) can tear it down.
 *
 * mariadbd refuses to run as root and rsync SST fails with "Permission denied" when it does,
 * so when we are root the servers run as the `mysql` user and the datadirs are theirs.
 */
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';

const execFileAsync = promisify(execFile);

const LOOPBACK = '127.0.0.1';

export const GALERA_PROVIDER_CANDIDATES = ['/usr/lib/galera/libgalera_smm.so', '/usr/lib/libgalera_smm.so', '/usr/lib64/galera-4/libgalera_smm.so'];

export interface SandboxOptions {
  /** Number of nodes, 1..9 (default 3). */
  nodes?: number;
  /** Root folder for all datadirs; a fresh temporary folder when omitted. */
  root?: string;
  /** First port; node i uses basePort + 10*i .. +3 (default 23300). */
  basePort?: number;
  /** Galera's gcache.size, in Galera's own syntax (default "8M"). */
  gcacheSize?: string;
  /** gcache.recover (default yes, as on Galera 4). */
  gcacheRecover?: boolean;
  /** More provider options, appended verbatim ("key=value;key=value"). */
  extraProviderOptions?: string;
  clusterName?: string;
  /**
   * The address each node listens on and is reached at, by node (default 127.0.0.1 for all).
   * With `nodeCommandPrefixes`, this lets a test put each node in a network namespace of its own.
   */
  nodeHosts?: string[];
  /** A command each node's server is started under, by node, e.g. ['ip', 'netns', 'exec', 'ns1']; it must exec the server (keeping the pid). */
  nodeCommandPrefixes?: string[][];
  /** The address the sandbox's clients connect from, for its admin account (default 127.0.0.1). */
  clientHost?: string;
  /**
   * Sets wsrep_node_incoming_address=<host>:<sqlPort> on every node, so that the status
   * wsrep_incoming_addresses names them (default false: Galera's AUTO, which reads "AUTO").
   */
  incomingAddresses?: boolean;
}

export interface SandboxNode {
  index: number;
  name: string;
  datadir: string;
  socket: string;
  configFile: string;
  errorLog: string;
  sqlPort: number;
  gmcastPort: number;
  istPort: number;
  sstPort: number;
  pid: number | null;
}

interface SandboxState {
  root: string;
  createdRoot: boolean;
  options: Required<Omit<SandboxOptions, 'root'>>;
  nodes: SandboxNode[];
}

/** The account the sandbox creates for workloads and tests: all privileges, TCP from loopback. */
export const SANDBOX_ADMIN = { user: 'sandbox', password: 'sandbox-admin-pw' };

export class GaleraSandbox {
  /** Servers this process started: the only ones its exit hook may kill. */
  private readonly startedHere = new Set<number>();

  private constructor(private state: SandboxState) {}

  get root(): string {
    return this.state.root;
  }
  get nodes(): readonly SandboxNode[] {
    return this.state.nodes;
  }
  get gcacheSize(): string {
    return this.state.options.gcacheSize;
  }

  node(index: number): SandboxNode {
    const node = this.state.nodes[index - 1];
    if (!node) throw new Error(`sandbox has no node ${index}`);
    return node;
  }

  /** Prepares datadirs and config files; starts nothing. */
  static async create(options: SandboxOptions = {}): Promise<GaleraSandbox> {
    const opts: SandboxState['options'] = {
      nodes: options.nodes ?? 3,
      basePort: options.basePort ?? 23300,
      gcacheSize: options.gcacheSize ?? '8M',
      gcacheRecover: options.gcacheRecover ?? true,
      extraProviderOptions: options.extraProviderOptions ?? '',
      clusterName: options.clusterName ?? 'sandbox',
      nodeHosts: options.nodeHosts ?? [],
      nodeCommandPrefixes: options.nodeCommandPrefixes ?? [],
      clientHost: options.clientHost ?? LOOPBACK,
      incomingAddresses: options.incomingAddresses ?? false,
    };
    if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 9) throw new Error('nodes must be between 1 and 9');
    const createdRoot = !options.root;
    const root = options.root ? path.resolve(options.root) : fs.mkdtempSync(path.join(os.tmpdir(), 'gcache-sandbox-'));
    fs.mkdirSync(root, { recursive: true });
    // mkdtemp makes the folder 0700; the mysql user must be able to reach its datadir.
    fs.chmodSync(root, 0o755);

    const nodes: SandboxNode[] = [];
    for (let i = 1; i <= opts.nodes; i++) {
      const base = opts.basePort + 10 * i;
      const dir = path.join(root, `node${i}`);
      nodes.push({
        index: i,
        name: `node${i}`,
        datadir: path.join(dir, 'data'),
        socket: path.join(dir, 'mysqld.sock'),
        configFile: path.join(dir, 'my.cnf'),
        errorLog: path.join(dir, 'error.log'),
        sqlPort: base,
        gmcastPort: base + 1,
        istPort: base + 2,
        sstPort: base + 3,
        pid: null,
      });
    }
    const sandbox = new GaleraSandbox({ root, createdRoot, options: opts, nodes });
    await sandbox.prepareDatadirs();
    sandbox.saveState();
    return sandbox;
  }

  /** Re-attaches to a sandbox started by another process (for the CLI's stop/down). */
  static load(root: string): GaleraSandbox {
    const file = path.join(path.resolve(root), 'sandbox.json');
    if (!fs.existsSync(file)) throw new Error(`no sandbox at ${root} (missing ${file})`);
    return new GaleraSandbox(JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxState);
  }

  /**
   * Bootstraps node 1, then joins the others one by one, each waited until Synced. With
   * `nodeCount`, only the first that many start; the rest stay configured, for startNode later.
   */
  async start(timeoutMs = 120_000, nodeCount = this.state.nodes.length): Promise<void> {
    await this.startNode(1, { bootstrap: true, timeoutMs });
    await this.createAdminAccount();
    for (const node of this.state.nodes.slice(1, nodeCount)) await this.startNode(node.index, { timeoutMs });
  }

  async startNode(index: number, opts: { bootstrap?: boolean; timeoutMs?: number; waitSynced?: boolean } = {}): Promise<void> {
    const node = this.node(index);
    if (node.pid && isAlive(node.pid)) throw new Error(`${node.name} is already running (pid ${node.pid})`);
    const args = [`--defaults-file=${node.configFile}`];
    if (runningAsRoot()) args.push('--user=mysql');
    // With no other node running there is nothing to join: the node must form the cluster anew.
    const bootstrap = opts.bootstrap ?? !this.state.nodes.some((n) => n.index !== index && n.pid !== null && isAlive(n.pid));
    if (bootstrap) args.push('--wsrep-new-cluster');
    const logOffset = fileSize(node.errorLog);
    const [command, ...prefixArgs] = [...this.commandPrefixOf(index), findMariadbd(), ...args];
    const child = spawn(command!, prefixArgs, { detached: true, stdio: 'ignore' });
    child.unref();
    node.pid = child.pid ?? null;
    if (node.pid) this.startedHere.add(node.pid);
    this.saveState();
    trackForExitCleanup(this);
    if (opts.waitSynced === false) return;
    await this.waitSynced(index, opts.timeoutMs ?? 120_000, logOffset);
  }

  /** Clean shutdown (SIGTERM), waiting for the process to exit. */
  async stopNode(index: number, timeoutMs = 60_000): Promise<void> {
    const node = this.node(index);
    if (!node.pid) return;
    await terminate(node.pid, 'SIGTERM', timeoutMs);
    node.pid = null;
    this.saveState();
  }

  /** Crash (SIGKILL): the node gets no chance to save its gcache or grastate. */
  async killNode(index: number): Promise<void> {
    const node = this.node(index);
    if (!node.pid) return;
    await terminate(node.pid, 'SIGKILL', 10_000);
    node.pid = null;
    this.saveState();
  }

  /** Stops every node and removes the root folder when the sandbox created it. */
  async destroy(opts: { keepFiles?: boolean } = {}): Promise<void> {
    await Promise.all(this.state.nodes.map((n) => this.stopNode(n.index, 30_000).catch(() => this.killNode(n.index))));
    untrackForExitCleanup(this);
    if (!opts.keepFiles) fs.rmSync(this.state.root, { recursive: true, force: true });
  }

  isRunning(index: number): boolean {
    const pid = this.node(index).pid;
    return pid !== null && isAlive(pid);
  }

  /** Connection options for the sandbox admin account over TCP. */
  adminConnectionOptions(index: number): mysql.ConnectionOptions {
    return { host: this.hostOf(index), port: this.node(index).sqlPort, user: SANDBOX_ADMIN.user, password: SANDBOX_ADMIN.password };
  }

  /** The address node `index` listens on (127.0.0.1 unless `nodeHosts` said otherwise). */
  hostOf(index: number): string {
    this.node(index);
    // Sandboxes saved before nodeHosts existed have no such option: loopback, as they were.
    return this.state.options.nodeHosts?.[index - 1] ?? LOOPBACK;
  }

  private commandPrefixOf(index: number): string[] {
    return this.state.options.nodeCommandPrefixes?.[index - 1] ?? [];
  }

  /** Runs SQL on one node as the sandbox admin and returns the rows. */
  async query<T = Record<string, unknown>>(index: number, sql: string, params: unknown[] = []): Promise<T[]> {
    const conn = await mysql.createConnection({ ...this.adminConnectionOptions(index), multipleStatements: false });
    try {
      const [rows] = await conn.query(sql, params);
      return rows as T[];
    } finally {
      await conn.end();
    }
  }

  async status(index: number, names: string[]): Promise<Record<string, string>> {
    const rows = await this.query<{ Variable_name: string; Value: string }>(index, `SHOW GLOBAL STATUS WHERE Variable_name IN (${names.map(() => '?').join(',')})`, names);
    return Object.fromEntries(rows.map((r) => [r.Variable_name.toLowerCase(), r.Value]));
  }

  /** Waits until the node says Synced, failing early with the log's last lines if it dies. */
  async waitSynced(index: number, timeoutMs = 120_000, logOffset = 0): Promise<void> {
    const node = this.node(index);
    const deadline = Date.now() + timeoutMs;
    let lastState = 'not reachable';
    while (Date.now() < deadline) {
      if (!node.pid || !isAlive(node.pid)) {
        throw new Error(`${node.name} exited while starting; last lines of ${node.errorLog}:\n${tailFrom(node.errorLog, logOffset, 20)}`);
      }
      try {
        const conn = await mysql.createConnection({ socketPath: node.socket, user: 'root', connectTimeout: 2000 });
        try {
          const [rows] = await conn.query("SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'");
          lastState = String((rows as Array<{ Value: string }>)[0]?.Value ?? 'unknown');
        } finally {
          await conn.end();
        }
        if (lastState === 'Synced') return;
      } catch {
        // The socket appears only once the server is up; keep polling.
      }
      await sleep(500);
    }
    throw new Error(`${node.name} did not reach Synced within ${timeoutMs / 1000}s (last state: ${lastState}); see ${node.errorLog}`);
  }

  /**
   * How the node last joined: "SST", "IST" or null, read from its error log since `offset`.
   * With rsync, an IST also runs the SST script (which then skips the snapshot) and Galera logs
   * "SST received" either way; the script's own report tells which transfer really happened.
   */
  joinMethodSince(index: number, offset: number): 'IST' | 'SST' | null {
    const log = tailFrom(this.node(index).errorLog, offset, Number.MAX_SAFE_INTEGER);
    if (/rsync SST completed on joiner|falling back to SST/.test(log)) return 'SST';
    if (/rsync IST completed on joiner|\bIST received\b/.test(log)) return 'IST';
    return null;
  }

  /** Stops the exit hook from killing this sandbox's servers: for the CLI's `up` and `start-node`. */
  detach(): void {
    this.startedHere.clear();
    untrackForExitCleanup(this);
  }

  errorLogSize(index: number): number {
    return fileSize(this.node(index).errorLog);
  }

  private async prepareDatadirs(): Promise<void> {
    const asRoot = runningAsRoot();
    const provider = GALERA_PROVIDER_CANDIDATES.find((p) => fs.existsSync(p));
    if (!provider) throw new Error(`Galera provider not found (looked in ${GALERA_PROVIDER_CANDIDATES.join(', ')}); apt-get install galera-4`);
    const gcomm = this.state.nodes.map((n) => `${this.hostOf(n.index)}:${n.gmcastPort}`).join(',');
    for (const node of this.state.nodes) {
      fs.mkdirSync(node.datadir, { recursive: true });
      fs.writeFileSync(node.configFile, this.renderConfig(node, provider, gcomm));
    }
    // One mariadb-install-db is enough: the joiners receive node 1's data by SST anyway, and
    // they only need a datadir that mariadbd will start on.
    const first = this.state.nodes[0]!;
    const installArgs = [`--defaults-file=${first.configFile}`, '--auth-root-authentication-method=normal', '--skip-test-db'];
    if (asRoot) installArgs.push('--user=mysql');
    try {
      await execFileAsync('mariadb-install-db', installArgs, { maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      throw new Error(`mariadb-install-db failed (is mariadb-server installed?): ${(err as Error).message}`, { cause: err });
    }
    for (const node of this.state.nodes.slice(1)) fs.cpSync(first.datadir, node.datadir, { recursive: true });
    if (asRoot) await execFileAsync('chown', ['-R', 'mysql:mysql', this.state.root]);
  }

  private renderConfig(node: SandboxNode, provider: string, gcomm: string): string {
    const o = this.state.options;
    const host = this.hostOf(node.index);
    const providerOptions = [
      `gmcast.listen_addr=tcp://${host}:${node.gmcastPort}`,
      `ist.recv_addr=${host}:${node.istPort}`,
      `gcache.size=${o.gcacheSize}`,
      `gcache.recover=${o.gcacheRecover ? 'yes' : 'no'}`,
      // Loopback peers never lose packets; shorter timeouts make stops and rejoins quick.
      'evs.suspect_timeout=PT5S',
      'evs.inactive_timeout=PT10S',
      'evs.install_timeout=PT10S',
      ...(o.extraProviderOptions ? [o.extraProviderOptions] : []),
    ].join(';');
    return `[mariadbd]
datadir=${node.datadir}
socket=${node.socket}
port=${node.sqlPort}
bind-address=${host}
pid-file=${path.join(path.dirname(node.datadir), 'mysqld.pid')}
log-error=${node.errorLog}
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_log_file_size=48M
innodb_flush_log_at_trx_commit=2
innodb_doublewrite=0
max_connections=200
wsrep_on=ON
wsrep_provider=${provider}
wsrep_cluster_name=${o.clusterName}
wsrep_cluster_address=gcomm://${gcomm}
wsrep_node_name=${node.name}
wsrep_node_address=${host}:${node.gmcastPort}
${o.incomingAddresses ? `wsrep_node_incoming_address=${host}:${node.sqlPort}\n` : ''}wsrep_provider_options="${providerOptions}"
wsrep_sst_method=rsync
wsrep_sst_receive_address=${host}:${node.sstPort}
wsrep_slave_threads=2
`;
  }

  private async createAdminAccount(): Promise<void> {
    const conn = await mysql.createConnection({ socketPath: this.node(1).socket, user: 'root' });
    const clientHost = this.state.options.clientHost ?? LOOPBACK;
    try {
      await conn.query(`CREATE USER IF NOT EXISTS '${SANDBOX_ADMIN.user}'@'${clientHost}' IDENTIFIED BY '${SANDBOX_ADMIN.password}'`);
      await conn.query(`GRANT ALL PRIVILEGES ON *.* TO '${SANDBOX_ADMIN.user}'@'${clientHost}' WITH GRANT OPTION`);
      await conn.query('CREATE DATABASE IF NOT EXISTS sbtest');
    } finally {
      await conn.end();
    }
  }

  private saveState(): void {
    fs.writeFileSync(path.join(this.state.root, 'sandbox.json'), JSON.stringify(this.state, null, 2));
  }

  /**
   * Synchronous last resort for process exit: no server may outlive the process that started
   * it. Servers of a loaded sandbox that another process started are left alone.
   */
  killAllSync(): void {
    for (const pid of this.startedHere) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}

function findMariadbd(): string {
  for (const candidate of ['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('mariadbd not found; apt-get install mariadb-server galera-4 rsync');
}

function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function terminate(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await sleep(200);
      if (!isAlive(pid)) return;
      throw new Error(`process ${pid} did not exit after ${signal}`);
    }
    await sleep(100);
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function tailFrom(file: string, offset: number, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8').slice(offset);
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '(no log)';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const liveSandboxes = new Set<GaleraSandbox>();
let exitHookInstalled = false;

function trackForExitCleanup(sandbox: GaleraSandbox): void {
  liveSandboxes.add(sandbox);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of liveSandboxes) s.killAllSync();
  });
}

function untrackForExitCleanup(sandbox: GaleraSandbox): void {
  liveSandboxes.delete(sandbox);
}
