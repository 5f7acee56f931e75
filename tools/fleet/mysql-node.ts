/**
 * One simulated Galera node: a MySQL-protocol server made with mysql2's server side that answers
 * the two queries gcache-advisor sends, from the load model, at the instant each query arrives.
 *
 * mysql2's server side is a thin layer over the wire protocol, and two of its quirks matter here:
 * - it does not reset the packet sequence id when a new command starts (a server must: every
 *   command from the client starts again at 0), so every answer below ends with
 *   `sequenceId = 0`; without it the client warns "packets out of order";
 * - its listening socket is an inner net.Server that does not forward 'error' to the wrapper,
 *   so listen errors (a port in use) are taken from there.
 */
import crypto from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type net from 'node:net';
import mysql from 'mysql2';
import type { FleetModel, ModelNode } from './load-model.js';
import { statusVariables } from './load-model.js';

/** MariaDB error codes used in answers. */
const ER_ACCESS_DENIED_ERROR = 1045;
const ER_UNKNOWN_COM_ERROR = 1047;
const ER_UNKNOWN_SYSTEM_VARIABLE = 1193;
const ER_NOT_SUPPORTED_YET = 1235;

/** MYSQL_TYPE_VAR_STRING; utf8_general_ci, the server's own character set in its greeting. */
const VAR_STRING = 253;
const UTF8_GENERAL_CI = 33;
/**
 * The columns of SHOW STATUS and @@variables come in the connection's character set: with
 * mysql2's default, utf8mb4_unicode_ci (what MariaDB 10.11 of the sandbox labels them). A column
 * labelled otherwise would take mysql2's slower decoding path, which a real server never makes it take.
 */
const UTF8MB4_UNICODE_CI = 224;

const CLIENT = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  PROTOCOL_41: 0x200,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_RESULTS: 0x20000,
  PLUGIN_AUTH: 0x80000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
};
const SERVER_CAPABILITIES = Object.values(CLIENT).reduce((a, b) => a | b, 0);
const SERVER_VERSION = '5.5.5-10.11.13-MariaDB-log';
const SERVER_STATUS_AUTOCOMMIT = 0x2;

interface ColumnDefinition {
  catalog: string;
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  characterSet: number;
  columnLength: number;
  columnType: number;
  flags: number;
  decimals: number;
}

interface AuthRequest {
  user: string;
  authPluginData1: Buffer;
  authPluginData2: Buffer;
  authToken: Buffer;
}

/** The server-side methods of a mysql2 connection (not in mysql2's typings). */
interface ServerConnection extends EventEmitter {
  sequenceId: number;
  stream: net.Socket;
  serverHandshake(args: {
    protocolVersion: number;
    serverVersion: string;
    connectionId: number;
    statusFlags: number;
    characterSet: number;
    capabilityFlags: number;
    authCallback: (request: AuthRequest, done: (err: Error | null, mysqlError?: { message: string; code: number }) => void) => void;
  }): void;
  writeColumns(columns: ColumnDefinition[]): void;
  writeTextRow(values: Array<string | null>): void;
  writeEof(warnings?: number, statusFlags?: number): void;
  writeOk(args?: { affectedRows?: number; serverStatus?: number }): void;
  writeError(args: { code: number; message: string }): void;
}

export interface Credentials {
  user: string;
  password: string;
}

let nextConnectionId = 1;

export class SimulatedNode {
  private server: ReturnType<typeof mysql.createServer> | null = null;
  private readonly connections = new Set<ServerConnection>();

  constructor(
    readonly model: ModelNode,
    private readonly fleet: FleetModel,
    readonly host: string,
    readonly port: number,
    /** null: any user and password are accepted. */
    private readonly credentials: Credentials | null,
    private readonly now: () => number = Date.now,
  ) {}

  get listening(): boolean {
    return this.server !== null;
  }

