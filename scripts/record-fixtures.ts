/**
 * Records the unit tests' fixtures from a real sandbox cluster: SHOW GLOBAL STATUS rows and
 * @@wsrep_provider_options as the server prints them, before and after a real restart of a node.
 *
 *   npx tsx scripts/record-fixtures.ts [--dir DIR]   (uses a running sandbox at DIR, or starts one)
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GaleraSandbox, sleep } from '../tools/sandbox/galera-sandbox.js';
import { STATUS_VARIABLES } from '../src/sampler/status.js';
import { writeBytes } from '../tools/sandbox/workload.js';

const { values } = parseArgs({ options: { dir: { type: 'string' } } });
const owned = !values.dir;
const sandbox = values.dir ? GaleraSandbox.load(values.dir) : await GaleraSandbox.create({ gcacheSize: '8M' });
if (owned) await sandbox.start();

const statusSql = `SHOW GLOBAL STATUS WHERE Variable_name IN (${STATUS_VARIABLES.map((v) => `'${v}'`).join(', ')})`;
const snapshot = async (node: number) => ({ takenAt: Date.now(), rows: await sandbox.query(node, statusSql) });

try {
  const before = await snapshot(2);
  await writeBytes(sandbox, 1, 64 * 1024, 2048);
  await sleep(1500);
  const afterWrites = await snapshot(2);
  await sandbox.stopNode(2);
  await writeBytes(sandbox, 1, 32 * 1024, 2048);
  await sandbox.startNode(2);
  const afterRestart = await snapshot(2);
  const [{ o: providerOptions }] = (await sandbox.query<{ o: string }>(1, 'SELECT @@wsrep_provider_options AS o')) as [{ o: string }];
  const out = {
    recordedWith: 'scripts/record-fixtures.ts on a MariaDB + galera-4 sandbox',
    server: (await sandbox.query<{ v: string }>(1, 'SELECT VERSION() AS v'))[0]!.v,
    providerOptions,
    node2: { before, afterWrites, afterRestart },
  };
  const file = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'real-cluster.json');
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${file}`);
} finally {
  if (owned) await sandbox.destroy();
}
