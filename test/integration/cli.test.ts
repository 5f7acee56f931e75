/**
 * The CLI as a user meets it: help on every command, bad configs rejected with one line and
 * exit code 2 before anything starts, and a daemon killed with -9 that loses nothing committed
 * and carries on after a restart.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GaleraSandbox, sleep } from '../../tools/sandbox/galera-sandbox.ts';
import { startCluster, writeConfigFile, runCli, spawnCli, queryDatabase, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';
import { exited } from '../support/children.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-cli-'));
const env = { [PASSWORD_ENV]: ADVISOR_PASSWORD };

function configFile(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

const goodNodes = `clusters:
  - name: c1
    connection: { user: u, passwordEnv: ${PASSWORD_ENV} }
    nodes: [{ name: n1, host: 127.0.0.1, port: 1 }]
`;

test('--help works on every command', async () => {
  const main = await runCli(['--help']);
  assert.equal(main.code, 0);
  assert.match(main.stdout, /Commands:[\s\S]*serve[\s\S]*sample/);
  for (const command of ['serve', 'sample', 'report']) {
    const r = await runCli([command, '--help']);
    assert.equal(r.code, 0, command);
    assert.match(r.stdout, new RegExp(`Usage: gcache-advisor ${command}`));
  }
  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test('bad configs are rejected with one clear line and exit code 2', async () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'bad-duration.yaml',
      goodNodes + 'horizons: { short: five minutes }\n',
      /^config error: .*bad-duration\.yaml: horizons\.short: expected a duration such as 90s, 15m, 2h, 7d or 1h30m, got "five minutes"$/,
    ],
    ['bad-cron.yaml', goodNodes + 'sampling: { schedule: "*/10 * *" }\n', /^config error: .*: sampling\.schedule: expected a cron expression/],
    ['typo.yaml', goodNodes + 'storage: { pth: /tmp/x.db }\n', /^config error: .*: storage\.pth: unknown key$/],
    ['no-nodes.yaml', 'clusters: [{ name: c1, nodes: [] }]\n', /^config error: .*: clusters\[0\]\.nodes: expected at least one node$/],
    ['bad-yaml.yaml', 'clusters: [\n', /^config error: .*bad-yaml\.yaml:\d+:\d+: invalid YAML/],
    [
      'inline-password.yaml',
      goodNodes.replace('passwordEnv: GA_TEST_PASSWORD', `password: ${ADVISOR_PASSWORD}`),
      /clusters\[0\]\.connection\.password: unknown key \(put the password/,
    ],
  ];
  for (const [name, text, expected] of cases) {
    const dbPath = path.join(tmp, `${name}.db`);
    const r = await runCli(['serve', '-c', configFile(name, text + `\n`)], env);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr.trim(), expected, name);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
    assert.doesNotMatch(r.stderr + r.stdout, new RegExp(ADVISOR_PASSWORD), `${name}: no password in output`);
    assert.equal(fs.existsSync(dbPath), false, 'nothing started');
  }
  const missingEnv = await runCli(['sample', '--once', '-c', configFile('env.yaml', goodNodes)], {});
  assert.equal(missingEnv.code, 2);
  assert.match(missingEnv.stderr, /clusters\[0\]\.nodes\[0\]\.passwordEnv: environment variable GA_TEST_PASSWORD is not set/);
  const missingFile = await runCli(['serve', '-c', path.join(tmp, 'nope.yaml')]);
  assert.equal(missingFile.code, 2);
  assert.match(missingFile.stderr, /cannot read .*nope\.yaml: ENOENT/);
});

test('sample --once reports an unreachable node with its reason and exits 1', async () => {
  const r = await runCli(['sample', '--once', '-c', configFile('down.yaml', goodNodes)], env);
  assert.equal(r.code, 1);
  const line = JSON.parse(r.stdout.trim());
  assert.equal(line.ok, false);
  assert.equal(line.reason, 'unreachable');
});

