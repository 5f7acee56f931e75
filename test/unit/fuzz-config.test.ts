/**
 * Property-based tests of the config loader: any YAML document, any mutation of a valid config
 * (wrong types at every key path, huge strings, deep nesting, unknown keys) and any
 * GCACHE_ADVISOR_* environment overrides give a Config or a ConfigError, one short line that
 * starts with "config error:" and names the file or variable and the key path; never another
 * exception, never a stack overflow, never a secret, never a polluted prototype.
 * FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failing one).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import { ConfigError, formatPath, parseConfig, type Config } from '../../src/config/load.ts';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const runs = (numRuns: number) => ({ numRuns, includeErrorInReport: true, ...(seed === undefined ? {} : { seed }) });

const MAX_MESSAGE = 500;
const PASSWORD = 'Fz-pw-Q7xJ2kLm9';
const TOKEN = 'Fz-token-W3vN8rTq';
const FILE_PASSWORD = 'Fz-filepw-Y5hB1cDs';
const URL_SECRET = 'Fz-url-K4gP6wEz';
const SECRETS = [PASSWORD, TOKEN, FILE_PASSWORD, URL_SECRET];

let dir: string;
let source: string;
let env: NodeJS.ProcessEnv;
/** A config that uses every section and most keys; every mutation starts from it. */
let valid: Record<string, unknown>;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-config-'));
  source = path.join(dir, 'gcache-advisor.yaml');
  fs.writeFileSync(path.join(dir, 'pw'), `${FILE_PASSWORD}\n`);
  fs.writeFileSync(path.join(dir, 'ca.pem'), 'not checked here, only read');
  env = { PW: PASSWORD, TOKEN, HOOK_URL: `https://hooks.example/${URL_SECRET}`, HMAC: 'hmac-secret-value' };
  valid = {
    clusters: [
      {
        name: 'prod',
        targetWindow: '2h',
        maintenanceAllowance: '30m',
        connection: { user: 'advisor', passwordEnv: 'PW', port: 3306, tls: { ca: 'ca.pem', rejectUnauthorized: true } },
        nodes: [
          { name: 'db1', host: '10.0.0.1' },
          { name: 'db2', host: '10.0.0.2', port: 3307 },
          { name: 'db3', socket: '/run/mysqld/mysqld.sock', user: 'other', passwordFile: 'pw' },
        ],
      },
      { name: 'stage', connection: { user: 'u', passwordEnv: 'PW' }, nodes: [{ name: 'n1', host: 'stage-db' }] },
    ],
    sampling: { schedule: '*/10 * * * * *', timeout: '5s', concurrency: 16 },
    horizons: { short: '5m', long: '24h' },
    storage: { path: './data/db.sqlite', retention: { raw: '2d', rollups: '90d' } },
    http: { listen: '127.0.0.1:9106', tokenEnv: 'TOKEN' },
    log: { level: 'info' },
    rules: { dir: './rules' },
    alerting: {
      repeatInterval: '4h',
      alertmanagerResend: '1m',
      expireAfter: '24h',
      sinks: [
        { name: 'chat', type: 'slack', urlEnv: 'HOOK_URL', severities: ['critical', 'warning'], clusters: ['prod'] },
        { name: 'hook', type: 'webhook', url: 'https://example.org/hook', secretEnv: 'HMAC', timeout: '10s' },
        { name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9093' },
      ],
    },
  };
  // The starting point must itself load, or every property below is vacuous.
  parseConfig(YAML.stringify(valid), source, env);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Every key path of a value: objects by key, lists by index. */
function keyPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, i], ...keyPaths(v, [...prefix, i])]);
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...keyPaths(v, [...prefix, k])]);
  return [];
}

function setIn(root: unknown, keyPath: Array<string | number>, update: (parent: Record<string | number, unknown>, key: string | number) => void): void {
  let target = root as Record<string | number, unknown>;
  for (const k of keyPath.slice(0, -1)) target = target[k] as Record<string | number, unknown>;
  update(target, keyPath.at(-1)!);
}

/** Values of every type, including ones no key accepts, huge ones and deep ones. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e400s',
    '9'.repeat(400) + 's',
    '99999999999999999999G',
    '127.0.0.1:99999',
    '0.0.0.0:9106',
    '[::]:0',
    '* * *',
    'x'.repeat(70),
    true,
    false,
    null,
    0,
    -1,
    1.5,
    Number.POSITIVE_INFINITY,
    -0,
    65536,
    2 ** 53 + 1,
    [],
    {},
  ),
  fc.nat({ max: 200_000 }).map((n) => 'y'.repeat(n + 1000)),
  fc.integer({ min: 1, max: 150 }).map((n) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown),
  fc.integer({ min: 1, max: 100 }).map((n) => JSON.parse('{"a":'.repeat(n) + '1' + '}'.repeat(n)) as unknown),
);

/** A value of a type that no leaf of the schema accepts: the error must be at that very key. */
const wrongType = fc.oneof(fc.constant([[1]]), fc.constant({ zz: 1 }), fc.constant([{ zz: [] }]));

