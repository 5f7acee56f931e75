/**
 * Alerting end to end: a rule fires when a real node stops and resolves when it is back, a real
 * Alertmanager (Debian's prometheus-alertmanager) receives both, a webhook that fails its first
 * requests gets the same notification retried, Slack's 429 Retry-After is honoured, a daemon
 * killed while a notification is pending delivers it exactly once after restart, SIGHUP keeps
 * the old rules when the new ones are broken, and no URL or secret reaches the logs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { GaleraSandbox, sleep } from '../../tools/sandbox/galera-sandbox.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { createLogger } from '../../src/log/logger.ts';
import { parseConfig } from '../../src/config/load.ts';
import { signBody } from '../../src/sinks/webhook.ts';
import { waitFor } from '../support/wait.ts';
import { startAlertmanager } from '../support/alertmanager.ts';
import { exited } from '../support/children.ts';
import { startCluster, configYaml, spawnCli, queryDatabase, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-alerts-'));
const AM_PORT = 24693;
const HMAC_SECRET = 'Hmac-secret-for-tests-42';
const HOOK_TOKEN = 'T0KEN-in-the-webhook-url';
const SLACK_TOKEN = 'XOXB-slack-path-secret';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  raw: string;
  at: number;
}

/** A local HTTP receiver that answers each request with the next status from `script`, then 200. */
async function receiver(port: number, script: Array<{ status: number; headers?: Record<string, string> }> = []): Promise<{ got: Received[]; close: () => Promise<void> }> {
  const got: Received[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const step = script[n++] ?? { status: 200 };
      got.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(raw || 'null'), raw, at: Date.now() });
      res.writeHead(step.status, step.headers ?? {});
      res.end(step.status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { got, close: () => new Promise((r) => server.close(() => r())) };
}

const notSampledRule = `name: GcacheAdvisorNodeNotSampled
condition: missed_cycles >= 1
severity: critical
summary: "{{ cluster }}/{{ node }} has not been sampled for {{ missed_cycles }} cycles"
`;

/** A config whose only node is a closed port: it is never sampled, so a missed-cycles rule fires at once. */
function unreachableNodeConfig(name: string, rules: string, extra = ''): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(
    file,
    `clusters:
  - name: c1
    connection: { user: u, passwordEnv: ${PASSWORD_ENV} }
    nodes: [{ name: gone, host: 127.0.0.1, port: 9 }]
storage: { path: ${path.join(tmp, `${name}.db`)} }
http: { listen: 127.0.0.1:0 }
rules: { dir: ${rules} }
${extra}`,
  );
  return file;
}

