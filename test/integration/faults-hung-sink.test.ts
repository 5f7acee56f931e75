/**
 * A sink that accepts the TCP connection and never answers, beside a real Alertmanager (Debian's
 * prometheus-alertmanager) and a webhook receiver. The daemon (`serve`, a child) samples a real
 * one-node Galera sandbox and one simulated node (tools/fleet) that the test stops to fire the
 * shipped GcacheAdvisorNodeNotSampled rule, and starts again to resolve it.
 *
 * Expected: every attempt on the hung sink ends at its configured timeout; the next one waits
 * the backoff the daemon announced (1 s doubling, ±50% jitter); Alertmanager and the webhook get
 * the firing and the resolution within a cycle or two, as if the hung sink were not there; and
 * sampling keeps its one-second pace throughout, with no cycle skipped.
 *
 * Ports: 26410-26413 (sandbox), 26480 (simulated node), 26491 (the hung sink), 26493
 * (Alertmanager), 26494 (webhook receiver).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { sleep, type GaleraSandbox } from '../../tools/sandbox/galera-sandbox.ts';
import { startFleet, type Fleet } from '../../tools/fleet/fleet.ts';
import { startCluster, queryDatabase, ADVISOR_USER, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';
import { SHIPPED_RULES, get, waitFor, webhookReceiver } from './faults/common.ts';
import { DaemonChild } from './faults/daemon-child.ts';
import { startAlertmanager } from '../support/alertmanager.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-faults-sink-'));
const HUNG_PORT = 26491;
const AM_PORT = 26493;
const HOOK_PORT = 26494;
const SINK_TIMEOUT_MS = 2000;

/**
 * Accepts connections, reads what comes, answers nothing; records when each opened, when its
 * request began to arrive, and when it closed. (The HTTP client may open a connection ahead of
 * the request that uses it, so an attempt is timed from its first byte, not from the accept.)
 */
class HungReceiver {
  readonly connections: Array<{ openedAt: number; requestAt: number | null; closedAt: number | null; bytes: number }> = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((socket) => {
    const c = { openedAt: Date.now(), requestAt: null as number | null, closedAt: null as number | null, bytes: 0 };
    this.connections.push(c);
    this.sockets.add(socket);
    socket.on('data', (d) => {
      c.requestAt ??= Date.now();
      c.bytes += d.length;
    });
    socket.on('close', () => {
      c.closedAt = Date.now();
      this.sockets.delete(socket);
    });
    socket.on('error', () => {});
  });

