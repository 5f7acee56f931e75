/**
 * Slack (an incoming webhook): Block Kit with a plain-text fallback, every value escaped and cut
 * to Slack's limits. Posted as it is; repeats while the alert fires.
 */
import { defineSink, plainJsonRequest } from './definition.js';
import type { AlertView } from './view.js';

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

function slackPayload(a: AlertView): Record<string, unknown> {
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

export const slack = defineSink({
  type: 'slack',
  payload: slackPayload,
  request: plainJsonRequest,
  resendWhileFiring: false,
  repeats: true,
  signs: false,
});
