import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, ConfigError, applyEnvOverrides } from '../../src/config/load.ts';

const base = `
clusters:
  - name: prod
    connection: { user: advisor, passwordEnv: GA_PW }
    nodes:
      - { name: db1, host: 10.0.0.1 }
      - { name: db2, host: 10.0.0.2, port: 3307 }
      - { name: db3, socket: /run/mysqld/mysqld.sock }
`;
const env = { GA_PW: 'hunter2-secret' };

const rejects = (yaml: string, pattern: RegExp, e: NodeJS.ProcessEnv = env) =>
  assert.throws(
    () => parseConfig(yaml, 'test.yaml', e),
    (err: Error) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
      assert.equal((err as ConfigError).exitCode, 2);
      assert.match(err.message, pattern);
      assert.doesNotMatch(err.message, /hunter2/);
      assert.equal(err.message.split('\n').length, 1, 'one line');
      return true;
    },
  );

test('defaults fill every setting the issue names', () => {
  const c = parseConfig(base, 'test.yaml', env);
  assert.equal(c.sampling.schedule, '*/10 * * * * *');
  assert.equal(c.sampling.timeoutSeconds, 5);
  assert.equal(c.sampling.concurrency, 64);
  assert.equal(c.horizons.shortSeconds, 300);
  assert.equal(c.horizons.longSeconds, 86400);
  assert.equal(c.clusters[0]!.targetWindowSeconds, 3600);
  assert.equal(c.storage.path, path.resolve('./data/gcache-advisor.db'));
  assert.equal(c.storage.cacheSize, 2 * 1024 * 1024);
  assert.deepEqual(c.http, { host: '127.0.0.1', port: 9106, token: null });
  const [db1, db2, db3] = c.clusters[0]!.nodes;
  assert.equal(db1!.port, 3306);
  assert.equal(db2!.port, 3307);
  assert.equal(db3!.socket, '/run/mysqld/mysqld.sock');
  assert.equal(db1!.user, 'advisor');
  assert.equal(db1!.password.reveal(), 'hunter2-secret');
});

test('passwords never show in JSON or string form', async () => {
  const c = parseConfig(base, 'test.yaml', env);
  const node = c.clusters[0]!.nodes[0]!;
  assert.doesNotMatch(JSON.stringify(c), /hunter2/);
  assert.doesNotMatch(`${node.password}`, /hunter2/);
  assert.doesNotMatch((await import('node:util')).inspect(c, { depth: 10 }), /hunter2/);
});

test('password from a file, relative to the config file, trailing newline dropped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-config-'));
  fs.writeFileSync(path.join(dir, 'pw'), 'from-a-file\n');
  const yaml = `clusters: [{ name: c, nodes: [{ name: n, host: h, user: u, passwordFile: pw }] }]`;
  const c = parseConfig(yaml, path.join(dir, 'config.yaml'), {});
  assert.equal(c.clusters[0]!.nodes[0]!.password.reveal(), 'from-a-file');
  rejects(
    `clusters: [{ name: c, nodes: [{ name: n, host: h, user: u, passwordFile: /nonexistent/pw }] }]`,
    /clusters\[0\]\.nodes\[0\]\.passwordFile: cannot read \/nonexistent\/pw: ENOENT/,
  );
});