  async listen(): Promise<void> {
    if (this.server) return;
    const server = mysql.createServer((conn) => this.accept(conn as unknown as ServerConnection));
    const socket = (server as unknown as { _server: net.Server })._server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new Error(`simulated node ${this.model.cluster}/${this.model.name}: cannot listen on ${this.host}:${this.port}: ${err.code ?? err.message}`));
      };
      socket.once('error', onError);
      socket.listen(this.port, this.host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    // A later error on the listening socket must not crash a fleet of a thousand nodes.
    socket.on('error', () => undefined);
    this.server = server;
  }

  /** Stops listening and drops every open connection, as a stopped server does. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const conn of this.connections) conn.stream.destroy();
    this.connections.clear();
    if (server) await new Promise<void>((resolve) => (server as unknown as { close(cb: () => void): void }).close(() => resolve()));
  }

  private accept(conn: ServerConnection): void {
    this.connections.add(conn);
    conn.stream.setNoDelay(true);
    // A client that vanishes (the daemon's deadline destroys its socket) is routine.
    conn.on('error', () => undefined);
    conn.stream.on('close', () => this.connections.delete(conn));
    conn.serverHandshake({
      protocolVersion: 10,
      serverVersion: SERVER_VERSION,
      connectionId: nextConnectionId++,
      statusFlags: SERVER_STATUS_AUTOCOMMIT,
      characterSet: UTF8_GENERAL_CI,
      capabilityFlags: SERVER_CAPABILITIES,
      authCallback: (request, done) => {
        if (this.authenticates(request)) {
          done(null);
        } else {
          done(null, {
            message: `Access denied for user '${request.user}'@'localhost' (using password: ${request.authToken.length > 0 ? 'YES' : 'NO'})`,
            code: ER_ACCESS_DENIED_ERROR,
          });
        }
        conn.sequenceId = 0;
      },
    });
    conn.on('query', (sql: string) => this.answer(conn, () => this.query(conn, sql)));
    // mysql2 routes statements starting with SET or PREPARE here rather than to 'query'.
    conn.on('stmt_prepare', (sql: string) =>
      this.answer(conn, () =>
        /^\s*SET\s/i.test(sql) ? conn.writeOk() : conn.writeError({ code: ER_NOT_SUPPORTED_YET, message: 'prepared statements are not supported by the simulated node' }),
      ),
    );
    conn.on('stmt_execute', () => this.answer(conn, () => conn.writeError({ code: ER_NOT_SUPPORTED_YET, message: 'prepared statements are not supported by the simulated node' })));
    conn.on('ping', () => this.answer(conn, () => conn.writeOk()));
    conn.on('init_db', () => this.answer(conn, () => conn.writeOk()));
    conn.on('quit', () => conn.stream.end());
    conn.on('packet', (_packet: unknown, known: boolean, command: number) => {
      if (!known) this.answer(conn, () => conn.writeError({ code: ER_UNKNOWN_COM_ERROR, message: `unknown command ${command}` }));
    });
  }

  /** mysql_native_password: the token is SHA1(pw) xor SHA1(scramble + SHA1(SHA1(pw))). */
  private authenticates(request: AuthRequest): boolean {
    if (!this.credentials) return true;
    if (request.user !== this.credentials.user) return false;
    const { password } = this.credentials;
    if (password === '') return request.authToken.length === 0;
    const stage1 = sha1(Buffer.from(password, 'utf8'));
    const stage2 = sha1(stage1);
    const mask = sha1(Buffer.concat([request.authPluginData1, request.authPluginData2.subarray(0, 12), stage2]));
    if (request.authToken.length !== mask.length) return false;
    const expected = Buffer.alloc(mask.length);
    for (let i = 0; i < mask.length; i++) expected[i] = mask[i]! ^ stage1[i]!;
    return crypto.timingSafeEqual(expected, request.authToken);
  }

  /** Writes one complete answer, then readies the connection for the client's next command. */
  private answer(conn: ServerConnection, write: () => void): void {
    try {
      write();
    } catch (err) {
      conn.writeError({ code: ER_NOT_SUPPORTED_YET, message: `simulated node failed: ${(err as Error).message}` });
    }
    conn.sequenceId = 0;
  }

  private query(conn: ServerConnection, sql: string): void {
    const text = sql.trim().replace(/;$/, '');
    if (/^SHOW\s+GLOBAL\s+STATUS\b/i.test(text)) return this.showStatus(conn, text);
    if (/^SELECT\s+1$/i.test(text)) return writeRows(conn, ['1'], [['1']]);
    if (/^SELECT\s+@@/i.test(text)) return this.selectVariables(conn, text);
    conn.writeError({ code: ER_NOT_SUPPORTED_YET, message: 'the simulated Galera node answers only SHOW GLOBAL STATUS, SELECT @@variables and SELECT 1' });
  }

  private showStatus(conn: ServerConnection, sql: string): void {
    const all = statusVariables(this.model.statusAt(this.now()));
    const rest = sql.replace(/^SHOW\s+GLOBAL\s+STATUS\s*/i, '');
    let wanted: (name: string) => boolean;
    const inList = /^WHERE\s+Variable_name\s+IN\s*\(([^)]*)\)$/i.exec(rest);
    const like = /^LIKE\s+'([^']*)'$/i.exec(rest);
    if (rest === '') {
      wanted = () => true;
    } else if (inList) {
      const names = new Set([...inList[1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]!.toLowerCase()));
      wanted = (name) => names.has(name.toLowerCase());
    } else if (like) {
      const pattern = new RegExp(
        `^${like[1]!
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/%/g, '.*')
          .replace(/_/g, '.')}$`,
        'i',
      );
      wanted = (name) => pattern.test(name);
    } else {
      return conn.writeError({ code: ER_NOT_SUPPORTED_YET, message: 'the simulated node filters SHOW GLOBAL STATUS only by LIKE or WHERE Variable_name IN (...)' });
    }
    // MariaDB lists status variables sorted by name, ignoring case.
    const rows = [...all]
      .filter(([name]) => wanted(name))
      .sort(([a], [b]) => a.toLowerCase().localeCompare(b.toLowerCase()))
      .map(([name, value]) => [name, value]);
    writeRows(conn, ['Variable_name', 'Value'], rows);
  }

  private selectVariables(conn: ServerConnection, sql: string): void {
    const items = sql.replace(/^SELECT\s+/i, '').split(',');
    const names: string[] = [];
    const values: Array<string | null> = [];
    for (const item of items) {
      const match = /^\s*@@(?:GLOBAL\.)?([A-Za-z0-9_]+)(?:\s+AS\s+([A-Za-z0-9_]+))?\s*$/i.exec(item);
      if (!match) return conn.writeError({ code: ER_NOT_SUPPORTED_YET, message: `the simulated node selects only @@variables, got "${item.trim()}"` });
      const value = this.systemVariable(match[1]!.toLowerCase());
      if (value === undefined) return conn.writeError({ code: ER_UNKNOWN_SYSTEM_VARIABLE, message: `Unknown system variable '${match[1]}'` });
      names.push(match[2] ?? `@@${match[1]}`);
      values.push(value);
    }
    writeRows(conn, names, [values]);
  }

  private systemVariable(name: string): string | null | undefined {
    switch (name) {
      case 'wsrep_provider_options':
        // Galera's group-communication port, one per node as on a real host.
        return this.fleet.providerOptions(4567 + this.model.index);
      case 'wsrep_sst_donor':
        return '';
      case 'wsrep_node_name':
        return this.model.name;
      case 'wsrep_cluster_name':
        return this.model.cluster;
      case 'wsrep_on':
        return 'ON';
      case 'version':
        return SERVER_VERSION.replace(/^5\.5\.5-/, '');
      default:
        return undefined;
    }
  }
}

function writeRows(conn: ServerConnection, names: string[], rows: Array<Array<string | null>>): void {
  conn.writeColumns(names.map(column));
  for (const row of rows) conn.writeTextRow(row);
  conn.writeEof(0, SERVER_STATUS_AUTOCOMMIT);
}

function column(name: string): ColumnDefinition {
  return {
    catalog: 'def',
    schema: '',
    table: '',
    orgTable: '',
    name,
    orgName: '',
    characterSet: UTF8MB4_UNICODE_CI,
    columnLength: 3072,
    columnType: VAR_STRING,
    flags: 0,
    decimals: 0,
  };
}

function sha1(data: Buffer): Buffer {
  return crypto.createHash('sha1').update(data).digest();
}
