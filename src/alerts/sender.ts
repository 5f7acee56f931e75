/**
 * Sends one stored notification to its sink over HTTP and says what happened, for the outbox to
 * decide between done, retry (with the receiver's Retry-After, if any) and give up.
 */
import { createHmac } from 'node:crypto';
import type { SinkType } from './payloads.js';
import { scrubSecrets } from '../log/logger.js';

export interface SinkTarget {
  name: string;
  type: SinkType;
  url: string;
  hmacSecret: string | null;
  timeoutMs: number;
  /** For Alertmanager: how far ahead a firing alert's endsAt is set on each send. */
  alertmanagerEndsAfterMs: number;
}

export type SendResult =
  | { ok: true }
  | { ok: false; retry: true; error: string; retryAfterMs: number | null }
  | { ok: false; retry: false; error: string };

export const SIGNATURE_HEADER = 'x-gcache-advisor-signature';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Retry-After as seconds or an HTTP date, in ms from now; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.max(0, t - now);
}

export async function send(target: SinkTarget, kind: 'firing' | 'resolved', payload: unknown, idempotencyKey: string, now = Date.now()): Promise<SendResult> {
  let url = target.url;
  let bodyValue = payload;
  if (target.type === 'alertmanager') {
    url = `${target.url.replace(/\/+$/, '')}/api/v2/alerts`;
    const alert = payload as Record<string, unknown>;
    bodyValue = [kind === 'firing' ? { ...alert, endsAt: new Date(now + target.alertmanagerEndsAfterMs).toISOString() } : alert];
  }
  const body = JSON.stringify(bodyValue);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': idempotencyKey, 'user-agent': 'gcache-advisor' };
  if (target.hmacSecret) headers[SIGNATURE_HEADER] = signBody(body, target.hmacSecret);
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(target.timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { ok: true };
    const error = `HTTP ${res.status}`;
    if (res.status === 429 || res.status === 408 || res.status >= 500) {
      return { ok: false, retry: true, error, retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), now) };
    }
    // Another 4xx: the receiver refuses this payload, and sending it again would not change that.
    return { ok: false, retry: false, error };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    // The URL may be a secret (a Slack webhook): only the error's kind is kept, never the URL.
    return { ok: false, retry: true, error: scrubSecrets(e.name === 'TimeoutError' ? `timeout after ${target.timeoutMs} ms` : (e.cause?.code ?? e.name)), retryAfterMs: null };
  }
}
