/**
 * Sends one stored notification to its sink over HTTP and says what happened, for the outbox to
 * decide between done, retry (with the receiver's Retry-After, if any) and give up.
 *
 * A receiver is not trusted to behave: redirects are not followed (a sink URL is configured
 * exactly; following a 3xx could carry the signed payload elsewhere), at most
 * MAX_RESPONSE_BODY_BYTES of a response body is read, and a Retry-After is capped.
 */
import { sinkDefinition, type SinkType } from '../sinks/registry.js';
import type { SinkDefinition } from '../sinks/definition.js';
import { scrubSecrets } from '../log/logger.js';
import { HOUR_MS } from '../units/time.js';

export interface SinkTarget {
  name: string;
  type: SinkType;
  url: string;
  hmacSecret: string | null;
  timeoutMs: number;
  /** For a type that resends while firing (Alertmanager): how far ahead a firing alert's endsAt is set on each send. */
  firingHoldMs: number;
}

export type SendResult = { ok: true } | { ok: false; retry: true; error: string; retryAfterMs: number | null } | { ok: false; retry: false; error: string };

/** The longest a receiver's Retry-After may hold a notification back. */
export const MAX_RETRY_AFTER_MS = HOUR_MS;

/** How much of a response body is read (and thrown away) before the stream is cancelled. */
export const MAX_RESPONSE_BODY_BYTES = 64 * 1024;

/**
 * Retry-After as seconds or an HTTP date, in ms from now, at most MAX_RETRY_AFTER_MS; null when
 * absent or unreadable (a negative or fractional number, or text that is not an HTTP date). A
 * date in the past means "now": 0.
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  const text = value?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  // Date.parse reads almost anything ("-5", "1.5", "soon 12" are all dates to it): an HTTP date,
  // in any of its three forms (RFC 9110 5.6.7), starts with a weekday and has a time of day.
  if (!/^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /.test(text) || !/\b\d{2}:\d{2}:\d{2}\b/.test(text)) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : Math.min(Math.max(0, t - now), MAX_RETRY_AFTER_MS);
}

/**
 * Reads and discards a response body, up to `limit` bytes, then cancels the stream: a receiver
 * that sends an endless body must not hold the sender. Read errors (the timeout aborting a slow
 * body, a reset) are ignored: the status has already decided the outcome.
 */
async function drainBody(body: ReadableStream<Uint8Array> | null, limit: number): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  let read = 0;
  try {
    while (read < limit) {
      const chunk = await reader.read();
      if (chunk.done) return;
      read += chunk.value.byteLength;
    }
  } catch {
    return;
  }
  await reader.cancel().catch(() => undefined);
}

export function send(target: SinkTarget, kind: 'firing' | 'resolved', payload: unknown, idempotencyKey: string, now = Date.now(), signal?: AbortSignal): Promise<SendResult> {
  return sendAs(sinkDefinition(target.type), target, kind, payload, idempotencyKey, now, signal);
}

/** The same, the sink type given by its definition: all the sender knows of a type is its request. */
export async function sendAs(
  definition: SinkDefinition,
  target: Omit<SinkTarget, 'type'>,
  kind: 'firing' | 'resolved',
  payload: unknown,
  idempotencyKey: string,
  now = Date.now(),
  signal?: AbortSignal,
): Promise<SendResult> {
  const { url, body, headers: typeHeaders } = definition.request({ kind, payload, now }, { url: target.url, secret: target.hmacSecret, firingHoldMs: target.firingHoldMs });
  const headers = { ...typeHeaders, 'content-type': 'application/json', 'idempotency-key': idempotencyKey, 'user-agent': 'gcache-advisor' };
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(target.timeoutMs)]) : AbortSignal.timeout(target.timeoutMs),
    });
    await drainBody(res.body, MAX_RESPONSE_BODY_BYTES);
    if (res.ok) return { ok: true };
    // The sink's URL is wrong (or was moved) until someone changes the configuration.
    if (res.status >= 300 && res.status < 400) return { ok: false, retry: false, error: `HTTP ${res.status} (redirects are not followed)` };
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
