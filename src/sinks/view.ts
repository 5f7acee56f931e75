/**
 * An alert as every sink sees it when a notification is written to the outbox: the one input of
 * each sink type's payload.
 */
export interface AlertView {
  alertname: string;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: 'firing' | 'resolved';
  startsAt: number;
  endsAt: number | null;
  fingerprint: string;
  idempotencyKey: string;
}
