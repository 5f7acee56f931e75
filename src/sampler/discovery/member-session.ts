/**
 * One SQL connection to a cluster member found by discovery, with the cluster's connection
 * settings. Every query has a hard deadline that destroys the connection, like the sampler's
 * NodeReader: a hung member costs one timeout, then discovery moves on to the next.
 */
import net from 'node:net';
import mysql from 'mysql2/promise';
import { MAX_PREPARED_STATEMENTS } from '../node-reader.js';
import type { DiscoveryConnection } from '../../config/load.js';
import { HostResolver } from '../host-resolver.js';
import { mysqlSslOptions } from '../tls-options.js';
import { withDeadline } from '../deadline.js';
import type { MemberAddress } from '../../config/addresses.js';

export class MemberSession {
  private connection: mysql.Connection | null = null;
  /** The socket of a connection being set up, destroyed if the deadline passes meanwhile. */
  private opening: net.Socket | null = null;

  constructor(
    readonly address: MemberAddress,
    private readonly settings: DiscoveryConnection,
    private readonly timeoutMs: number,
    private readonly resolver: HostResolver,
  ) {}

  async query<T>(sql: string): Promise<T[]> {
    // Resolved outside the deadline (and under the resolver's own): a slow resolver is not the member's fault.
    const ip = this.connection ? null : await this.resolver.resolve(this.address.host);
    return withDeadline(
      this.timeoutMs,
      async () => {
        const conn = this.connection ?? (await this.connect(ip ?? (await this.resolver.resolve(this.address.host))));
        const [rows] = await conn.query({ sql, timeout: this.timeoutMs });
        return rows as T[];
      },
      () => this.drop(),
    );
  }

  async close(): Promise<void> {
    const conn = this.connection;
    this.connection = null;
    this.opening?.destroy();
    this.opening = null;
    if (conn) await conn.end().catch(() => conn.destroy());
  }

  private async connect(ip: string): Promise<mysql.Connection> {
    const { host, port } = this.address;
    const s = this.settings;
    try {
      const conn = await mysql.createConnection({
        // `host` stays the name (mysql2 sends it as the TLS server name and checks the
        // certificate against it); the socket goes to the address resolved above.
        host,
        port,
        stream: () => (this.opening = openSocket(ip, port, host)),
        user: s.user,
        password: s.password.reveal(),
        connectTimeout: this.timeoutMs,
        maxPreparedStatements: MAX_PREPARED_STATEMENTS, // see node-reader.ts
        ...(s.tls ? { ssl: mysqlSslOptions(s.tls) } : {}),
      });
      // A member that goes away emits 'error' on the idle connection: forget it, reconnect next time.
      conn.on('error', () => this.drop());
      this.connection = conn;
      return conn;
    } catch (err) {
      this.resolver.forget(host);
      throw err;
    } finally {
      this.opening = null;
    }
  }

  private drop(): void {
    const conn = this.connection;
    this.connection = null;
    conn?.destroy();
    this.opening?.destroy();
    this.opening = null;
    this.resolver.forget(this.address.host);
  }
}

function openSocket(ip: string, port: number, configuredHost: string): net.Socket {
  const socket = net.connect({ host: ip, port });
  socket.setNoDelay(true);
  // For a member known by IP address TLS gets no server name, and node checks the certificate
  // against the socket's `_host`, which it only sets after a name lookup: set it to the address,
  // so that verifyIdentity means "the certificate names this address" (see node-reader.ts).
  if (net.isIP(configuredHost)) (socket as net.Socket & { _host?: string })._host = configuredHost;
  return socket;
}
