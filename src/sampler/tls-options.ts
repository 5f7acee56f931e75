/**
 * The `ssl` options handed to mysql2 for a node with `tls` configured. mysql2 passes them on to
 * node's tls.connect: `rejectUnauthorized` checks the certificate chain against `ca`, and
 * `verifyIdentity` also checks that the certificate names the host connected to, without which
 * any certificate the CA ever signed (for any host) would be accepted.
 */
import fs from 'node:fs';
import type { NodeTarget } from '../config/load.js';

export type NodeTls = NonNullable<NodeTarget['tls']>;

export interface MysqlSslOptions {
  rejectUnauthorized: boolean;
  verifyIdentity: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** A TLS file named in the config cannot be read: the problem is here, not at the node. */
export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
  readonly code = 'TLS_CONFIG';
}

export function mysqlSslOptions(tls: NodeTls): MysqlSslOptions {
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    verifyIdentity: tls.verifyIdentity,
    ...(tls.ca ? { ca: readTlsFile('ca', tls.ca) } : {}),
    ...(tls.cert ? { cert: readTlsFile('cert', tls.cert) } : {}),
    ...(tls.key ? { key: readTlsFile('key', tls.key) } : {}),
  };
}

// Read at every new connection (connections are long-lived), so a renewed certificate is picked up.
function readTlsFile(kind: 'ca' | 'cert' | 'key', file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new TlsConfigError(`cannot read the TLS ${kind} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
