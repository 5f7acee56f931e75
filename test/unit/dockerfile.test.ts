/** No Docker engine runs here, so the Dockerfile's references are checked instead of built. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { imageEnv as readImageEnv } from '../../tools/fleet/image-env.ts';

const root = path.join(import.meta.dirname, '..', '..');
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').filter((l) => !l.trim().startsWith('#'));

test('every file the Dockerfile copies from the context exists', () => {
  const copies = lines.filter((l) => /^COPY /.test(l) && !/--from=/.test(l));
  assert.ok(copies.length >= 3);
  for (const line of copies) {
    const parts = line
      .replace(/^COPY\s+/, '')
      .split(/\s+/)
      .filter((p) => !p.startsWith('--'));
    for (const source of parts.slice(0, -1)) assert.ok(fs.existsSync(path.join(root, source)), `COPY ${source} exists`);
  }
});

test('the entry point is what the build produces', () => {
  const entry = /ENTRYPOINT \[(.*)\]/
    .exec(dockerfile)![1]!
    .split(',')
    .map((s) => JSON.parse(s.trim()) as string);
  assert.equal(entry[0], 'node');
  // The image's build step: tsc, then the bundle the image runs.
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'pipe', cwd: root });
  assert.ok(fs.existsSync(path.join(root, entry[1]!)), `${entry[1]} is built`);
  assert.equal(
    entry[1],
    (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['gcache-advisor'],
    'the image runs the binary of package.json',
  );
  const help = execFileSync(process.execPath, [path.join(root, entry[1]!), 'serve', '--help'], { encoding: 'utf8' });
  assert.match(help, /Usage: gcache-advisor serve/);
});

test('multi-stage on one Node 22 base, non-root, a volume, a health check, no dev dependencies', () => {
  const froms = lines.filter((l) => l.startsWith('FROM ')).map((l) => l.split(/\s+/)[1]);
  assert.equal(froms.length, 2);
  assert.equal(froms[0], froms[1], 'builder and runtime share a base, so better-sqlite3 is built for the runtime');
  assert.match(froms[0]!, /^node:22/);
  assert.match(dockerfile, /^USER (?!root)\w+/m);
  assert.match(dockerfile, /^VOLUME \["\/var\/lib\/gcache-advisor"\]/m);
  assert.match(dockerfile, /^HEALTHCHECK .*\n?.*\/healthz/m);
  assert.match(dockerfile, /npm prune --omit=dev/);
  assert.match(dockerfile, /GCACHE_ADVISOR_STORAGE__PATH=\/var\/lib\/gcache-advisor\//);
});

/** The runtime stage's ENV, as the container's environment. */
const imageEnv = (): Record<string, string> => readImageEnv(dockerfile);

test('the image serves the API on every interface, so it needs a token to start', () => {
  const env = imageEnv();
  assert.equal(env.GCACHE_ADVISOR_HTTP__LISTEN, '0.0.0.0:9106');
  assert.ok(!Object.keys(env).some((k) => /ALLOW_?UNAUTHENTICATED/i.test(k)), 'the image never opts out of authentication');
  const config = 'clusters: [{ name: c, nodes: [{ name: n, host: db, user: u, passwordEnv: DB_PW }] }]';
  const containerEnv = { ...env, DB_PW: 'db-password-for-test' };
  assert.throws(
    () => parseConfig(config, env.GCACHE_ADVISOR_CONFIG!, containerEnv),
    (err: Error) =>
      err instanceof ConfigError &&
      err.exitCode === 2 &&
      /http\.listen: 0\.0\.0\.0:9106 is reachable from other machines and no API token is configured: set http\.tokenEnv or http\.tokenFile \(GCACHE_ADVISOR_HTTP__TOKEN_FILE in a container\)/.test(
        err.message,
      ),
  );
  // What the Dockerfile's comment says to do: point at a mounted token file.
  const tokenFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-docker-')), 'api-token');
  fs.writeFileSync(tokenFile, 'container-api-token\n');
  const c = parseConfig(config, env.GCACHE_ADVISOR_CONFIG!, { ...containerEnv, GCACHE_ADVISOR_HTTP__TOKEN_FILE: tokenFile });
  assert.equal(c.http.host, '0.0.0.0');
  assert.equal(c.http.token?.reveal(), 'container-api-token');
  assert.match(dockerfile, /GCACHE_ADVISOR_HTTP__TOKEN_FILE/, 'the Dockerfile says how');
});

test('the runtime tuning the image ships is accepted by Node.js from NODE_OPTIONS', () => {
  const env = imageEnv();
  assert.ok(env.NODE_OPTIONS, 'the image sets NODE_OPTIONS');
  assert.match(env.MALLOC_ARENA_MAX ?? '', /^[1-9]\d*$/, 'MALLOC_ARENA_MAX is a whole number');
  // Node refuses a V8 flag that NODE_OPTIONS may not carry (e.g. --heap-growing-percent) and exits 9.
  const out = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(require("v8").getHeapStatistics().total_available_size > 0))'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: env.NODE_OPTIONS, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX },
  });
  assert.equal(out, 'true');
});
