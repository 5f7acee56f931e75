import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { slackPayload, webhookPayload, alertmanagerPayload, type AlertView } from '../../src/alerts/payloads.ts';
import { signBody, parseRetryAfter } from '../../src/alerts/sender.ts';

const alert: AlertView = {
  alertname: 'GaleraReplicationWindowCritical',
  severity: 'critical',
  labels: { alertname: 'GaleraReplicationWindowCritical', cluster: 'prod', node: 'db2', severity: 'critical' },
  annotations: { summary: 'prod/db2: replication window 12 min is below half the 60 min target', description: 'A node that leaves…', window: '12 min', recommended_size: '832 MiB', donor: 'db1' },
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
