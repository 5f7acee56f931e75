/**
 * Member discovery through the daemon, on a real cluster: a cluster configured with one seed is
 * sampled whole; a member started later appears in the API and the metrics within two cycles;
 * a member that leaves is reported down (and alerted on) while it is still in the membership's
 * grace period, then marked departed: no more series, its alert resolved, its history kept.
 * Ports 27200-27243 (sandbox).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GaleraSandbox } from '../../tools/sandbox/galera-sandbox.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { ADVISOR_USER, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';
import { waitFor } from '../support/wait.ts';

let sandbox: GaleraSandbox;
let daemon: Daemon;
const logLines: string[] = [];

before(async () => {
  sandbox = await GaleraSandbox.create({ nodes: 4, basePort: 27200, incomingAddresses: true, gcacheSize: '8M' });
  await sandbox.start(120_000, 3);
  await sandbox.query(1, `CREATE USER '${ADVISOR_USER}'@'127.0.0.1' IDENTIFIED BY '${ADVISOR_PASSWORD}'`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-disc-'));
  const config = parseConfig(
    `clusters:
  - name: disc
    connection: { user: ${ADVISOR_USER}, passwordEnv: ${PASSWORD_ENV} }
    discovery: { seeds: ["127.0.0.1:${sandbox.nodes[0]!.sqlPort}"], departAfter: 8s }
sampling: { schedule: "* * * * * *", timeout: 1s }
storage: { path: ${path.join(dir, 'advisor.db')} }
http: { listen: 127.0.0.1:0 }
`,
    'discovery-daemon.yaml',
    { [PASSWORD_ENV]: ADVISOR_PASSWORD },
  );
  daemon = await startDaemon(config, createLogger({ level: 'debug', write: (l) => logLines.push(l) }));
});

after(async () => {
  await daemon?.stop();
  await sandbox?.destroy();
});

async function get(p: string): Promise<any> {
  const res = await fetch(daemon.url + p);
  return p === '/metrics' ? res.text() : res.json();
}

const nodesOf = async () => (await get('/api/v1/clusters/disc/nodes')).nodes as Array<{ name: string; reachable: boolean; departed: boolean; discovered: boolean }>;

test('one seed is enough: every member is sampled, named by its wsrep_node_name', async () => {
  const nodes = await waitFor(
    'three members sampled',
    async () => {
      const n = await nodesOf();
      return n.length === 3 && n.every((x) => x.reachable) ? n : null;
    },
    15_000,
  );
  assert.deepEqual(nodes.map((n) => n.name).sort(), ['node1', 'node2', 'node3']);
  assert.ok(nodes.every((n) => n.discovered && !n.departed));
  const cluster = await get('/api/v1/clusters/disc');
  assert.deepEqual(cluster.membership, { mode: 'seeds', error: null });
  assert.match(await get('/metrics'), /gcache_advisor_up\{cluster="disc",node="node3"\} 1/);
});

test('a member started later appears in the API and the metrics within two cycles of joining', async () => {
  await sandbox.startNode(4);
  // startNode returns once the node is Synced: it is in the membership from here on.
  const cyclesDone = () => logLines.filter((l) => l.includes('"msg":"cycle done"')).length;
  const joinedAtCycle = cyclesDone();
  await waitFor('node4 sampled', async () => (await nodesOf()).some((n) => n.name === 'node4' && n.reachable), 10_000);
  const cycles = cyclesDone() - joinedAtCycle;
  // Counted in cycles, not seconds: the one in flight when the node joined, then at most two.
  assert.ok(cycles <= 3, `node4 appeared after ${cycles} cycles`);
  // /metrics is rendered at the end of a cycle, so it may show the node a moment after the API does.
  await waitFor('node4 in /metrics', async () => /galera_gcache_size_bytes\{cluster="disc",node="node4"\} 8388608/.test(await get('/metrics')), 5_000);
});

test('a member that leaves alerts while in its grace period, then is departed: series gone, alert resolved, history kept', async () => {
  await sandbox.stopNode(3);
  // Down but (for departAfter) still counted a member: reported unreachable, and the not-sampled rule fires.
  await waitFor(
    'node3 alert firing',
    async () => (await get('/api/v1/alerts')).alerts.some((a: any) => a.labels.node === 'node3' && a.alertname === 'GcacheAdvisorNodeNotSampled' && a.state === 'firing'),
    15_000,
  );
  const down = (await nodesOf()).find((n) => n.name === 'node3')!;
  assert.equal(down.reachable, false);
  assert.equal(down.departed, false);
  // After the grace period: departed.
  await waitFor('node3 departed', async () => (await nodesOf()).find((n) => n.name === 'node3')?.departed, 20_000);
  await waitFor('node3 alert resolved', async () => !(await get('/api/v1/alerts')).alerts.some((a: any) => a.labels.node === 'node3'), 5_000);
  const metrics = await waitFor(
    'node3 series gone',
    async () => {
      const m: string = await get('/metrics');
      return m.includes('node="node3"') ? null : m;
    },
    5_000,
  );
  assert.match(metrics, /gcache_advisor_up\{cluster="disc",node="node1"\} 1/);
  const cluster = (await get('/api/v1/clusters')).clusters.find((c: any) => c.name === 'disc');
  assert.deepEqual(cluster.departedNodes, ['node3']);
  assert.ok(daemon.store.sampleCount('disc', 'node3') > 0, 'its history is kept');
  const history = (await get('/api/v1/alerts/history')).alerts.find((a: any) => a.labels.node === 'node3');
  assert.equal(history.state, 'resolved');
});