type Mutation = { path: Array<string | number>; how: 'replace' | 'wrong' | 'delete' | 'add' | 'wrap'; value: unknown; key: string };

const mutation: fc.Arbitrary<Mutation> = fc
  .record({
    pick: fc.nat(),
    how: fc.constantFrom('replace', 'replace', 'wrong', 'delete', 'add', 'wrap'),
    value: anyValue,
    wrong: wrongType,
    key: fc.oneof(fc.constantFrom('password', 'pth', '__proto__', 'constructor', 'toString', '0'), fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,20}$/)),
  })
  .map(({ pick, how, value, wrong, key }) => {
    const all = keyPaths(valid);
    return { path: all[pick % all.length]!, how, value: how === 'wrong' ? wrong : value, key };
  });

function mutate(mutations: Mutation[]): Record<string, unknown> {
  const doc = structuredClone(valid);
  for (const m of mutations) {
    try {
      setIn(doc, m.path, (parent, k) => {
        if (m.how === 'delete') {
          if (Array.isArray(parent)) parent.splice(Number(k), 1);
          else delete parent[k];
        } else if (m.how === 'add') {
          const target = parent[k];
          const added = structuredClone(m.value);
          if (target && typeof target === 'object' && !Array.isArray(target))
            Object.defineProperty(target, m.key, { value: added, enumerable: true, configurable: true, writable: true });
          else parent[k] = { [m.key]: added };
        } else if (m.how === 'wrap') parent[k] = [structuredClone(parent[k])];
        else parent[k] = structuredClone(m.value);
      });
    } catch {
      // An earlier mutation removed the way to this path: nothing to do.
    }
  }
  return doc;
}

function load(text: string, e: NodeJS.ProcessEnv = env): Config | ConfigError {
  try {
    const config = parseConfig(text, source, e);
    assertConfig(config);
    return config;
  } catch (err) {
    assertConfigError(err);
    return err as ConfigError;
  }
}

function assertConfig(config: Config): void {
  assert.ok(Number.isInteger(config.http.port) && config.http.port >= 0 && config.http.port <= 65535, `http.port ${config.http.port}`);
  for (const value of [
    config.sampling.timeoutSeconds,
    config.horizons.shortSeconds,
    config.horizons.longSeconds,
    config.storage.retention.rawSeconds,
    config.storage.retention.rollupSeconds,
    config.alerting.repeatIntervalSeconds,
    config.alerting.expireAfterSeconds,
    ...config.clusters.flatMap((c) => [c.targetWindowSeconds, c.maintenanceAllowanceSeconds]),
  ]) {
    assert.ok(Number.isFinite(value) && value > 0, `a duration of ${value} seconds`);
  }
  for (const node of config.clusters.flatMap((c) => c.nodes)) assert.ok(Number.isInteger(node.port) && node.port >= 1 && node.port <= 65535, `port ${node.port}`);
}

