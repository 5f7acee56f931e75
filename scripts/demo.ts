/**
 * `npm run demo`: for someone with no Galera cluster at hand. Starts a 3-node sandbox cluster
 * on loopback, a steady sysbench load on every node, and the gcache-advisor daemon against it,
 * then prints each cycle's samples until Ctrl-C (or --duration), and cleans everything up.
 *
 *   npm run demo [-- --duration 2m] [--gcache-size 16M] [--rate 30]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GaleraSandbox } from '../tools/sandbox/galera-sandbox.js';
import { prepareSysbench, SysbenchRun } from '../tools/sandbox/workload.js';
import { loadConfigFile } from '../src/config/load.js';
import { startDaemon } from '../src/daemon.js';
import { createLogger } from '../src/log/logger.js';
import { parseDuration } from '../src/units/parse.js';
import { formatBytes, formatDuration } from '../src/units/format.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    'gcache-size': { type: 'string', default: '16M' },
    rate: { type: 'string', default: '20' },
    'base-port': { type: 'string', default: '25300' },
    port: { type: 'string', default: '9106' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: npm run demo [-- --duration 2m] [--gcache-size 16M] [--rate 20] [--base-port 25300] [--port 9106]');
  process.exit(0);
}

const DEMO_USER = 'gcache_advisor';
const DEMO_PASSWORD = 'demo-only-password';
const root = path.resolve('.sandbox', 'demo');
fs.rmSync(root, { recursive: true, force: true });

const say = (msg: string) => console.log(`[demo] ${msg}`);
say(`starting a 3-node MariaDB Galera cluster in ${root} (gcache.size=${values['gcache-size']})...`);
const sandbox = await GaleraSandbox.create({ root, nodes: 3, basePort: Number(values['base-port']), gcacheSize: values['gcache-size'] });
const loads: SysbenchRun[] = [];
let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;

async function cleanUp(code: number): Promise<never> {
  await Promise.all(loads.map((l) => l.stop()));
  await daemon?.stop();
  say('stopping the cluster...');
  await sandbox.destroy();
  process.exit(code);
}
process.on('SIGINT', () => void cleanUp(0));
process.on('SIGTERM', () => void cleanUp(0));

try {
  const t0 = Date.now();
  await sandbox.start();
  say(`all 3 nodes Synced in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // The least-privilege account gcache-advisor needs: USAGE only.
  await sandbox.query(1, `CREATE USER '${DEMO_USER}'@'127.0.0.1' IDENTIFIED BY '${DEMO_PASSWORD}'`);
  await prepareSysbench(sandbox);
  for (const node of sandbox.nodes) loads.push(new SysbenchRun(sandbox, node.index, { rate: Number(values.rate), threads: 2 }));
  say(`sysbench oltp_write_only running on every node at ${values.rate} tx/s each`);

  const configFile = path.join(root, 'gcache-advisor.yaml');
  fs.writeFileSync(
    configFile,
    `clusters:
  - name: demo
    targetWindow: 10m
    connection: { user: ${DEMO_USER}, passwordEnv: DEMO_GALERA_PASSWORD }
    nodes:
${sandbox.nodes.map((n) => `      - { name: ${n.name}, host: 127.0.0.1, port: ${n.sqlPort} }`).join('\n')}
storage: { path: ${path.join(root, 'gcache-advisor.db')} }
http: { listen: 127.0.0.1:${values.port} }
log: { level: warn }
`,
  );
  process.env.DEMO_GALERA_PASSWORD = DEMO_PASSWORD;
  const config = loadConfigFile(configFile);
  daemon = await startDaemon(config, createLogger({ level: 'warn' }));
  say(`gcache-advisor is sampling every 10 s; config ${configFile}, database ${config.storage.path}`);
  say(`where to look, in another terminal:`);
  say(`  curl -s ${daemon.url}/api/v1/clusters/demo/nodes/node2/window     # window, IST budget, donor`);
  say(`  curl -s '${daemon.url}/api/v1/clusters/demo/recommendation?targetWindow=2h'`);
  say(`  curl -s ${daemon.url}/metrics | grep ^galera_                    # what Prometheus scrapes`);
  say(`  DEMO_GALERA_PASSWORD=${DEMO_PASSWORD} npx tsx src/cli/main.ts report -c ${configFile}`);
  say(`  DEMO_GALERA_PASSWORD=${DEMO_PASSWORD} npx tsx src/cli/main.ts sample -c ${configFile} --once`);
  say('the 16 MiB gcache wraps after a minute or two; from then on the window is measured. Ctrl-C stops everything.');

  daemon.sampler.onCycle((result) => {
    for (const o of result.outcomes) {
      if (o.ok) {
        const s = o.sample.status;
        const n = daemon!.analyzer.latest('demo')?.nodes.find((x) => x.node === o.node);
        const m = n?.measured;
        const window =
          m?.measuredSeconds != null
            ? `window=${formatDuration(m.measuredSeconds)}`
            : m?.lowerBound && m.ageSeconds !== null
              ? `window≥${formatDuration(m.ageSeconds)} (history starts after its oldest write-set)`
              : 'window=ring not wrapped yet';
        const ist = n?.istBudget.current?.seconds != null ? ` ist_budget=${formatDuration(n.istBudget.current.seconds)} via ${n.istBudget.current.donor}` : '';
        console.log(
          `${new Date(o.sample.takenAt).toISOString()} ${o.node}: ${s.localState.padEnd(7)} last_committed=${s.lastCommitted} cached_downto=${s.cachedDownto ?? 'empty'} ` +
            `fill=${formatBytes(s.receivedBytes + s.replicatedBytes)} ${window}${ist}`,
        );
      } else {
        console.log(`${new Date(o.takenAt).toISOString()} ${o.node}: NOT SAMPLED (${o.failure.reason}: ${o.failure.message})`);
      }
    }
  });
  if (values.duration) setTimeout(() => void cleanUp(0), parseDuration(values.duration) * 1000);
} catch (err) {
  console.error(`[demo] failed: ${(err as Error).message}`);
  await cleanUp(1);
}
