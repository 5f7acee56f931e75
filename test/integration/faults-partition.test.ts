/**
 * A network partition inside the cluster. Each sandbox node runs in a network namespace of its
 * own (see faults/netns.ts); the daemon runs here, in the root namespace, and reaches all three
 * nodes' SQL ports throughout. Node 3 is cut off from nodes 1 and 2 while a steady load writes on
 * node 1: it drops into a non-Primary component of one, and the advisor must say so (not Primary,
 * not Synced, no IST budget, with the reason) without disturbing the other two nodes' figures or
 * inventing a purge or reset. Healed, node 3 rejoins by IST, and the advisor shows it Synced
 * again and records nothing that did not happen: no counter epoch (the server never restarted,
 * its counters and state uuid carried on), no purge, no reset.
 *
 * Needs root and iproute2 (ip netns, veth, bridge). Ports 26010-26033, subnet 10.231.11.0/24.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '../../tools/sandbox/galera-sandbox.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { createLogger } from '../../src/log/logger.ts';
import { parseConfig } from '../../src/config/load.ts';
import { ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';
import { startNamespacedCluster, namespacedConfigYaml, type NamespacedCluster } from './faults/namespaced-cluster.ts';
import { SHIPPED_RULES, SteadyWriter, eventsSince, get, metricValue, nodesOf, waitFor, type NodeView } from './faults/common.ts';

let cluster: NamespacedCluster;
let daemon: Daemon;
let writer: SteadyWriter | undefined;
const logLines: string[] = [];

before(async () => {
  cluster = await startNamespacedCluster({ prefix: 'gfpt', subnet: 11, basePort: 26000 });
  await SteadyWriter.prepare(cluster.sandbox);
  writer = new SteadyWriter(cluster.sandbox, 1, 20);
  const yaml = namespacedConfigYaml(cluster.sandbox, `sampling: { schedule: "* * * * * *", timeout: 2s }\nhorizons: { short: 1m, long: 1h }\nrules: { dir: ${SHIPPED_RULES} }\n`);
  daemon = await startDaemon(parseConfig(yaml, 'faults-partition.yaml', { [PASSWORD_ENV]: ADVISOR_PASSWORD }), createLogger({ level: 'debug', write: (l) => logLines.push(l) }));
});

after(async () => {
  await writer?.stop();
  await daemon?.stop();
  await cluster?.destroy();
});

const byName = (nodes: NodeView[], name: string): NodeView => nodes.find((n) => n.name === name)!;

async function windowOf(node: string): Promise<any> {
  const w = await get(daemon.url, `/api/v1/clusters/sandbox/nodes/${node}/window`);
  assert.equal(w.status, 200, w.text);
  return w.body;
}

test('a node cut off from the other two is reported not Primary, the others carry on, and it rejoins by IST with nothing false recorded', async () => {
  const { sandbox, lab } = cluster;
  // Baseline: everyone Synced in the Primary component, with rates and estimated windows.
  let nodes: NodeView[] = [];
  await waitFor(
    'three Synced nodes with estimated windows',
    async () => {
      nodes = await nodesOf(daemon.url, 'sandbox');
      if (!nodes.every((n) => n.reachable && n.localState === 'Synced' && n.clusterStatus === 'Primary')) return false;
      const windows = await Promise.all(['node1', 'node2', 'node3'].map(windowOf));
      return windows.every((w) => w.estimatedSeconds.short !== null && w.writeRateBytesPerSecond.short > 0);
    },
    60_000,
    () => nodes,
  );

  const cutAt = Date.now();
  const logOffset = sandbox.errorLogSize(3);
  lab.isolate(3);

  // Node 3 loses its peers: after Galera's suspect and inactive timeouts it is alone, non-Primary.
  await waitFor(
    'node 3 reported non-Primary',
    async () => byName((nodes = await nodesOf(daemon.url, 'sandbox')), 'node3').clusterStatus === 'non-Primary',
    60_000,
    () => nodes,
  );
  const partitionedAt = Date.now();
  // A few more cycles: what the advisor says is stable, not a passing state.
  await sleep(4000);
  nodes = await nodesOf(daemon.url, 'sandbox');
  const cut = byName(nodes, 'node3');
  assert.equal(cut.reachable, true, 'the advisor still reads node 3');
  assert.equal(cut.clusterStatus, 'non-Primary');
  assert.notEqual(cut.localState, 'Synced', `node 3 says ${cut.localState}`);
  assert.equal(cut.istBudgetSeconds, null, 'a node that is away already has no IST budget');
  assert.equal(cut.donor, null);
  const cutWindow = await windowOf('node3');
  assert.equal(cutWindow.istBudgetSeconds.current, null);
  assert.equal(cutWindow.istBudgetSeconds.pessimistic, null);
  assert.match(cutWindow.istBudgetReason ?? '', /not Synced/, `reason: ${cutWindow.istBudgetReason}`);

  // The other two are a Primary component of two, Synced, with their figures intact; neither
  // names the cut-off node as its donor.
  for (const name of ['node1', 'node2']) {
    const n = byName(nodes, name);
    assert.equal(n.reachable, true, name);
    assert.equal(n.localState, 'Synced', name);
    assert.equal(n.clusterStatus, 'Primary', name);
    const w = await windowOf(name);
    assert.ok(w.estimatedSeconds.short > 0, `${name} keeps its estimated window: ${JSON.stringify(w)}`);
    assert.ok(w.writeRateBytesPerSecond.short > 0, `${name} keeps its write rate`);
    assert.notEqual(w.donor, 'node3', `${name} cannot get IST from a non-Primary node`);
  }

  const metrics = await get(daemon.url, '/metrics');
  assert.equal(metricValue(metrics.text, 'galera_node_synced', { cluster: 'sandbox', node: 'node3' }), 0);
  assert.equal(metricValue(metrics.text, 'galera_node_synced', { cluster: 'sandbox', node: 'node1' }), 1);
  assert.equal(metricValue(metrics.text, 'galera_node_synced', { cluster: 'sandbox', node: 'node2' }), 1);
  assert.equal(metricValue(metrics.text, 'galera_ist_budget_seconds', { cluster: 'sandbox', node: 'node3', rate: 'current' }), null, 'an unknown budget is absent, not 0 or NaN');
  assert.equal(metricValue(metrics.text, 'gcache_advisor_up', { cluster: 'sandbox', node: 'node3' }), 1, 'node 3 is still sampled');

  // The shipped GaleraNodeNotSynced rule has picked it up (pending for its 1m, or firing), and only for node 3.
  const alerts = (await get(daemon.url, '/api/v1/alerts')).body.alerts as Array<{
    alertname: string;
    state: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  }>;
  const notSynced = alerts.filter((a) => a.alertname === 'GaleraNodeNotSynced');
  assert.deepEqual(
    notSynced.map((a) => a.labels.node),
    ['node3'],
    JSON.stringify(alerts),
  );

  // Keep writing while node 3 is away, so that it has something to catch up on.
  const committedBefore = Number((await sandbox.status(1, ['wsrep_last_committed'])).wsrep_last_committed);
  await sleep(Math.max(0, 10_000 - (Date.now() - partitionedAt)));
  const committedDuring = Number((await sandbox.status(1, ['wsrep_last_committed'])).wsrep_last_committed);
  assert.ok(committedDuring > committedBefore + 20, `the Primary component kept committing (${committedBefore} → ${committedDuring})`);

  // Heal: node 3 rejoins the Primary component, by IST.
  const healAt = Date.now();
  lab.healAll();
  await waitFor(
    'node 3 Synced and Primary again',
    async () => {
      const n = byName((nodes = await nodesOf(daemon.url, 'sandbox')), 'node3');
      return n.localState === 'Synced' && n.clusterStatus === 'Primary';
    },
    60_000,
    () => nodes,
  );
  const rejoinedAfterMs = Date.now() - healAt;
  assert.equal(sandbox.joinMethodSince(3, logOffset), 'IST', 'node 3 caught up by IST');

  // Within a few cycles its figures are back: an IST budget with a donor among the others.
  let rejoined: any;
  await waitFor(
    'node 3 with an IST budget again',
    async () => (rejoined = await windowOf('node3')).istBudgetSeconds.current !== null,
    30_000,
    () => rejoined,
  );
  assert.ok(['node1', 'node2'].includes(rejoined.donor), `donor ${rejoined.donor}`);

  // What the advisor recorded about all this: node 3's return, by IST as its error log says, and
  // nothing else, because nothing was reset or lost. The server never restarted (Uptime carried
  // on), its counters never went back, and its state uuid stayed the cluster's: a partition is
  // not a counter epoch, a purge or a reset.
  await sleep(3000);
  const events = await eventsSince(daemon.url, cutAt - 1000);
  assert.deepEqual(
    events.map((e) => [e.kind, e.node, (e.detail as { method?: string }).method]),
    [['rejoin', 'node3', 'ist']],
    `events recorded across the partition: ${JSON.stringify(events)}`,
  );
  const after = await get(daemon.url, '/metrics');
  for (const node of ['node1', 'node2', 'node3']) {
    for (const kind of ['page_store_purge', 'gcache_reset']) {
      const drops = metricValue(after.text, 'galera_gcache_history_drops_total', { cluster: 'sandbox', node, kind });
      assert.equal(drops, 0, `${node} ${kind}: the counter exists from the first scrape, and stays 0`);
    }
  }
  // No rate spike from the catch-up: node 3 receives the same stream as node 2.
  const rate3 = metricValue(after.text, 'galera_write_rate_bytes_per_second', { cluster: 'sandbox', node: 'node3', horizon: 'short' })!;
  const rate2 = metricValue(after.text, 'galera_write_rate_bytes_per_second', { cluster: 'sandbox', node: 'node2', horizon: 'short' })!;
  assert.ok(rate3 <= rate2 * 1.5 + 1000, `node 3's rate ${rate3} B/s against node 2's ${rate2} B/s`);
  assert.equal(
    (await get(daemon.url, '/api/v1/alerts')).body.alerts.filter((a: { alertname: string }) => a.alertname === 'GaleraNodeNotSynced').length,
    0,
    'the not-Synced alert is gone',
  );
  assert.ok(!logLines.some((l) => /"level":"error"/.test(l)), `no error logged: ${logLines.filter((l) => /"level":"error"/.test(l)).join('\n')}`);
  console.log(
    `# partition: node 3 non-Primary ${Math.round((partitionedAt - cutAt) / 1000)} s after the cut, Synced ${Math.round(rejoinedAfterMs / 1000)} s after the heal (IST); load errors ${writer?.errors}`,
  );
});
