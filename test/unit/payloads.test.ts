import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { slack, fitSlack } from '../../src/sinks/slack.ts';
import { webhook, signBody } from '../../src/sinks/webhook.ts';
import { alertmanager } from '../../src/sinks/alertmanager.ts';
import type { AlertView } from '../../src/sinks/view.ts';
import { parseRetryAfter } from '../../src/alerts/sender.ts';

// Each type's payload as the rule engine builds it for a sink of that type.
const slackPayload = (a: AlertView) => slack.payload(a, 'chat');
const webhookPayload = (a: AlertView, receiver: string) => webhook.payload(a, receiver);
const alertmanagerPayload = (a: AlertView) => alertmanager.payload(a, 'am');

const alert: AlertView = {
  alertname: 'GaleraReplicationWindowCritical',
  severity: 'critical',
  labels: { alertname: 'GaleraReplicationWindowCritical', cluster: 'prod', node: 'db2', severity: 'critical' },
  annotations: {
    summary: 'prod/db2: replication window 12 min is below half the 60 min target',
    description: 'A node that leaves…',
    window: '12 min',
    recommended_size: '832 MiB',
    donor: 'db1',
  },
  status: 'firing',
  startsAt: Date.UTC(2026, 10, 22, 10, 0, 0),
  endsAt: null,
  fingerprint: 'alertname="GaleraReplicationWindowCritical",cluster="prod",node="db2",severity="critical"',
  idempotencyKey: 'gcache-advisor/slack/7/firing',
};

test('Slack: Block Kit with a readable title, the node, the figures, and a text fallback', () => {
  const p = slackPayload(alert) as { text: string; blocks: Array<{ type: string; text?: { text: string }; fields?: Array<{ text: string }> }> };
  assert.equal(p.text, '[FIRING] prod/db2: replication window 12 min is below half the 60 min target');
  assert.equal(p.blocks[0]!.type, 'header');
  assert.equal(p.blocks[0]!.text!.text, '🔴 FIRING: GaleraReplicationWindowCritical on prod/db2');
  const fields = p.blocks.find((b) => b.fields)!.fields!.map((f) => f.text);
  assert.ok(fields.includes('*Node*\ndb2'));
  assert.ok(fields.includes('*Window*\n12 min'));
  assert.ok(fields.includes('*Recommended gcache.size*\n832 MiB'));
  const resolved = slackPayload({ ...alert, status: 'resolved', endsAt: alert.startsAt + 600_000 }) as { text: string; blocks: Array<{ text?: { text: string } }> };
  assert.match(resolved.text, /^\[RESOLVED\]/);
  assert.match(resolved.blocks[0]!.text!.text, /^✅ RESOLVED/);
});

test('webhook: the Alertmanager webhook version 4 shape', () => {
  const p = webhookPayload(alert, 'hook') as Record<string, any>;
  assert.equal(p.version, '4');
  assert.equal(p.status, 'firing');
  assert.equal(p.receiver, 'hook');
  assert.deepEqual(p.groupLabels, { alertname: 'GaleraReplicationWindowCritical' });
  assert.equal(p.alerts.length, 1);
  assert.equal(p.alerts[0].startsAt, '2026-11-22T10:00:00.000Z');
  assert.equal(p.alerts[0].endsAt, '0001-01-01T00:00:00Z');
  assert.equal(p.alerts[0].fingerprint, alert.fingerprint);
  for (const key of ['groupKey', 'truncatedAlerts', 'commonLabels', 'commonAnnotations', 'externalURL']) assert.ok(key in p, key);
});

test('Alertmanager API v2: labels, annotations, startsAt; endsAt only once resolved', () => {
  const firing = alertmanagerPayload(alert);
  assert.equal(firing.endsAt, undefined);
  assert.deepEqual(firing.labels, alert.labels);
  const resolved = alertmanagerPayload({ ...alert, status: 'resolved', endsAt: alert.startsAt + 1000 });
  assert.equal(resolved.endsAt, '2026-11-22T10:00:01.000Z');
});