test('bad values name the key and what was expected', () => {
  rejects(base + 'sampling: { schedule: "every ten seconds" }', /sampling\.schedule: expected a cron expression/);
  rejects(base + 'horizons: { short: 5 }', /horizons\.short: expected a duration such as 90s/);
  rejects(base + 'horizons: { long: 24x }', /horizons\.long: expected a duration such as 90s, 15m, 2h, 7d or 1h30m, got "24x"/);
  rejects(base + 'http: { listen: "9106" }', /http\.listen: expected host:port/);
  rejects(base.replace('port: 3307', 'port: 70000'), /clusters\[0\]\.nodes\[1\]\.port: expected a port between 1 and 65535/);
  rejects(base.replace('port: 3307', 'port: "abc"'), /clusters\[0\]\.nodes\[1\]\.port: expected a port number/);
  rejects(base + 'storage: { retention: { raw: 0s } }', /storage\.retention\.raw: expected a duration greater than zero/);
  rejects(base + 'storage: { cacheSize: lots }', /storage\.cacheSize: expected a size such as .*128M.*, got "lots"/);
  rejects(base + 'storage: { cacheSize: 4K }', /storage\.cacheSize: expected a page cache of at least 64K/);
  rejects(base + 'storage: { cacheSize: 1T }', /storage\.cacheSize: expected a page cache of at most 16G/);
  rejects('clusters: []', /clusters: expected at least one cluster/);
  rejects('{}', /clusters: expected a list of clusters/);
});