test('wrong password: auth failure reported, password never printed', async () => {
  let sandbox: GaleraSandbox | undefined;
  try {
    sandbox = await startCluster({ nodes: 1, basePort: 24200 });
    const r = await runCli(['sample', '--once', '-c', writeConfigFile(sandbox)], { [PASSWORD_ENV]: 'Wrong-password-123' });
    assert.equal(r.code, 1);
    const line = JSON.parse(r.stdout.trim());
    assert.equal(line.reason, 'auth');
    assert.doesNotMatch(r.stdout + r.stderr, /Wrong-password-123/);
  } finally {
    await sandbox?.destroy();
  }
});

let cluster: GaleraSandbox;
before(async () => {
  cluster = await startCluster({ nodes: 3, basePort: 24300 });
});
after(async () => {
  await cluster?.destroy();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function countSamples(db: string): Array<{ node: string; n: number; epoch: number }> {
  return queryDatabase(db, 'SELECT node, COUNT(*) AS n, MAX(epoch) AS epoch FROM samples GROUP BY node ORDER BY node');
}

test('kill -9 of the daemon loses nothing committed, and a restart carries on', async () => {
  const db = path.join(tmp, 'durable.db');
  const file = writeConfigFile(cluster, 'sampling: { schedule: "* * * * * *", timeout: 2s }', db);
  const first = spawnCli(['serve', '-c', file], env);
  let stderr = '';
  first.stderr!.on('data', (d) => (stderr += d));
  await sleep(5000);
  // What the daemon logged as done is what must survive.
  first.kill('SIGKILL');
  await exited(first);
  const afterKill = countSamples(db);
  assert.equal(afterKill.length, 3, stderr);
  assert.ok(
    afterKill.every((r) => r.n >= 3),
    JSON.stringify(afterKill),
  );

  const second = spawnCli(['serve', '-c', file], env);
  // Until every node has three more samples (a loaded machine starts the daemon slower), at most 30 s.
  for (let waited = 0; waited < 30_000; waited += 500) {
    await sleep(500);
    const rows = countSamples(db);
    if (rows.length === 3 && rows.every((r, i) => r.n > afterKill[i]!.n + 2)) break;
  }
  second.kill('SIGTERM');
  const code = await new Promise((r) => second.once('exit', r));
  assert.equal(code, 0, 'SIGTERM is a clean shutdown');
  const afterRestart = countSamples(db);
  for (const [i, row] of afterRestart.entries()) {
    assert.ok(row.n > afterKill[i]!.n + 2, `${row.node} carries on sampling`);
    assert.equal(row.epoch, afterKill[i]!.epoch, `${row.node}: the daemon restart is not a server restart, so the epoch goes on`);
  }
  // The rollups continue the same epoch across the daemon restart.
  const [rollupSamples] = queryDatabase<{ n: number }>(db, 'SELECT SUM(samples) AS n FROM rollups_1m WHERE node = ?', 'node1');
  assert.equal(rollupSamples!.n, afterRestart[0]!.n - 1, 'every sample after the first added one delta');

  // The report reads what the daemon stored.
  const report = await runCli(['report', '-c', file], env);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /Cluster sandbox: target window 60 min/);
  for (const node of ['node1', 'node2', 'node3']) assert.match(report.stdout, new RegExp(`^${node}\\s+Synced\\s+8\\.00 MiB`, 'm'));
  assert.match(report.stdout, /IST budget/);
  assert.match(report.stdout, /Recommended gcache\.size/);
  const json = await runCli(['report', '-c', file, '--json'], env);
  assert.equal(JSON.parse(json.stdout)[0].cluster, 'sandbox');
});

test('report without any stored analysis says so and exits 1', async () => {
  const r = await runCli(['report', '-c', configFile('empty.yaml', goodNodes + `storage: { path: ${path.join(tmp, 'empty.db')} }\n`)], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no analysis in .*empty\.db yet/);
});