function rulesDir(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

let alertmanager: ChildProcess;
let sandbox: GaleraSandbox;

before(async () => {
  alertmanager = await startAlertmanager(path.join(tmp, 'am'), AM_PORT);
  sandbox = await startCluster({ nodes: 1, basePort: 24600 });
});

after(async () => {
  alertmanager?.kill('SIGTERM');
  await sandbox?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a node that stops fires an alert to Alertmanager, Slack and a webhook, with retries, and it resolves when the node is back', async () => {
  const hook = await receiver(24694, [{ status: 500 }, { status: 503 }]);
  const slack = await receiver(24695, [{ status: 429, headers: { 'retry-after': '2' } }]);
  const logs: string[] = [];
  let daemon: Daemon | undefined;
  try {
    const config = parseConfig(
      configYaml(
        sandbox,
        `sampling: { schedule: "* * * * * *", timeout: 1s }
rules: { dir: ${rulesDir('live', { 'not-sampled.yaml': notSampledRule })} }
alerting:
  alertmanagerResend: 2s
  sinks:
    - { name: am, type: alertmanager, url: "http://127.0.0.1:${AM_PORT}" }
    - { name: hook, type: webhook, urlEnv: HOOK_URL, secretEnv: HOOK_SECRET, severities: [critical] }
    - { name: slack, type: slack, urlEnv: SLACK_URL }
    - { name: info-only, type: webhook, url: "http://127.0.0.1:9/never", severities: [info] }
`,
      ),
      'alerts-test.yaml',
      {
        [PASSWORD_ENV]: ADVISOR_PASSWORD,
        HOOK_URL: `http://127.0.0.1:24694/hook/${HOOK_TOKEN}`,
        HOOK_SECRET: HMAC_SECRET,
        SLACK_URL: `http://127.0.0.1:24695/services/${SLACK_TOKEN}`,
      },
    );
    daemon = await startDaemon(config, createLogger({ level: 'debug', write: (l) => logs.push(l) }));
    await sleep(2000);
    assert.equal(daemon.engine.openAlerts().length, 0, 'nothing fires while the node is up');

    await sandbox.stopNode(1);
    // Alertmanager has the alert, active.
    const amAlert = await waitFor('the alert in Alertmanager', async () => {
      const alerts = (await (await fetch(`http://127.0.0.1:${AM_PORT}/api/v2/alerts`)).json()) as Array<{
        labels: Record<string, string>;
        status: { state: string };
        annotations: Record<string, string>;
      }>;
      return alerts.find((a) => a.labels.alertname === 'GcacheAdvisorNodeNotSampled' && a.status.state === 'active');
    });
    assert.equal(amAlert.labels.node, 'node1');
    assert.equal(amAlert.labels.severity, 'critical');
    assert.match(amAlert.annotations.summary!, /sandbox\/node1 has not been sampled for \d+ cycles/);

    // The webhook failed twice, then got the same notification: same idempotency key, signed.
    await waitFor('the webhook delivery', () => hook.got.length >= 3, 20_000);
    const firing = hook.got.slice(0, 3);
    assert.equal(new Set(firing.map((r) => r.headers['idempotency-key'])).size, 1, 'retries carry the same key');
    for (const r of firing) assert.equal(r.headers['x-gcache-advisor-signature'], signBody(r.raw, HMAC_SECRET));
    assert.equal(firing[2]!.body.version, '4');
    assert.equal(firing[2]!.body.status, 'firing');
    assert.ok(firing[1]!.at - firing[0]!.at >= 400, 'backoff between attempts');

    // Slack said 429 with Retry-After: 2; the retry waited for it.
    await waitFor('the Slack delivery', () => slack.got.length >= 2, 20_000);
    assert.ok(slack.got[1]!.at - slack.got[0]!.at >= 1900, `retry after ${slack.got[1]!.at - slack.got[0]!.at} ms`);
    assert.match(slack.got[1]!.body.text, /^\[FIRING\] sandbox\/node1 has not been sampled/);
    assert.equal(slack.got[1]!.body.blocks[0].type, 'header');

    // Back up: resolved everywhere.
    await sandbox.startNode(1);
    await waitFor('the resolution at the webhook', () => hook.got.some((r) => r.body.status === 'resolved'), 30_000);
    await waitFor('the resolution at Slack', () => slack.got.some((r) => /^\[RESOLVED\]/.test(r.body.text)), 30_000);
    await waitFor('the resolution in Alertmanager', async () => {
      const alerts = (await (await fetch(`http://127.0.0.1:${AM_PORT}/api/v2/alerts?active=true`)).json()) as Array<{ labels: Record<string, string> }>;
      return !alerts.some((a) => a.labels.alertname === 'GcacheAdvisorNodeNotSampled');
    });
    const history = daemon.store.alertHistory(0, 10);
    assert.equal(history[0]!.state, 'resolved');
    assert.ok(history[0]!.firedAt! < history[0]!.resolvedAt!);
    // The info-only sink took nothing: routing by severity.
    assert.ok(!daemon.store.notifications().some((n) => n.sink === 'info-only'));
    const all = logs.join('\n');
    for (const secret of [HMAC_SECRET, HOOK_TOKEN, SLACK_TOKEN]) assert.ok(!all.includes(secret), `no ${secret} in the logs`);
    assert.ok(all.includes('notification failed, will retry'));
  } finally {
    await daemon?.stop();
    await hook.close();
    await slack.close();
  }
});

function countDeliveries(db: string): Array<{ kind: string; delivered: number; attempts: number }> {
  return queryDatabase(db, 'SELECT kind, delivered_at IS NOT NULL AS delivered, attempts FROM outbox ORDER BY id');
}

test('a daemon killed while a notification is pending delivers it exactly once after restart', async () => {
  const db = path.join(tmp, 'outbox.db');
  // The alert fires at once; the receiver is down at first.
  const file = unreachableNodeConfig(
    'outbox',
    rulesDir('outbox', { 'not-sampled.yaml': notSampledRule }),
    'sampling: { schedule: "* * * * * *", timeout: 1s }\nalerting:\n  sinks:\n    - { name: hook, type: webhook, urlEnv: HOOK_URL }\n',
  );
  const env = { [PASSWORD_ENV]: 'x', HOOK_URL: 'http://127.0.0.1:24696/hook' };
  const first = spawnCli(['serve', '-c', file], env);
  await waitFor('a failed attempt', () => fs.existsSync(db) && countDeliveries(db).some((r) => r.attempts >= 1), 20_000);
  first.kill('SIGKILL');
  await exited(first);
  const pending = countDeliveries(db);
  assert.equal(pending.length, 1);
  assert.equal(pending[0]!.delivered, 0);

  const hook = await receiver(24696);
  const second = spawnCli(['serve', '-c', file], env);
  try {
    await waitFor('the delivery after restart', () => hook.got.length >= 1, 30_000);
    await sleep(3000); // anything more would arrive now
    assert.equal(hook.got.length, 1, 'delivered exactly once');
    assert.equal(hook.got[0]!.body.status, 'firing');
    assert.equal(countDeliveries(db).length, 1, 'the restart re-used the open alert: no second notification');
  } finally {
    second.kill('SIGTERM');
    await exited(second);
    await hook.close();
  }
});

test('SIGHUP reloads the rules, and keeps the old set when the new one is broken', async () => {
  const rules = rulesDir('reload', { 'not-sampled.yaml': notSampledRule });
  const file = unreachableNodeConfig('reload', rules);
  const daemon = spawnCli(['serve', '-c', file], { [PASSWORD_ENV]: 'x' });
  let stderr = '';
  daemon.stderr!.on('data', (d) => (stderr += d));
  try {
    const url = await waitFor('the listen address', () => /"url":"(http:[^"]+)"/.exec(stderr)?.[1]);
    const ruleNames = async () => ((await (await fetch(`${url}/api/v1/rules`)).json()) as { rules: Array<{ name: string }> }).rules.map((r) => r.name);
    assert.deepEqual(await ruleNames(), ['GcacheAdvisorNodeNotSampled']);

    fs.writeFileSync(path.join(rules, 'broken.yaml'), 'name: Broken\ncondition: missed_cycles >=\nseverity: warning\nsummary: x\n');
    daemon.kill('SIGHUP');
    await waitFor('the refusal', () => stderr.includes('rules not reloaded'));
    assert.match(stderr, /broken\.yaml:2: condition: expected a value but found the end of the expression/);
    assert.deepEqual(await ruleNames(), ['GcacheAdvisorNodeNotSampled'], 'the old set is kept');

    fs.writeFileSync(path.join(rules, 'broken.yaml'), 'name: Fixed\ncondition: missed_cycles >= 5\nseverity: warning\nsummary: x\n');
    daemon.kill('SIGHUP');
    await waitFor('the reload', () => stderr.includes('rules reloaded'));
    assert.deepEqual((await ruleNames()).sort(), ['Fixed', 'GcacheAdvisorNodeNotSampled']);
  } finally {
    daemon.kill('SIGTERM');
    await exited(daemon);
  }
});

test('serve refuses to start on a broken rule file, naming it and its line', async () => {
  const file = unreachableNodeConfig('broken-start', rulesDir('broken-start', { 'bad.yaml': 'name: Bad\ncondition: windw < 1\nseverity: warning\nsummary: x\n' }));
  const child = spawnCli(['serve', '-c', file], { [PASSWORD_ENV]: 'x' });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 2);
  assert.match(stderr.trim(), /bad\.yaml:2: condition: unknown name "windw" for a node rule/);
});