test('structure errors: unknown keys, duplicates, missing host or password', () => {
  rejects(base + 'samplign: {}', /samplign: unknown key/);
  rejects(
    base.replace('name: db1, host: 10.0.0.1', 'name: db1, host: 10.0.0.1, password: hunter2-secret'),
    /clusters\[0\]\.nodes\[0\]\.password: unknown key \(put the password in an environment variable or file/,
  );
  rejects(base.replace('name: db2', 'name: db1'), /clusters\[0\]\.nodes\[1\]\.name: duplicate node name "db1"/);
  rejects(base.replace('host: 10.0.0.2, port: 3307', 'port: 3307'), /clusters\[0\]\.nodes\[1\]: expected host \(with optional port\) or socket/);
  rejects(base.replace('passwordEnv: GA_PW', 'passwordEnv: NOT_SET_ANYWHERE'), /clusters\[0\]\.nodes\[0\]\.passwordEnv: environment variable NOT_SET_ANYWHERE is not set/);
  rejects(base.replace(', passwordEnv: GA_PW', ''), /clusters\[0\]\.nodes\[0\]\.passwordEnv: expected passwordEnv or passwordFile/);
  rejects('clusters:\n  - name: a\n  name: b\n', /test\.yaml:\d+:\d+: invalid YAML/);
  rejects('clusters: [ { name: x', /test\.yaml:\d+:\d+: invalid YAML/);
});

test('environment variables override keys, typed as YAML', () => {
  const c = parseConfig(base, 'test.yaml', {
    ...env,
    GCACHE_ADVISOR_STORAGE__PATH: '/var/lib/ga.db',
    GCACHE_ADVISOR_HTTP__LISTEN: '0.0.0.0:9200',
    GCACHE_ADVISOR_HTTP__TOKEN_ENV: 'GA_TOKEN',
    GA_TOKEN: 'api-token-for-test',
    GCACHE_ADVISOR_CLUSTERS__0__TARGET_WINDOW: '4h',
    GCACHE_ADVISOR_CLUSTERS__0__NODES__1__PORT: '3310',
    GCACHE_ADVISOR_SAMPLING__SCHEDULE: '*/30 * * * * *',
    GCACHE_ADVISOR_STORAGE__CACHE_SIZE: '8M',
  });
  assert.equal(c.storage.path, '/var/lib/ga.db');
  assert.equal(c.storage.cacheSize, 8 * 1024 * 1024);
  assert.equal(c.http.host, '0.0.0.0');
  assert.equal(c.http.port, 9200);
  assert.equal(c.http.token?.reveal(), 'api-token-for-test');
  assert.equal(c.clusters[0]!.targetWindowSeconds, 4 * 3600);
  assert.equal(c.clusters[0]!.nodes[1]!.port, 3310);
  assert.equal(c.sampling.schedule, '*/30 * * * * *');
  rejects(base, /clusters\[0\]\.targetWindow: expected a duration/, { ...env, GCACHE_ADVISOR_CLUSTERS__0__TARGET_WINDOW: 'soon' });
  const raw: Record<string, unknown> = {};
  applyEnvOverrides(raw, { GCACHE_ADVISOR_LOG__LEVEL: 'debug', GCACHE_ADVISOR_DB_PASSWORD: 'not-an-override', GCACHE_ADVISOR_CONFIG: '/etc/x.yaml' });
  assert.deepEqual(raw, { log: { level: 'debug' } }, 'variables that name no config section are left alone');
});

test('the example config in examples/ is valid and shows the defaults', () => {
  const text = fs.readFileSync(new URL('../../examples/gcache-advisor.yaml', import.meta.url), 'utf8');
  const c = parseConfig(text, 'examples/gcache-advisor.yaml', { GCACHE_ADVISOR_DB_PASSWORD: 'x' });
  assert.equal(c.clusters[0]!.nodes.length, 3);
  assert.equal(c.alerting.repeatIntervalSeconds, 4 * 3600);
  assert.equal(c.sampling.schedule, '*/10 * * * * *');
  assert.equal(c.sampling.concurrency, 64);
});

test('alerting sinks: URLs and secrets are secrets, and bad sinks are named', () => {
  const c = parseConfig(base + 'alerting:\n  sinks:\n    - { name: s, type: webhook, urlEnv: HOOK, secretEnv: KEY, severities: [critical] }\n', 'test.yaml', {
    ...env,
    HOOK: 'https://hooks.example.invalid/abc',
    KEY: 'k3y-secret',
  });
  const sink = c.alerting.sinks[0]!;
  assert.equal(sink.url.reveal(), 'https://hooks.example.invalid/abc');
  assert.equal(sink.hmacSecret!.reveal(), 'k3y-secret');
  assert.doesNotMatch(JSON.stringify(c), /hooks\.example|k3y-secret/);
  rejects(base + 'alerting:\n  sinks:\n    - { name: s, type: pagerduty, url: "http://x" }\n', /alerting\.sinks\[0\]\.type: expected slack, webhook or alertmanager/);
  rejects(base + 'alerting:\n  sinks:\n    - { name: s, type: slack }\n', /alerting\.sinks\[0\]: expected exactly one of url, urlEnv or urlFile/);
  rejects(base + 'alerting:\n  sinks:\n    - { name: s, type: slack, url: "http://x", secretEnv: K }\n', /alerting\.sinks\[0\]\.secretEnv: only a webhook sink signs its body/);
  rejects(base + 'alerting:\n  sinks:\n    - { name: s, type: slack, url: "http://x", clusters: [nope] }\n', /alerting\.sinks\[0\]\.clusters: unknown cluster "nope"/);
  rejects(base + 'alerting:\n  sinks:\n    - { name: s, type: slack, urlEnv: NOPE }\n', /alerting\.sinks\[0\]\.urlEnv: environment variable NOPE is not set/);
});

test('an API reachable from other machines needs a token, or an explicit allowUnauthenticated', () => {
  for (const listen of ['0.0.0.0:9106', '"[::]:9106"', '10.0.0.5:9106', 'advisor.example.com:9106', '"[fe80::1]:9106"']) {
    rejects(
      base + `http: { listen: ${listen} }`,
      /^config error: test\.yaml: http\.listen: .* is reachable from other machines and no API token is configured: set http\.tokenEnv or http\.tokenFile .*or set http\.allowUnauthenticated: true/,
    );
  }
  rejects(base, /http\.listen: 0\.0\.0\.0:9106 is reachable/, { ...env, GCACHE_ADVISOR_HTTP__LISTEN: '0.0.0.0:9106' });
  for (const listen of ['127.0.0.1:9106', '127.3.2.1:0', 'localhost:9106', 'LOCALHOST:9106', '"[::1]:9106"']) {
    assert.equal(parseConfig(base + `http: { listen: ${listen} }`, 'test.yaml', env).http.token, null, `${listen} is loopback`);
  }
  const withToken = parseConfig(base + 'http: { listen: 0.0.0.0:9106, tokenEnv: GA_TOKEN }', 'test.yaml', { ...env, GA_TOKEN: 'tok-for-test' });
  assert.equal(withToken.http.token?.reveal(), 'tok-for-test');
  const open = parseConfig(base + 'http: { listen: 0.0.0.0:9106, allowUnauthenticated: true }', 'test.yaml', env);
  assert.deepEqual({ host: open.http.host, token: open.http.token }, { host: '0.0.0.0', token: null });
  rejects(base + 'http: { listen: 0.0.0.0:9106, allowUnauthenticated: yes please }', /http\.allowUnauthenticated: expected true or false/);
});

test('sampling.concurrency: a whole number from 1 to 4096', () => {
  assert.equal(parseConfig(base + 'sampling: { concurrency: 16 }', 'test.yaml', env).sampling.concurrency, 16);
  rejects(base + 'sampling: { concurrency: 0 }', /sampling\.concurrency: expected at least 1 node read at once/);
  rejects(base + 'sampling: { concurrency: 2.5 }', /sampling\.concurrency: expected a whole number of nodes read at once/);
  rejects(base + 'sampling: { concurrency: many }', /sampling\.concurrency: expected a whole number of nodes read at once, such as 64/);
  rejects(base + 'sampling: { concurrency: 100000 }', /sampling\.concurrency: expected at most 4096 nodes read at once/);
});

test('tls: verifyIdentity on by default; ca, cert and key must be readable files, named when not', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-tls-config-'));
  for (const f of ['ca.pem', 'client.pem', 'client.key']) fs.writeFileSync(path.join(dir, f), '-----BEGIN CERTIFICATE-----\n');
  const file = path.join(dir, 'config.yaml');
  const cluster = (connectionTls: string, nodeTls = '') => `clusters:
  - name: prod
    connection: { user: advisor, passwordEnv: GA_PW${connectionTls ? `, tls: ${connectionTls}` : ''} }
    nodes:
      - { name: db1, host: 10.0.0.1 }
      - { name: db2, host: 10.0.0.2${nodeTls ? `, tls: ${nodeTls}` : ''} }
`;
  const c = parseConfig(cluster('{ ca: ca.pem, cert: client.pem, key: client.key }'), file, env);
  assert.deepEqual(c.clusters[0]!.nodes[0]!.tls, {
    ca: path.join(dir, 'ca.pem'), // relative to the config file, like passwordFile
    cert: path.join(dir, 'client.pem'),
    key: path.join(dir, 'client.key'),
    rejectUnauthorized: true,
    verifyIdentity: true,
  });
  assert.equal(parseConfig(cluster('{ ca: ca.pem, verifyIdentity: false }'), file, env).clusters[0]!.nodes[1]!.tls!.verifyIdentity, false);
  const refused = (yaml: string, pattern: RegExp) =>
    assert.throws(
      () => parseConfig(yaml, file, env),
      (err: Error) => err instanceof ConfigError && err.exitCode === 2 && pattern.test(err.message),
    );
  refused(cluster('', '{ ca: /x/missing-ca.pem }'), /^config error: clusters\[0\]\.nodes\[1\]\.tls\.ca: cannot read \/x\/missing-ca\.pem: ENOENT$/);
  refused(cluster('{ ca: ca.pem, key: nope.key }'), new RegExp(`^config error: clusters\\[0\\]\\.connection\\.tls\\.key: cannot read ${path.join(dir, 'nope.key')}: ENOENT$`));
  refused(cluster('{ cert: . }'), /clusters\[0\]\.connection\.tls\.cert: cannot read .*: EISDIR/);
  refused(cluster('{ ca: ca.pem, verifyIdentity: "no" }'), /clusters\[0\]\.connection\.tls\.verifyIdentity: expected true or false/);
});