test('HMAC-SHA256 signature of the body, and Retry-After in both forms', () => {
  const body = '{"a":1}';
  assert.equal(signBody(body, 'k3y'), `sha256=${createHmac('sha256', 'k3y').update(body).digest('hex')}`);
  assert.equal(parseRetryAfter('7', 0), 7000);
  assert.equal(parseRetryAfter(new Date(60_000).toUTCString(), 0), 60_000);
  assert.equal(parseRetryAfter(null, 0), null);
  assert.equal(parseRetryAfter('soon', 0), null);
});

type SlackBlock = { type: string; text?: { type: string; text: string }; fields?: Array<{ text: string }>; elements?: Array<{ text: string }> };

/** Every text of a Slack payload, named by where it sits. */
function slackTexts(p: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = [['text', p.text as string]];
  (p.blocks as SlackBlock[]).forEach((b, i) => {
    if (b.text) out.push([`blocks[${i}] ${b.type}`, b.text.text]);
    b.fields?.forEach((f, j) => out.push([`blocks[${i}].fields[${j}]`, f.text]));
    b.elements?.forEach((e, j) => out.push([`blocks[${i}].elements[${j}]`, e.text]));
  });
  return out;
}

test('Slack: node, label and annotation values are escaped, so "<!channel>" or a link is shown, not acted on', () => {
  const hostile = '<!channel>';
  const p = slackPayload({
    ...alert,
    labels: { ...alert.labels, cluster: `prod${hostile}`, node: `db2 ${hostile}` },
    annotations: { summary: `window low ${hostile}`, description: `see <https://evil.example|here> & ${hostile}`, donor: `db1${hostile}`, window: '12 min' },
    idempotencyKey: `gcache-advisor/slack${hostile}/7/firing`,
  });
  const texts = slackTexts(p);
  const carrying = texts.filter(([, t]) => t.includes('!channel'));
  // The fallback, the header, the summary, cluster, node and donor fields, the description, the context.
  assert.equal(carrying.length, 8, JSON.stringify(carrying));
  for (const [where, text] of texts) {
    assert.doesNotMatch(text, /[<>]/, where);
    if (text.includes('!channel')) assert.match(text, /&lt;!channel&gt;/, where);
  }
  const description = texts.find(([where]) => where.endsWith('section') && where.startsWith('blocks[3]'))![1];
  assert.equal(description, 'see &lt;https://evil.example|here&gt; &amp; &lt;!channel&gt;');
});

test("Slack: a 10,000-character value is cut to each block's limit, with an ellipsis", () => {
  const long = 'x'.repeat(10_000);
  const p = slackPayload({ ...alert, labels: { ...alert.labels, cluster: long, node: long }, annotations: { summary: long, description: long, donor: long, window: long } });
  const limits: Record<string, number> = { header: 150, section: 3000, text: 3000 };
  const texts = slackTexts(p);
  let cut = 0;
  for (const [where, text] of texts) {
    const limit = where.includes('fields') ? 2000 : (limits[where.split(' ').pop()!] ?? 3000);
    assert.ok(text.length <= limit, `${where}: ${text.length} > ${limit}`);
    if (text.includes('xxxxx')) {
      assert.ok(text.endsWith('…') || text.endsWith('…*'), where);
      cut++;
    }
  }
  // The fallback, the header, the summary, the description, and the cluster, node, donor and window fields.
  assert.equal(cut, 8);
  assert.match((p.blocks as SlackBlock[])[1]!.text!.text, /^\*x+…\*$/, 'the summary stays bold');
});

test('Slack: a cut never splits an entity or a surrogate pair', () => {
  assert.equal(fitSlack('abc&amp;def', 6), 'abc…');
  assert.equal(fitSlack('abc&lt;def', 9), 'abc&lt;d…');
  assert.equal(fitSlack('ab😀cd', 4), 'ab…');
  assert.equal(fitSlack('short', 5), 'short');
});