  async listen(port: number): Promise<void> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

interface AmAlert {
  labels: Record<string, string>;
  status: { state: string };
}

async function alertmanagerAlerts(): Promise<AmAlert[]> {
  return (await (await fetch(`http://127.0.0.1:${AM_PORT}/api/v2/alerts?active=true`)).json()) as AmAlert[];
}

let sandbox: GaleraSandbox;
let fleet: Fleet;
let alertmanager: ChildProcess;
let hung: HungReceiver;
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
let daemon: DaemonChild | undefined;

before(async () => {
  alertmanager = await startAlertmanager(path.join(tmp, 'am'), AM_PORT);
  hung = new HungReceiver();
  await hung.listen(HUNG_PORT);
  hook = await webhookReceiver(HOOK_PORT);
  sandbox = await startCluster({ nodes: 1, basePort: 26400 });
  fleet = await startFleet({ clusters: 1, nodesPerCluster: 1, basePort: 26480, gcacheSize: 8 * 1024 * 1024, credentials: { user: ADVISOR_USER, password: ADVISOR_PASSWORD } });
});

after(async () => {
  await daemon?.stop('SIGKILL');
  alertmanager?.kill('SIGTERM');
  await hung?.close();
  await hook?.close();
  await fleet?.close();
  await sandbox?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function configYaml(db: string): string {
  const sim = fleet.nodes[0]!;
  return `clusters:
  - name: sandbox
    connection: { user: ${ADVISOR_USER}, passwordEnv: ${PASSWORD_ENV} }
    nodes: [{ name: node1, host: 127.0.0.1, port: ${sandbox.node(1).sqlPort} }]
  - name: ${sim.cluster}
    connection: { user: ${ADVISOR_USER}, passwordEnv: ${PASSWORD_ENV} }
    nodes: [{ name: ${sim.name}, host: ${sim.host}, port: ${sim.port} }]
storage: { path: ${db} }
http: { listen: "127.0.0.1:0" }
sampling: { schedule: "* * * * * *", timeout: 1s }
rules: { dir: ${SHIPPED_RULES} }
log: { level: debug }
alerting:
  sinks:
    - { name: hung, type: webhook, url: "http://127.0.0.1:${HUNG_PORT}/never", timeout: ${SINK_TIMEOUT_MS / 1000}s }
    - { name: am, type: alertmanager, url: "http://127.0.0.1:${AM_PORT}" }
    - { name: hook, type: webhook, url: "http://127.0.0.1:${HOOK_PORT}/hook" }
`;
}

/** Intervals between consecutive completed cycles, by the daemon's own clock, from `from` to `to`. */
function cycleIntervals(d: DaemonChild, from: number, to: number): number[] {
  const times = d.records
    .filter((r) => r.msg === 'cycle done')
    .map((r) => Date.parse(r.time))
    .filter((t) => t >= from && t <= to);
  return times.slice(1).map((t, i) => t - times[i]!);
}

test('a sink that never answers times out and backs off, while Alertmanager, the webhook and the sampling are not delayed', async () => {
  const db = path.join(tmp, 'advisor.db');
  const configFile = path.join(tmp, 'config.yaml');
  fs.writeFileSync(configFile, configYaml(db));
  daemon = DaemonChild.start(configFile, { [PASSWORD_ENV]: ADVISOR_PASSWORD });
  const url = await daemon.url();
  await waitFor('both nodes sampled', async () => (await get(url, '/readyz')).status === 200 && daemon!.cyclesSince(0) >= 3, 30_000);
  const calmFrom = Date.now();
  await sleep(5000);

  // The simulated node goes away: after 3 missed cycles the rule fires for it.
  const sim = fleet.nodes[0]!;
  await fleet.stopNode(0);
  const firing = await waitFor(
    'the alert firing in the daemon',
    async () =>
      ((await get(url, '/api/v1/alerts')).body.alerts as any[]).find((a) => a.alertname === 'GcacheAdvisorNodeNotSampled' && a.labels.node === sim.name && a.state === 'firing'),
    20_000,
  );
  const firedAt = Date.parse(firing.firedAt);
  const hangFrom = Date.now();

  // The other sinks have it at once: a cycle or two, not the hung sink's timeout and retries.
  const hooked = await waitFor('the webhook delivery', () => hook.got.find((r) => r.body?.status === 'firing' && r.body?.commonLabels?.node === sim.name), 10_000);
  const inAm = await waitFor(
    'the alert in Alertmanager',
    async () => ((await alertmanagerAlerts()).some((a) => a.labels.alertname === 'GcacheAdvisorNodeNotSampled' && a.labels.node === sim.name) ? Date.now() : null),
    10_000,
  );
  assert.ok(hooked.at - firedAt < 2500, `webhook got the firing ${hooked.at - firedAt} ms after it fired`);
  assert.ok(inAm - firedAt < 3500, `Alertmanager had it ${inAm - firedAt} ms after it fired`);

  // Let the hung sink time out and retry for a while: about 25 s is 4-5 attempts.
  await sleep(Math.max(0, 25_000 - (Date.now() - hangFrom)));

  // Its attempts: each request is abandoned, its connection dropped, at the sink's timeout.
  const attempts = hung.connections.filter((c) => c.requestAt !== null && c.requestAt >= firedAt - 1000 && c.closedAt !== null);
  assert.ok(attempts.length >= 3, `${attempts.length} attempts on the hung sink`);
  for (const c of attempts) {
    const held = c.closedAt! - c.requestAt!;
    assert.ok(held >= SINK_TIMEOUT_MS - 250 && held <= SINK_TIMEOUT_MS + 1000, `an attempt held the connection ${held} ms, against a ${SINK_TIMEOUT_MS} ms timeout`);
  }
  // And the retries follow the backoff the daemon logged for each: 1 s doubling, ±50%.
  const retries = daemon.records.filter((r) => r.msg === 'notification failed, will retry' && r.sink === 'hung');
  assert.ok(retries.length >= 3, `${retries.length} retries logged`);
  for (const r of retries) {
    const attempt = Number(r.attempts);
    const base = 1000 * 2 ** (attempt - 1);
    assert.ok(Number(r.retryInMs) >= base * 0.5 && Number(r.retryInMs) <= base * 1.5, `attempt ${attempt}: retry in ${r.retryInMs} ms`);
    assert.match(String(r.error), /tim(e|ed )out/i, String(r.error));
  }
  for (let i = 1; i < attempts.length && i < retries.length; i++) {
    // The next connection opens after the announced wait (plus the worker's poll of up to 1 s).
    const wait = attempts[i]!.requestAt! - attempts[i - 1]!.closedAt!;
    const announced = Number(retries[i - 1]!.retryInMs);
    assert.ok(wait >= announced - 150 && wait <= announced + 1500, `retry ${i}: waited ${wait} ms, announced ${announced} ms`);
  }
  const row = queryDatabase<{ attempts: number; last_error: string; delivered_at: number | null }>(
    db,
    "SELECT attempts, last_error, delivered_at FROM outbox WHERE sink = 'hung' ORDER BY id LIMIT 1",
  )[0]!;
  assert.equal(row.delivered_at, null);
  assert.ok(row.attempts >= attempts.length - 1, `outbox attempts ${row.attempts}`);

  // Resolution: the node is back; the other sinks hear of it at once, the hung one still hangs.
  await fleet.startNode(0);
  const resolvedAt = await waitFor(
    'the alert resolved in the daemon',
    async () => (((await get(url, '/api/v1/alerts')).body.alerts as any[]).some((a) => a.alertname === 'GcacheAdvisorNodeNotSampled') ? null : Date.now()),
    60_000,
  );
  const resolvedHook = await waitFor('the resolution at the webhook', () => hook.got.find((r) => r.body?.status === 'resolved' && r.body?.commonLabels?.node === sim.name), 10_000);
  assert.ok(resolvedHook.at - resolvedAt < 2500, `webhook got the resolution ${resolvedHook.at - resolvedAt} ms after it resolved`);
  await waitFor(
    'the resolution in Alertmanager',
    async () => !(await alertmanagerAlerts()).some((a) => a.labels.alertname === 'GcacheAdvisorNodeNotSampled' && a.labels.node === sim.name),
    10_000,
  );
  const hangTo = Date.now();

  // Sampling kept its pace: a cycle a second before and during the hang, none skipped.
  const calm = cycleIntervals(daemon, calmFrom, hangFrom);
  const during = cycleIntervals(daemon, hangFrom, hangTo);
  assert.ok(calm.length >= 4 && during.length >= 20, `${calm.length} and ${during.length} cycle intervals`);
  assert.ok(Math.max(...during) < 1600, `longest interval between cycles during the hang: ${Math.max(...during)} ms (before: ${Math.max(...calm)} ms)`);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  assert.ok(Math.abs(median(during) - median(calm)) < 100, `median cycle interval ${median(calm)} ms before, ${median(during)} ms during`);
  assert.equal(daemon.records.filter((r) => String(r.msg).startsWith('sampling cycle skipped')).length, 0, 'no cycle skipped');
  const slowCycles = daemon.records.filter((r) => r.msg === 'cycle done' && Date.parse(r.time) >= hangFrom && Number(r.durationMs) > 900);
  assert.deepEqual(
    slowCycles.map((r) => r.durationMs),
    [],
    'no cycle took near its interval',
  );
  console.log(
    `# hung sink: ${attempts.length} attempts held ${attempts.map((c) => c.closedAt! - c.requestAt!).join('/')} ms; retries announced ${retries.map((r) => r.retryInMs).join('/')} ms; ` +
      `webhook +${hooked.at - firedAt} ms, Alertmanager +${inAm - firedAt} ms after firing; cycle interval median ${median(calm)} → ${median(during)} ms, max ${Math.max(...during)} ms`,
  );
});
