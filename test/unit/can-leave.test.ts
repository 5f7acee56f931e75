/**
 * `gcache-advisor can-leave` as a script meets it: the CLI run as a child process against the
 * real HTTP app listening on 127.0.0.1 (its daemon parts filled from the recorded run, see
 * test/support/recorded-daemon.ts). Exit 0 when the maintenance check says safe, 1 when risky,
 * 2 whenever there is no answer (bad arguments, the daemon unreachable, a 4xx), with a message
 * that names what was wrong and never the token.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/http/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { DEFAULT_DAEMON_URL, listenUrl } from '../../src/cli/can-leave.ts';
import { recordedConfig, recordedDaemon, type RecordedDaemon } from '../support/recorded-daemon.ts';
import { tracked } from '../support/children.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
const TOKEN = 'can-leave-token-3141';

let daemon: RecordedDaemon;
let guarded: FastifyInstance;
let url: string;
let guardedUrl: string;

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

before(async () => {
  daemon = await recordedDaemon();
  url = await listen(daemon.app);
  guarded = await buildServer({ ...daemon.deps, config: recordedConfig(daemon.dir, TOKEN) });
  guardedUrl = await listen(guarded);
});

after(async () => {
  await guarded?.close();
  await daemon?.close();
});

/** The environment of the children: this one's, without any gcache-advisor setting. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GCACHE_ADVISOR_')));
  return { ...env, ...extra };
}

function canLeave(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = tracked(spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'can-leave', ...args], { cwd: ROOT, env: childEnv(env) }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('safe: exit 0, with the budget, the donor, the share that fitted and the gcache.size for the p99', async () => {
  const r = await canLeave(['accuracy/node1', '10s', '--url', url]);
  assert.equal(r.code, 0, r.stderr);
  const donor = daemon.deps.analyzer.latest('accuracy')!.nodes.find((n) => n.node === 'node1')!.istBudget.current!.donor!;
  assert.match(r.stdout, /^accuracy\/node1, down for 10 s: SAFE, it can rejoin by IST$/m);
  assert.match(r.stdout, new RegExp(`^  IST budget +[\\d.]+ MiB \\(donor ${donor}\\)$`, 'm'));
  assert.match(r.stdout, /^ {2}fitted +100% of \d+ comparable past start points \(p99 of the writes [\d.]+ MiB\)$/m);
  assert.match(r.stdout, /^ {2}gcache\.size +[\d.]+ MiB would hold the p99$/m);
  assert.equal(r.stderr, '');
});

test('risky: exit 1, saying why; --json gives the daemon answer as it is', async () => {
  const risky = await canLeave(['accuracy/node1', '2m', '--url', url]);
  assert.equal(risky.code, 1, risky.stderr);
  assert.match(risky.stdout, /^accuracy\/node1, down for 2 min: RISKY, it may need an SST$/m);
  assert.match(risky.stdout, /^ {2}fitted +[\d.]+% of \d+ comparable past start points \(p99 of the writes [\d.]+ MiB; 99% needed\)$/m);
  assert.doesNotMatch(risky.stdout, /why/, 'the figures say why');

  const json = await canLeave(['accuracy/node1', '10m', '--url', `${url}/`, '--json']);
  assert.equal(json.code, 1, json.stderr);
  const res = await daemon.app.inject({ method: 'GET', url: '/api/v1/clusters/accuracy/nodes/node1/maintenance?duration=10m' });
  assert.deepEqual(JSON.parse(json.stdout), res.json());
  assert.equal(JSON.parse(json.stdout).fitShare, null, 'not enough history for ten minutes');
  const short = await canLeave(['accuracy/node1', '10m', '--url', url]);
  assert.equal(short.code, 1);
  assert.match(short.stdout, /^ {2}why +not enough write history to show that 10 min of writes fit in the [\d.]+ MiB IST budget/m);
});

test('no answer is exit 2, with a message that names what was wrong', async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const cases: Array<[string[], RegExp]> = [
    [['accuracy/node9', '10s', '--url', url], /^gcache-advisor can-leave: the daemon answered 404: unknown node "node9" in cluster "accuracy"$/],
    [['accuracy/node1', '31d', '--url', url], /^gcache-advisor can-leave: the daemon answered 400: duration: expected a duration of at most 30d, got "31d"$/],
    [['accuracy/node1', 'soon', '--url', url], /^gcache-advisor can-leave: DURATION: expected a duration such as 90s, 15m, 2h, 7d or 1h30m, got "soon"$/],
    [['accuracy', '10s', '--url', url], /^gcache-advisor can-leave: CLUSTER\/NODE: expected a cluster and a node name such as prod\/db1, got "accuracy"$/],
    [['accuracy/node1'], /^gcache-advisor can-leave: expected CLUSTER\/NODE and DURATION, got 1 argument$/m],
    [['accuracy/node1', '10s', '--port', '1'], /^gcache-advisor can-leave: Unknown option '--port'/m],
    [['accuracy/node1', '10s', '--url', 'localhost:9106'], /^gcache-advisor can-leave: --url: expected an http:\/\/ or https:\/\/ address, got localhost:$/],
    [
      ['accuracy/node1', '10s', '--url', `http://127.0.0.1:${closedPort}`],
      new RegExp(`^gcache-advisor can-leave: cannot reach the daemon at http://127\\.0\\.0\\.1:${closedPort}/api/v1/clusters/accuracy/nodes/node1/maintenance: ECONNREFUSED$`),
    ],
  ];
  for (const [args, message] of cases) {
    const r = await canLeave(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr.trimEnd(), message, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
});

test('an answer that is not the daemon is exit 2', async () => {
  const other = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  try {
    const r = await canLeave(['accuracy/node1', '10s', '--url', `http://127.0.0.1:${(other.address() as AddressInfo).port}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /answered 200 with something other than JSON: is it gcache-advisor\?$/m);
  } finally {
    await new Promise((resolve) => other.close(resolve));
  }
});

test('the token: from --token-env or the config, refused without it, never printed', async () => {
  const outputs: string[] = [];
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const r = await canLeave(args, env);
    outputs.push(r.stdout + r.stderr);
    return r;
  };
  const missing = await run(['accuracy/node1', '10s', '--url', guardedUrl]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /the daemon answered 401: a valid bearer token is required \(give the token with --token-env NAME\)$/m);
  const wrong = await run(['accuracy/node1', '10s', '--url', guardedUrl, '--token-env', 'GA_TOKEN'], { GA_TOKEN: `${TOKEN}-old` });
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /answered 401: .*\(the token was refused\)$/m);
  const unset = await run(['accuracy/node1', '10s', '--url', guardedUrl, '--token-env', 'GA_TOKEN']);
  assert.equal(unset.code, 2);
  assert.match(unset.stderr, /^gcache-advisor can-leave: --token-env: the environment variable GA_TOKEN is not set or empty$/m);
  const right = await run(['accuracy/node1', '10s', '--url', guardedUrl, '--token-env', 'GA_TOKEN'], { GA_TOKEN: TOKEN });
  assert.equal(right.code, 0, right.stderr);

  // --config: the address and the token from the daemon's own config file.
  const file = path.join(daemon.dir, 'daemon.yaml');
  fs.writeFileSync(
    file,
    `clusters:\n  - name: accuracy\n    connection: { user: u, passwordEnv: PW }\n    nodes: [{ name: node1, host: 127.0.0.1 }]\nhttp: { listen: '${guardedUrl.slice('http://'.length)}', tokenEnv: DAEMON_TOKEN }\n`,
  );
  const fromConfig = await run(['accuracy/node1', '2m', '-c', file], { PW: 'pw', DAEMON_TOKEN: TOKEN });
  assert.equal(fromConfig.code, 1, fromConfig.stderr);
  assert.match(fromConfig.stdout, /RISKY/);
  // The nodes' passwords are the daemon's business: asking needs only the address and the token.
  const withoutPasswords = await run(['accuracy/node1', '2m', '-c', file], { DAEMON_TOKEN: TOKEN });
  assert.equal(withoutPasswords.code, 1, withoutPasswords.stderr);
  assert.match(withoutPasswords.stdout, /RISKY/);
  const noToken = await run(['accuracy/node1', '2m', '-c', file], { PW: 'pw' });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /^config error: .*http\.tokenEnv/m);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('nodes: [', 'nodez: ['));
  const badConfig = await run(['accuracy/node1', '2m', '-c', file], { DAEMON_TOKEN: TOKEN });
  assert.equal(badConfig.code, 2);
  assert.match(badConfig.stderr, /^config error: .*nodez: unknown key/m);

  for (const o of outputs) assert.ok(!o.includes(TOKEN), `the token printed: ${o}`);
});

test('--help, the default address, and a wildcard listen address reached on loopback', async () => {
  const help = await canLeave(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: gcache-advisor can-leave CLUSTER\/NODE DURATION/);
  assert.match(help.stdout, /Exit status: 0 safe, 1 risky/);
  const defaults = parseConfig('clusters:\n  - name: c\n    nodes: [{ name: n, host: h, user: u, passwordEnv: PW }]\n', 'defaults.yaml', { PW: 'x' });
  assert.equal(listenUrl(defaults.http.host, defaults.http.port), DEFAULT_DAEMON_URL, "http.listen's default");
  assert.equal(listenUrl('0.0.0.0', 9106), 'http://127.0.0.1:9106');
  assert.equal(listenUrl('::', 9106), 'http://[::1]:9106');
  assert.equal(listenUrl('fd00::5', 80), 'http://[fd00::5]:80');
});