function assertConfigError(err: unknown): asserts err is ConfigError {
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${(err as Error)?.name}: ${String((err as Error)?.message).slice(0, 300)}`);
  const m = err.message;
  assert.ok(m.startsWith('config error: '), m.slice(0, 200));
  // The file, a variable of the environment, or (for a secret or TLS file that cannot be read) the key.
  assert.ok(
    m.startsWith(`config error: ${source}`) || /^config error: (GCACHE_ADVISOR_[^\s:]+|(clusters|http|alerting)[\w.[\]]+): /.test(m),
    `names neither the file, a variable nor a key: ${m.slice(0, 200)}`,
  );
  assert.ok(!m.includes('\n'), `one line: ${JSON.stringify(m.slice(0, 300))}`);
  assert.ok(m.length <= MAX_MESSAGE, `message of ${m.length} chars: ${m.slice(0, 200)}…`);
  assert.ok(!/call stack/i.test(m), m);
  for (const secret of SECRETS) assert.ok(!m.includes(secret), `a secret in: ${m}`);
}

/** The key path a schema error names, right after the file name. */
function namedPath(err: ConfigError): string {
  const rest = err.message.slice(`config error: ${source}: `.length);
  return rest.slice(0, rest.search(/: |, /));
}

test('config: any text as the file gives a Config or a one-line ConfigError naming the file', () => {
  const token = fc.oneof(
    fc.constantFrom('clusters', 'nodes', 'name', 'host', 'sampling', 'storage', 'http', 'listen', 'alerting', 'sinks', 'rules', '__proto__', 'constructor'),
    fc.constantFrom(
      ':',
      ': ',
      ' ',
      '  ',
      '\n',
      '- ',
      '[',
      ']',
      '{',
      '}',
      ',',
      '&a ',
      '*a',
      '*nowhere',
      '!!str ',
      '!!binary ',
      '!!set ',
      '!!omap ',
      '!custom ',
      '? ',
      '|',
      '>-',
      '"',
      "'",
      '#',
      '---\n',
      '...\n',
      '%YAML 1.2\n',
      '%TAG ! tag:x,2000:\n',
      '<<: *a',
      '\t',
      '\uFEFF',
    ),
    fc.constantFrom('prod', '10.0.0.1', '5m', '1e309', '0x10', '~', 'yes', '2001-12-14t21:59:43.10-05:00', '.nan', '-.inf'),
    fc.string({ unit: 'binary', maxLength: 5 }),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.array(token, { maxLength: 60 }).map((t) => t.join('')),
        fc.string({ unit: 'binary', maxLength: 300 }),
      ),
      (text) => {
        load(text);
      },
    ),
    runs(2000),
  );
});

test('config: any YAML value as the document gives a Config or a ConfigError naming a key path', () => {
  const doc = fc.oneof(
    fc.anything({ maxDepth: 4, withNullPrototype: true, withBoxedValues: false, withMap: false, withSet: false, withTypedArray: false, withSparseArray: true }),
    fc.dictionary(fc.string({ maxLength: 12 }), anyValue, { maxKeys: 8 }),
    fc.record({ clusters: anyValue, sampling: anyValue, http: anyValue }, { requiredKeys: [] }),
    // Many unknown keys, and very long ones: the message stays short.
    fc.integer({ min: 6, max: 300 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`unknown${i}`, i]))),
    fc.nat({ max: 100_000 }).map((n) => ({ ['k'.repeat(n + 1000)]: 1 })),
  );
  fc.assert(
    fc.property(doc, (value) => {
      let text: string | undefined;
      try {
        text = YAML.stringify(value, { aliasDuplicateObjects: false });
      } catch {
        // not expressible as YAML (a symbol key, say): nothing a file can hold
      }
      if (typeof text !== 'string') return;
      const result = load(text);
      if (result instanceof ConfigError && result.message.startsWith(`config error: ${source}: `)) {
        const named = namedPath(result);
        const topLevel = named === '(top level)' || result.message.endsWith(': expected a mapping at the top level');
        assert.ok(topLevel || /^[^\s[.]+(\[\d+\]|\.[^\s[.]+)*(…)?$/.test(named), `no key path in: ${result.message.slice(0, 200)}`);
      }
    }),
    runs(1500),
  );
});

test('config: a valid config with wrong types, huge values, deep nesting, unknown or missing keys at any key path', () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
      const doc = mutate(mutations);
      const result = load(YAML.stringify(doc, { aliasDuplicateObjects: false }));
      if (mutations.length === 1 && mutations[0]!.how === 'wrong') {
        // A value of a type no key takes: the error names exactly that key (or a key inside it).
        assert.ok(result instanceof ConfigError, `accepted ${JSON.stringify(mutations[0])}`);
        const expected = formatPath(mutations[0]!.path);
        const named = namedPath(result);
        assert.ok(named === expected || named.startsWith(`${expected}.`) || named.startsWith(`${expected}[`), `expected ${expected}, got: ${result.message.slice(0, 200)}`);
      }
    }),
    runs(2000),
  );
});

test('config: nesting thousands of levels deep is a ConfigError naming the line, not a stack overflow', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 100, max: 5000 }),
      fc.constantFrom('flowseq', 'flowmap', 'blockseq', 'indent'),
      fc.constantFrom('clusters', 'storage', 'unknown'),
      (n, shape, key) => {
        const nested =
          shape === 'flowseq'
            ? '['.repeat(n) + ']'.repeat(n)
            : shape === 'flowmap'
              ? '{a: '.repeat(n) + '1' + '}'.repeat(n)
              : shape === 'blockseq'
                ? '- '.repeat(n) + 'x'
                : `\n${Array.from({ length: Math.min(n, 1500) }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')} 1`;
        const result = load(`${key}: ${nested}\n`);
        assert.ok(result instanceof ConfigError);
      },
    ),
    runs(60),
  );
});

test('config: aliases that point nowhere or expand to a "billion laughs" are a ConfigError', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 8 }), fc.boolean(), (width, levels, unresolved) => {
      const lines = [`x0: &l0 [${Array.from({ length: width }, () => 'x').join(', ')}]`];
      for (let i = 1; i < levels; i++) lines.push(`x${i}: &l${i} [${Array.from({ length: width }, () => `*l${i - 1}`).join(', ')}]`);
      lines.push(`storage: ${unresolved ? '*nowhere' : `*l${levels - 1}`}`);
      assert.ok(load(`${YAML.stringify(valid)}${lines.join('\n')}\n`) instanceof ConfigError);
    }),
    runs(100),
  );
});

