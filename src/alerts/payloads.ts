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

/** Slack's limits, in characters: section text, a section field, a header. */
export const SLACK_SECTION_TEXT_MAX = 3000;
export const SLACK_FIELD_TEXT_MAX = 2000;
export const SLACK_HEADER_TEXT_MAX = 150;

/**
 * Slack's documented escaping for message text: `&`, `<` and `>` become entities, so a value
 * such as "<!channel>" or "<https://evil|click>" is shown as typed instead of pinging a channel
 * or rendering a link. Every node, label and annotation value goes through this.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Cuts already escaped text to at most `max` characters, the last one an ellipsis. The cut
 * never splits an entity ("&am") or a surrogate pair, which Slack would show as garbage.
 */
export function fitSlack(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp >= 0 && !text.slice(amp, cut).includes(';') && /^&(?:amp|lt|gt);/.test(text.slice(amp))) cut = amp;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/** A field: a bold title (ours) over a value (escaped), within Slack's field limit. */
function field(title: string, value: string): { type: 'mrkdwn'; text: string } {
  return { type: 'mrkdwn', text: fitSlack(`*${title}*\n${escapeSlack(value)}`, SLACK_FIELD_TEXT_MAX) };
}

export function slackPayload(a: AlertView): Record<string, unknown> {
  const firing = a.status === 'firing';
  const icon = !firing ? '✅' : a.severity === 'critical' ? '🔴' : a.severity === 'warning' ? '🟠' : '🔵';
  const where = a.labels.node ? `${a.labels.cluster}/${a.labels.node}` : (a.labels.cluster ?? '');
  const title = `${icon} ${firing ? 'FIRING' : 'RESOLVED'}: ${a.alertname}${where ? ` on ${where}` : ''}`;
  const summary = escapeSlack(a.annotations.summary ?? a.alertname);
  const fields = [
    field('Cluster', a.labels.cluster ?? '–'),
    ...(a.labels.node ? [field('Node', a.labels.node)] : []),
    field('Severity', a.severity),
    field(firing ? 'Since' : 'Resolved', new Date(firing ? a.startsAt : (a.endsAt ?? a.startsAt)).toISOString()),
    ...Object.entries(FIGURE_TITLES)
      .filter(([k]) => a.annotations[k])
      .map(([k, title]) => field(title, a.annotations[k]!)),
  ].slice(0, 10); // Slack allows 10 fields per section
  return {
    // The fallback for notifications and clients without Block Kit.
    text: fitSlack(`${firing ? '[FIRING]' : '[RESOLVED]'} ${summary}`, SLACK_SECTION_TEXT_MAX),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: fitSlack(escapeSlack(title), SLACK_HEADER_TEXT_MAX), emoji: true } },
      // The summary is cut inside the asterisks so that the bold still closes.
      { type: 'section', text: { type: 'mrkdwn', text: `*${fitSlack(summary, SLACK_SECTION_TEXT_MAX - 2)}*` } },
      { type: 'section', fields },
      ...(a.annotations.description ? [{ type: 'section', text: { type: 'mrkdwn', text: fitSlack(escapeSlack(a.annotations.description), SLACK_SECTION_TEXT_MAX) } }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: fitSlack(`gcache-advisor · ${escapeSlack(a.idempotencyKey)}`, SLACK_SECTION_TEXT_MAX) }] },
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
