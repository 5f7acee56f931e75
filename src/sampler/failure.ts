/** Sorts a failed read into a small, stable set of reasons for storage, metrics and alerts. Pure. */
import { scrubSecrets } from '../log/logger.js';

/** `tls_config`: a TLS file (ca, cert, key) named in the config could not be read: a local problem, not the node's. */
/** Every reason a read can fail for: metrics export each at 0 from the start. */
export const FAILURE_REASONS = ['timeout', 'unreachable', 'auth', 'not_galera', 'bad_value', 'query', 'tls_config'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export interface Failure {
  reason: FailureReason;
  message: string;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ENOENT', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'EAI_AGAIN']);

export function classifyFailure(err: unknown): Failure {
  const e = err as { code?: string; name?: string; message?: string };
  const message = scrubSecrets(String(e?.message ?? err));
  // By name, first: the file read failed with ENOENT, which must not read as a missing socket (unreachable).
  if (e?.name === 'TlsConfigError') return { reason: 'tls_config', message };
  if (e?.code === 'DEADLINE' || e?.code === 'ETIMEDOUT' || e?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') return { reason: 'timeout', message };
  if (e?.code && UNREACHABLE_CODES.has(e.code)) return { reason: 'unreachable', message };
  if (e?.code === 'ER_ACCESS_DENIED_ERROR' || e?.code === 'ER_DBACCESS_DENIED_ERROR' || e?.code === 'ER_NOT_SUPPORTED_AUTH_MODE') return { reason: 'auth', message };
  if (e?.name === 'StatusValueError' && /not a Galera node/.test(message)) return { reason: 'not_galera', message };
  if (e?.name === 'StatusValueError' || e?.name === 'ProviderOptionsError') return { reason: 'bad_value', message };
  return { reason: 'query', message };
}
