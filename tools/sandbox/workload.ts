/**
 * Write load for a sandbox cluster: Debian's sysbench for a steady multi-writer OLTP load, and
 * a writer of our own for an exact number of bytes (IST/SST and page-store tests need to know
 * how much was written).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { SANDBOX_ADMIN, type GaleraSandbox } from './galera-sandbox.js';

const execFileAsync = promisify(execFile);

export interface SysbenchOptions {
  tables?: number;
  tableSize?: number;
}

function sysbenchArgs(sandbox: GaleraSandbox, node: number, opts: SysbenchOptions): string[] {
  return [
    'oltp_write_only',
    '--db-driver=mysql',
    '--mysql-host=127.0.0.1',
    `--mysql-port=${sandbox.node(node).sqlPort}`,
    `--mysql-user=${SANDBOX_ADMIN.user}`,
    `--mysql-password=${SANDBOX_ADMIN.password}`,
    '--mysql-db=sbtest',
    `--tables=${opts.tables ?? 4}`,
    `--table-size=${opts.tableSize ?? 2000}`,
  ];
}

export async function prepareSysbench(sandbox: GaleraSandbox, opts: SysbenchOptions = {}): Promise<void> {
  try {
    await execFileAsync('sysbench', [...sysbenchArgs(sandbox, 1, opts), 'prepare'], { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    throw new Error(`sysbench prepare failed (apt-get install sysbench): ${(err as Error).message}`, { cause: err });
  }
}

/** A running sysbench load against one node, for `seconds` or until stopped. */
export class SysbenchRun {
  private readonly child: ChildProcess;
  readonly done: Promise<void>;

  constructor(sandbox: GaleraSandbox, node: number, opts: SysbenchOptions & { rate?: number; threads?: number; seconds?: number } = {}) {
    this.child = spawn(
      'sysbench',
      [
        ...sysbenchArgs(sandbox, node, opts),
        `--threads=${opts.threads ?? 2}`,
        `--rate=${opts.rate ?? 0}`,
        `--time=${opts.seconds ?? 0}`,
        // Several writers on one cluster meet certification conflicts; those are normal here.
        '--mysql-ignore-errors=all',
        '--report-interval=0',
        'run',
      ],
      { stdio: 'ignore' },
    );
    this.done = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.done;
  }
}

/**
 * Writes about `bytes` of payload to one node in transactions of `rowBytes` each, and returns
 * how many transactions it committed. Each transaction becomes one write-set.
 */
export async function writeBytes(sandbox: GaleraSandbox, node: number, bytes: number, rowBytes = 4096): Promise<number> {
  const conn = await mysql.createConnection({ ...sandbox.adminConnectionOptions(node), database: 'sbtest' });
  try {
    await conn.query('CREATE TABLE IF NOT EXISTS filler (id BIGINT AUTO_INCREMENT PRIMARY KEY, payload LONGBLOB NOT NULL) ENGINE=InnoDB');
    const payload = Buffer.alloc(rowBytes, 0x61);
    let count = 0;
    for (let written = 0; written < bytes; written += rowBytes) {
      await conn.query('INSERT INTO filler (payload) VALUES (?)', [payload]);
      count++;
    }
    return count;
  } finally {
    await conn.end();
  }
}

/**
 * Writes on one node until the cluster's gcaches have taken in `countedBytes` more, as Galera
 * counts them (wsrep_replicated_bytes + wsrep_received_bytes on the writer), in write-sets of
 * about `rowBytes`. Returns the bytes actually counted.
 */
export async function writeCountedBytes(sandbox: GaleraSandbox, node: number, countedBytes: number, rowBytes = 2048): Promise<number> {
  const conn = await mysql.createConnection({ ...sandbox.adminConnectionOptions(node), database: 'sbtest' });
  const counted = async (): Promise<number> => {
    const [rows] = await conn.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_replicated_bytes', 'wsrep_received_bytes')");
    return (rows as Array<{ Value: string }>).reduce((sum, r) => sum + Number(r.Value), 0);
  };
  try {
    await conn.query('CREATE TABLE IF NOT EXISTS filler (id BIGINT AUTO_INCREMENT PRIMARY KEY, payload LONGBLOB NOT NULL) ENGINE=InnoDB');
    const start = await counted();
    const payload = Buffer.alloc(rowBytes, 0x63);
    let rowsWritten = 0;
    for (;;) {
      const done = (await counted()) - start;
      if (done >= countedBytes) return done;
      // Learn how many counted bytes a row costs, then aim for half the remainder per step,
      // so the total overshoots by a row or two at most.
      const perRow = rowsWritten > 0 ? done / rowsWritten : rowBytes * 2;
      const rows = Math.max(1, Math.min(200, Math.floor((countedBytes - done) / perRow / 2)));
      for (let i = 0; i < rows; i++) await conn.query('INSERT INTO filler (payload) VALUES (?)', [payload]);
      rowsWritten += rows;
    }
  } finally {
    await conn.end();
  }
}

/** Commits one single write-set of about `bytes` bytes (for page-store tests: bigger than gcache.size/2). */
export async function writeOneBigWriteSet(sandbox: GaleraSandbox, node: number, bytes: number): Promise<void> {
  const conn = await mysql.createConnection({ ...sandbox.adminConnectionOptions(node), database: 'sbtest' });
  try {
    await conn.query('CREATE TABLE IF NOT EXISTS filler (id BIGINT AUTO_INCREMENT PRIMARY KEY, payload LONGBLOB NOT NULL) ENGINE=InnoDB');
    await conn.query('SET SESSION max_allowed_packet = 1073741824').catch(() => undefined);
    const chunk = 512 * 1024;
    await conn.beginTransaction();
    for (let written = 0; written < bytes; written += chunk) {
      await conn.query('INSERT INTO filler (payload) VALUES (?)', [Buffer.alloc(Math.min(chunk, bytes - written), 0x62)]);
    }
    await conn.commit();
  } finally {
    await conn.end();
  }
}
