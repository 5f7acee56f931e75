/**
 * Reads one Galera node over one long-lived connection. Every call has a hard deadline: when it
 * passes, the connection is destroyed, so a hung server costs one timeout and nothing more.
 * The account needs no privilege beyond USAGE: SHOW GLOBAL STATUS and SELECT @@variables are
 * open to every user.
 */
import net from 'node:net';
import mysql from 'mysql2/promise';
import type { NodeTarget } from '../config/load.js';
import { parseStatusRows, STATUS_VARIABLES, type NodeStatus } from './status.js';
import { parseGcacheSettings, type GcacheSettings } from './provider-options.js';
import { HostResolver } from './host-resolver.js';
import { mysqlSslOptions } from './tls-options.js';
import { withDeadline } from './deadline.js';

export { DeadlineError, withDeadline } from './deadline.js';

const STATUS_SQL = `SHOW GLOBAL STATUS WHERE Variable_name IN (${STATUS_VARIABLES.map((v) => `'${v}'`).join(', ')})`;
const SETTINGS_SQL = 'SELECT @@wsrep_provider_options AS provider_options, @@wsrep_sst_donor AS sst_donor';

/** See the connection options: no statement is ever prepared, so the cache is kept tiny. */
export const MAX_PREPARED_STATEMENTS = 4;

export interface NodeSettingsRead {
  gcache: GcacheSettings;
  sstDonor: string;
}

/** What the sampler needs from a node: NodeReader over MySQL, or anything else that answers the same. */
export interface StatusReader {
  readStatus(): Promise<NodeStatus>;
  readSettings(): Promise<NodeSettingsRead>;
  close(): Promise<void>;
}

export class NodeReader implements StatusReader {
  private connection: mysql.Connection | null = null;
  /** The socket of a connection still being set up: destroyed if the deadline passes meanwhile. */
  private opening: net.Socket | null = null;

  constructor(
    readonly target: NodeTarget,
    private readonly timeoutMs: number,
    private readonly resolver: HostResolver = new HostResolver({ timeoutMs }),
  ) {}

  async readStatus(): Promise<NodeStatus> {
    const rows = await this.query<{ Variable_name: string; Value: string }>(STATUS_SQL);
    return parseStatusRows(rows);
  }

  async readSettings(): Promise<NodeSettingsRead> {
    const [row] = await this.query<{ provider_options: string | null; sst_donor: string | null }>(SETTINGS_SQL);
    return { gcache: parseGcacheSettings(row?.provider_options ?? ''), sstDonor: row?.sst_donor ?? '' };
  }

  async close(): Promise<void> {
    const conn = this.connection;
    this.connection = null;
    this.opening?.destroy();
    this.opening = null;
    if (conn) await conn.end().catch(() => conn.destroy());
  }

  private async query<T>(sql: string): Promise<T[]> {
    // The name is resolved before the deadline starts (and under its own): a slow resolver is not the node's fault.
    const address = !this.connection && this.target.host ? await this.resolver.resolve(this.target.host) : null;
    return withDeadline(
      this.timeoutMs,
      async () => {
        const conn = await this.connect(address);
        try {
          const [rows] = await conn.query({ sql, timeout: this.timeoutMs });
          return rows as T[];
        } catch (err) {
          // A connection lost during (or just before) the query is dead for good: mysql2 would
          // answer every later query with "connection is in closed state". Only the server's own
          // SQL errors (with a SQLSTATE) leave the connection usable.
          const e = err as { fatal?: boolean; sqlState?: string };
          if (e.fatal || !e.sqlState) this.drop();
          throw err;
        }
      },
      () => this.drop(),
    );
  }

  private async connect(address: string | null): Promise<mysql.Connection> {
    if (this.connection) return this.connection;
    const t = this.target;
    const mine: { socket: net.Socket | null } = { socket: null };
    let conn: mysql.Connection;
    try {
      conn = await mysql.createConnection({
        ...(t.socket ? { socketPath: t.socket } : { host: t.host, port: t.port }),
        // The socket is opened here rather than by mysql2, so that a deadline can destroy it (a
        // concurrency slot then really frees a socket), and so that it goes to the resolved address
        // while `host` stays the name: mysql2 sends that as the TLS server name (SNI) and checks
        // the certificate against it (verifyIdentity).
        stream: () => (this.opening = mine.socket = openSocket(t.socket ? { path: t.socket } : { host: address ?? t.host!, port: t.port }, t.host)),
        user: t.user,
        password: t.password.reveal(),
        connectTimeout: this.timeoutMs,
        // Only plain queries are sent; mysql2's statement cache (an LRU sized for 16,000 entries,
        // allocated up front) would cost about 500 kB per connection: 500 MB for a 1,000-node fleet.
        maxPreparedStatements: MAX_PREPARED_STATEMENTS,
        ...(t.tls ? { ssl: mysqlSslOptions(t.tls) } : {}),
      });
    } catch (err) {
      this.forgetAddress();
      throw err;
    } finally {
      if (this.opening === mine.socket) this.opening = null;
    }
    // A server that goes away emits 'error' on the idle connection; forget it and reconnect
    // next time instead of crashing the daemon.
    conn.on('error', () => this.drop());
    this.connection = conn;
    return conn;
  }

  private drop(): void {
    const conn = this.connection;
    this.connection = null;
    conn?.destroy();
    this.opening?.destroy();
    this.opening = null;
    this.forgetAddress();
  }

  private forgetAddress(): void {
    if (this.target.host) this.resolver.forget(this.target.host);
  }
}

/** What mysql2 does for a TCP connection of its own: no Nagle delay, the packets are small. */
function openSocket(to: { path: string } | { host: string; port: number }, configuredHost?: string): net.Socket {
  const socket = net.connect(to);
  if ('path' in to) return socket;
  socket.setNoDelay(true);
  // For a node configured by IP address mysql2 gives TLS no server name (SNI takes no
  // addresses), and node then checks the certificate against the socket's `_host`, which it sets
  // only after a name lookup: an address would be checked as "localhost". Set it, so that the
  // certificate must name the address (an IP SAN), as verifyIdentity means.
  if (configuredHost && net.isIP(configuredHost)) (socket as net.Socket & { _host?: string })._host = configuredHost;
  return socket;
}
