/**
 * A generic webhook: the Alertmanager webhook payload (version 4), so that receivers written for
 * Alertmanager work unchanged. With a secret, the body is signed (HMAC-SHA256) in
 * SIGNATURE_HEADER so that the receiver can check where it came from.
 */
import { createHmac } from 'node:crypto';
import { defineSink, plainJsonRequest } from './definition.js';
import type { AlertView } from './view.js';

export const SIGNATURE_HEADER = 'x-gcache-advisor-signature';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function webhookPayload(a: AlertView, receiver: string): Record<string, unknown> {
  return {
    version: '4',
    groupKey: `{}:{alertname="${a.alertname}"}`,
    truncatedAlerts: 0,
    status: a.status,
    receiver,
    groupLabels: { alertname: a.alertname },
    commonLabels: a.labels,
    commonAnnotations: a.annotations,
    externalURL: '',
    idempotencyKey: a.idempotencyKey,
    alerts: [
      {
        status: a.status,
        labels: a.labels,
        annotations: a.annotations,
        startsAt: new Date(a.startsAt).toISOString(),
        endsAt: a.endsAt === null ? '0001-01-01T00:00:00Z' : new Date(a.endsAt).toISOString(),
        generatorURL: '',
        fingerprint: a.fingerprint,
      },
    ],
  };
}

export const webhook = defineSink({
  type: 'webhook',
  payload: webhookPayload,
  request(outgoing, destination) {
    const request = plainJsonRequest(outgoing, destination);
    if (destination.secret) request.headers[SIGNATURE_HEADER] = signBody(request.body, destination.secret);
    return request;
  },
  resendWhileFiring: false,
  repeats: true,
  signs: true,
});
