/** Shared set-up for integration tests: a real sandbox cluster and a least-privilege account. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { tracked } from '../support/children.ts';
import { GaleraSandbox, type SandboxOptions } from '../../tools/sandbox/galera-sandbox.ts';
import { parseConfig, type Config } from '../../src/config/load.ts';

export const ADVISOR_USER = 'gcache_advisor';
export const ADVISOR_PASSWORD = 'Adv1sor-secret-pw';
export const PASSWORD_ENV = 'GA_TEST_PASSWORD';

/** Starts a sandbox and creates the documented least-privilege account (USAGE only). */
export async function startCluster(options: SandboxOptions): Promise<GaleraSandbox> {
  const sandbox = await GaleraSandbox.create(options);
  try {
    await sandbox.start();
    await sandbox.query(1, `CREATE USER '${ADVISOR_USER}'@'127.0.0.1' IDENTIFIED BY '${ADVISOR_PASSWORD}'`);
  } catch (err) {
    await sandbox.destroy();
    throw err;
  }
  return sandbox;
}

export function configYaml(sandbox: GaleraSandbox, extra = '', dbPath?: string): string {
  const nodes = sandbox.nodes.map((n) => `      - { name: ${n.name}, host: 127.0.0.1, port: ${n.sqlPort} }`).join('\n');
  return `clusters:
  - name: sandbox
    connection: { user: ${ADVISOR_USER}, passwordEnv: ${PASSWORD_ENV} }
    nodes:
${nodes}
storage: { path: ${dbPath ?? path.join(sandbox.root, 'advisor.db')} }
${extra.includes('http:') ? '' : 'http: { listen: 127.0.0.1:0 }\n'}${extra}`;
}

export function makeConfig(sandbox: GaleraSandbox, extra = '', dbPath?: string): Config {
  return parseConfig(configYaml(sandbox, extra, dbPath), 'test-config.yaml', { [PASSWORD_ENV]: ADVISOR_PASSWORD });
}

export function writeConfigFile(sandbox: GaleraSandbox, extra = '', dbPath?: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-cfg-')), 'config.yaml');
  fs.writeFileSync(file, configYaml(sandbox, extra, dbPath));
  return file;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI = path.join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

/** Runs the gcache-advisor CLI from source and waits for it to exit. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return tracked(
    spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/**
 * Runs one query on a daemon's SQLite file without writing to it (SQLite's query_only pragma),
 * as an outside observer of what the daemon committed.
 */
export function queryDatabase<T>(file: string, sql: string, ...params: unknown[]): T[] {
  const conn = new Database(file, { fileMustExist: true });
  try {
    conn.pragma('query_only = ON');
    return conn.prepare(sql).all(...params) as T[];
  } finally {
    conn.close();
  }
}
