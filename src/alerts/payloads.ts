/**
 * What each sink receives, built when a notification is written to the outbox. Pure.
 * - slack: Block Kit with a plain-text fallback;
 * - webhook: the Alertmanager webhook payload (version 4), so existing receivers work;
 * - alertmanager: one alert for POST /api/v2/alerts.
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

export type SinkType = 'slack' | 'webhook' | 'alertmanager';

/** Annotations that are figures, shown as fields in Slack, with their titles. */
const FIGURE_TITLES: Record<string, string> = {
  window: 'Window',
  ist_budget: 'IST budget',
  donor: 'Donor',
  gcache_size: 'gcache.size',
  recommended_size: 'Recommended gcache.size',
};

export function slackPayload(a: AlertView): Record<string, unknown> {
  const firing = a.status === 'firing';
  const icon = !firing ? '✅' : a.severity === 'critical' ? '🔴' : a.severity === 'warning' ? '🟠' : '🔵';
  const where = a.labels.node ? `${a.labels.cluster}/${a.labels.node}` : (a.labels.cluster ?? '');
  const title = `${icon} ${firing ? 'FIRING' : 'RESOLVED'}: ${a.alertname}${where ? ` on ${where}` : ''}`;
  const summary = a.annotations.summary ?? a.alertname;
  const fields = [
    { type: 'mrkdwn', text: `*Cluster*\n${a.labels.cluster ?? '–'}` },
    ...(a.labels.node ? [{ type: 'mrkdwn', text: `*Node*\n${a.labels.node}` }] : []),
    { type: 'mrkdwn', text: `*Severity*\n${a.severity}` },
    { type: 'mrkdwn', text: `*${firing ? 'Since' : 'Resolved'}*\n${new Date(firing ? a.startsAt : (a.endsAt ?? a.startsAt)).toISOString()}` },
    ...Object.entries(FIGURE_TITLES)
      .filter(([k]) => a.annotations[k])
      .map(([k, title]) => ({ type: 'mrkdwn', text: `*${title}*\n${a.annotations[k]}` })),
  ].slice(0, 10); // Slack allows 10 fields per section
  return {
    // The fallback for notifications and clients without Block Kit.
    text: `${firing ? '[FIRING]' : '[RESOLVED]'} ${summary}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: `*${summary}*` } },
      { type: 'section', fields },
      ...(a.annotations.description ? [{ type: 'section', text: { type: 'mrkdwn', text: a.annotations.description.slice(0, 3000) } }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: `gcache-advisor · ${a.idempotencyKey}` }] },
    ],
  };
}

export function webhookPayload(a: AlertView, receiver: string): Record<string, unknown> {
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

/**
 * One alert for Alertmanager's API. A firing alert's endsAt is set when it is sent (see the
 * sender): Alertmanager resolves an alert by itself once endsAt passes, so a firing alert is
 * re-sent before that for as long as it fires.
 */
export function alertmanagerPayload(a: AlertView): Record<string, unknown> {
  return {
    labels: a.labels,
    annotations: a.annotations,
    startsAt: new Date(a.startsAt).toISOString(),
    ...(a.status === 'resolved' && a.endsAt !== null ? { endsAt: new Date(a.endsAt).toISOString() } : {}),
    generatorURL: '',
  };
}

export function payloadFor(type: SinkType, a: AlertView, sinkName: string): Record<string, unknown> {
  switch (type) {
    case 'slack':
      return slackPayload(a);
    case 'webhook':
      return webhookPayload(a, sinkName);
    case 'alertmanager':
      return alertmanagerPayload(a);
  }
}