test('config: GCACHE_ADVISOR_* overrides with any names and values give a Config or a ConfigError, and pollute no prototype', () => {
  const segment = fc.oneof(
    fc.constantFrom(
      'CLUSTERS',
      'SAMPLING',
      'STORAGE',
      'HTTP',
      'LOG',
      'RULES',
      'ALERTING',
      'HORIZONS',
      'SHARDING',
      'NODES',
      'SINKS',
      'CONNECTION',
      'TLS',
      'PATH',
      'RETENTION',
      'RAW',
      'LISTEN',
      'LEVEL',
      'TARGET_WINDOW',
      'NAME',
      'HOST',
      'PORT',
      'URL',
      'TOKEN_ENV',
      'INDEX',
      'COUNT',
    ),
    fc.constantFrom('0', '1', '2', '3', '10', '-1', '1.5', '1e3', '4294967294', '4294967295', '9007199254740993', '99999999999'),
    fc.constantFrom('CONSTRUCTOR', 'PROTOTYPE', '_PROTO_', 'PROTO', 'TO_STRING', 'VALUE_OF', 'HAS_OWN_PROPERTY', 'LENGTH'),
    fc.stringMatching(/^[A-Za-z0-9_]{0,12}$/),
  );
  // Mostly a real section first (anything else is not an override and is ignored), then anything.
  const section = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('CLUSTERS', 'SAMPLING', 'STORAGE', 'HTTP', 'LOG', 'RULES', 'ALERTING', 'HORIZONS', 'SHARDING') }, segment);
  const name = fc
    .tuple(section, fc.array(segment, { maxLength: 4 }), fc.constantFrom('__', '__', '_', '___'))
    .map(([first, rest, sep]) => `GCACHE_ADVISOR_${[first, ...rest].join(sep)}`);
  const envValue = fc.oneof(
    fc.constantFrom(
      '',
      '5m',
      '~',
      'null',
      '[]',
      '{}',
      '[1, 2]',
      '{a: 1}',
      '*x',
      '&a [*a]',
      '- a\n- b',
      '127.0.0.1:0',
      'true',
      '0',
      '-1',
      '"quoted"',
      '{ name: extra, host: h }',
      'x'.repeat(70),
    ),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.nat({ max: 100_000 }).map((n) => 'z'.repeat(n + 1000)),
  );
  const objectNames = Object.getOwnPropertyNames(Object.prototype).sort();
  const arrayNames = Object.getOwnPropertyNames(Array.prototype).sort();
  fc.assert(
    fc.property(fc.array(fc.tuple(name, envValue), { minLength: 1, maxLength: 4 }), fc.boolean(), (overrides, fromValid) => {
      const e = { ...env, ...Object.fromEntries(overrides) };
      const text = fromValid ? YAML.stringify(valid) : 'clusters: [{ name: c, nodes: [{ name: n, host: h, user: u, passwordEnv: PW }] }]\nstorage: x\nhttp: ~\n';
      try {
        load(text, e);
      } finally {
        const polluted = Object.getOwnPropertyNames(Object.prototype).filter((k) => !objectNames.includes(k));
        const pollutedArray = Object.getOwnPropertyNames(Array.prototype).filter((k) => !arrayNames.includes(k));
        for (const k of polluted) delete (Object.prototype as Record<string, unknown>)[k];
        for (const k of pollutedArray) delete (Array.prototype as unknown as Record<string, unknown>)[k];
        assert.deepEqual([...polluted, ...pollutedArray], [], `Object.prototype polluted by ${JSON.stringify(overrides.map(([k]) => k))}`);
      }
    }),
    runs(2000),
  );
});

test('config: http.listen with any host and port gives an address that can be listened on, or a ConfigError naming http.listen', () => {
  const host = fc.oneof(
    fc.constantFrom('127.0.0.1', '127.1.2.3', 'localhost', '[::1]', '0.0.0.0', '[::]', '10.0.0.1', 'example.org', '[fe80::1]', ''),
    fc.string({ maxLength: 12 }),
  );
  const port = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }).map(String), fc.constantFrom('0', '00080', '65535', '65536', '99999', '', '-1', '1e3'));
  fc.assert(
    fc.property(host, port, (h, p) => {
      const doc = structuredClone(valid) as { http: Record<string, unknown> };
      doc.http.listen = `${h}:${p}`;
      const result = load(YAML.stringify(doc));
      if (result instanceof ConfigError) assert.equal(namedPath(result), 'http.listen', result.message);
    }),
    runs(1000),
  );
});
