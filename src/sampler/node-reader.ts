/**
 * Reads one Galera node over one long-lived connection. Every call has a hard deadline: when it
 * passes, the connection is destroyed, so a hung server costs one timeout and nothing more.
 * The account needs no privilege beyond USAGE: SHOW GLOBAL STATUS and SELECT @@variables are
 * open to every user.
 */
import fs from 'node:fs';
import mysql from 'mysql2/promise';
import type { NodeTarget } from '../config/load.js';
import { parseStatusRows, STATUS_VARIABLES, type NodeStatus } from './status.js';
import { parseGcacheSettings, type GcacheSettings } from './provider-options.js';

export class DeadlineError extends Error {
  override name = 'DeadlineError';
  readonly code = 'DEADLINE';
}

const STATUS_SQL = `SHOW GLOBAL STATUS WHERE Variable_name IN (${STATUS_VARIABLES.map((v) => `'${v}'`).join(', ')})`;
const SETTINGS_SQL = 'SELECT @@wsrep_provider_options AS provider_options, @@wsrep_sst_donor AS sst_donor';

export interface NodeSettingsRead {
  gcache: GcacheSettings;
  sstDonor: string;
}

export class NodeReader {
  private connection: mysql.Connection | null = null;

  constructor(
    readonly target: NodeTarget,
    private readonly timeoutMs: number,
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
    if (conn) await conn.end().catch(() => conn.destroy());
  }

  private async query<T>(sql: string): Promise<T[]> {
    return withDeadline(this.timeoutMs, async () => {
      const conn = await this.connect();
      const [rows] = await conn.query({ sql, timeout: this.timeoutMs });
      return rows as T[];
    }, () => this.drop());
  }

  private async connect(): Promise<mysql.Connection> {
    if (this.connection) return this.connection;
    const t = this.target;
    const conn = await mysql.createConnection({
      ...(t.socket ? { socketPath: t.socket } : { host: t.host, port: t.port }),
      user: t.user,
      password: t.password.reveal(),
      connectTimeout: this.timeoutMs,
      ...(t.tls ? { ssl: tlsOptions(t.tls) } : {}),
    });
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
  }
}

function tlsOptions(tls: NonNullable<NodeTarget['tls']>): Record<string, unknown> {
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.ca ? { ca: fs.readFileSync(tls.ca) } : {}),
    ...(tls.cert ? { cert: fs.readFileSync(tls.cert) } : {}),
    ...(tls.key ? { key: fs.readFileSync(tls.key) } : {}),
  };
}

/** Runs `work` with a hard deadline; on expiry calls `onExpire` (to drop the connection) and rejects. */
export async function withDeadline<T>(ms: number, work: () => Promise<T>, onExpire: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpire();
      reject(new DeadlineError(`no answer within ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
