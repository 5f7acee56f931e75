/**
 * The Kubernetes deployment in deploy/kubernetes: no cluster runs here, so the manifests are
 * checked the way an API server and the daemon would check them. Built-in kinds against the
 * Kubernetes OpenAPI schemas (kubernetes-models) and, since those schemas accept unknown fields
 * that a server with strict field validation rejects, against the object types with TypeScript's
 * excess-property check; the Prometheus Operator's kinds by their structure; the alert rules with
 * promtool (check and unit tests); the config with the daemon's own parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import YAML from 'yaml';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { parseConfig } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { Metrics } from '../../src/metrics/metrics.ts';

const root = path.join(import.meta.dirname, '..', '..');
const deployDir = path.join(root, 'deploy', 'kubernetes');
/** Deliberately outside the kustomization, so that `kubectl apply -k` never installs placeholder secrets. */
const SECRET_EXAMPLE = 'secret.example.yaml';

type Json = Record<string, unknown>;
interface Kustomization {
  resources: string[];
  configMapGenerator: Array<{ name: string; files: string[]; options?: { labels?: Record<string, string> } }>;
}
interface RuleGroup {
  name: string;
  rules: Array<{ alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }>;
}

/** Parses a file that must hold exactly one YAML document, without errors or warnings. */
function parseOne<T = Json>(file: string): T {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(deployDir, file), 'utf8'), { uniqueKeys: true });
  assert.ok(Array.isArray(docs), `${file}: expected YAML documents`);
  assert.equal(docs.length, 1, `${file}: expected one YAML document, found ${docs.length}`);
  const doc = docs[0]!;
  assert.deepEqual(
    [...doc.errors, ...doc.warnings].map((e) => e.message),
    [],
    `${file} parses cleanly`,
  );
  return doc.toJS() as T;
}

const kustomization = parseOne<Kustomization>('kustomization.yaml');
const manifests = new Map<string, Json>(kustomization.resources.map((f) => [f, parseOne(f)]));
const configGenerator = kustomization.configMapGenerator.find((g) => g.name === 'gcache-advisor-config')!;
const configFile = configGenerator.files[0]!;
const configText = fs.readFileSync(path.join(deployDir, configFile), 'utf8');

function only<T>(kind: string): T {
  const found = [...manifests.values()].filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind} in the kustomization, found ${found.length}`);
  return found[0] as T;
}
const statefulSet = only<IStatefulSet>('StatefulSet');
const service = only<IService>('Service');
const serviceMonitor = only<Json & { metadata: Json; spec: Json & { endpoints: Json[]; selector: { matchLabels: Record<string, string> }; jobLabel?: string } }>('ServiceMonitor');
const prometheusRule = only<Json & { metadata: Json; spec: { groups: RuleGroup[] } }>('PrometheusRule');
const secretExample = parseOne<ISecret>(SECRET_EXAMPLE);
const podSpec = statefulSet.spec!.template.spec!;
const container: IContainer = podSpec.containers.find((c) => c.name === 'gcache-advisor')!;

/** The ConfigMap that kustomize generates from configMapGenerator (less the hash suffix of its name). */
const generatedConfigMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: configGenerator.name, labels: configGenerator.options?.labels ?? {} },
  data: Object.fromEntries(configGenerator.files.map((f) => [path.basename(f), fs.readFileSync(path.join(deployDir, f), 'utf8')])),
};

/** The built-in kinds: each with its kubernetes-models class, and the type the excess-property check uses. */
const BUILT_IN = {
  StatefulSet: { model: StatefulSet, typeModule: 'apps/v1/StatefulSet', typeName: 'IStatefulSet' },
  Service: { model: Service, typeModule: 'v1/Service', typeName: 'IService' },
  Secret: { model: Secret, typeModule: 'v1/Secret', typeName: 'ISecret' },
  ConfigMap: { model: ConfigMap, typeModule: 'v1/ConfigMap', typeName: 'IConfigMap' },
} as const;

/** Every built-in object the deployment consists of, with where it comes from. */
function builtInObjects(): Array<{ source: string; object: Json }> {
  return [
    ...[...manifests].filter(([, m]) => String(m.kind) in BUILT_IN).map(([file, object]) => ({ source: file, object })),
    { source: `${configFile} (configMapGenerator)`, object: generatedConfigMap },
    { source: SECRET_EXAMPLE, object: secretExample as unknown as Json },
  ];
}

/** Validates one object with kubernetes-models (which runs the Kubernetes OpenAPI schema through ajv). */
function validateBuiltIn(source: string, object: Json): void {
  const kind = String(object.kind) as keyof typeof BUILT_IN;
  const { model: Model } = BUILT_IN[kind];
  assert.equal(object.apiVersion, Model.apiVersion, `${source}: apiVersion of a ${kind}`);
  const instance = new Model(object as never);
  try {
    instance.validate();
  } catch (err) {
    assert.fail(`${source}: ${(err as Error).message}`);
  }
}

/** The ENV instruction(s) of the Dockerfile, as the container starts with them. */
function dockerfileEnv(): Record<string, string> {
  const text = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runtimeStage = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of runtimeStage.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, key, value] of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env[key!] = value!;
  }
  return env;
}

/**
 * The environment the daemon sees in the first pod: the image's ENV, the container's env (the
 * pod-index label reads "0" in pod 0) and the Secret's keys (envFrom).
 */
function podEnvironment(): Record<string, string> {
  const env: Record<string, string> = { ...dockerfileEnv() };
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.labels['apps.kubernetes.io/pod-index']") env[e.name] = '0';
    else assert.fail(`env ${e.name}: a source this test does not model`);
  }
  for (const source of container.envFrom ?? []) {
    assert.equal(source.secretRef?.name, secretExample.metadata!.name, 'envFrom names the Secret of secret.example.yaml');
    Object.assign(env, secretExample.stringData);
  }
  return env;
}

function envValue(name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value;
}

function mountPathOf(volume: string): string {
  const mount = container.volumeMounts?.find((m) => m.name === volume);
  assert.ok(mount, `a volumeMount for the volume "${volume}"`);
  return mount.mountPath;
}

test('the kustomization lists every file of deploy/kubernetes, and every file it lists exists', () => {
  const listed = [...kustomization.resources, ...kustomization.configMapGenerator.flatMap((g) => g.files)];
  for (const file of listed) assert.ok(fs.existsSync(path.join(deployDir, file)), `${file}, listed in kustomization.yaml, exists`);
  const present = fs
    .readdirSync(deployDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(deployDir, path.join(e.parentPath, e.name)));
  const unlisted = present.filter((f) => !listed.includes(f) && !['kustomization.yaml', 'README.md', SECRET_EXAMPLE].includes(f));
  assert.deepEqual(unlisted, [], 'files in deploy/kubernetes that kustomization.yaml does not list');
  assert.ok(!listed.includes(SECRET_EXAMPLE), `${SECRET_EXAMPLE} holds placeholders and must stay out of the kustomization`);
  assert.deepEqual(new Set(listed).size, listed.length, 'no file is listed twice');
  assert.deepEqual([...manifests.values()].map((m) => m.kind).sort(), ['PrometheusRule', 'Service', 'ServiceMonitor', 'StatefulSet']);
});

test('the Secret example holds placeholders only, never a usable secret', () => {
  const values = Object.entries(secretExample.stringData ?? {});
  assert.ok(values.length >= 2, 'the password and the API token at least');
  assert.equal(secretExample.data, undefined, 'stringData only, readable as placeholders');
  for (const [key, value] of values) {
    assert.match(value, /REPLACE/, `${key} is visibly a placeholder`);
    // URLs point at the reserved .invalid domain, so a forgotten placeholder cannot post anywhere.
    if (/^https?:/.test(value)) assert.match(new URL(value).hostname, /\.invalid$/, `${key}: a URL under .invalid`);
  }
});

test('every manifest names its apiVersion, kind and a DNS-1123 name', () => {
  for (const { source, object } of [...[...manifests].map(([source, object]) => ({ source, object })), { source: SECRET_EXAMPLE, object: secretExample as unknown as Json }]) {
    assert.match(String(object.apiVersion), /^([a-z0-9.-]+\/)?v\d+(alpha\d+|beta\d+)?$/, `${source}: apiVersion`);
    assert.match(String(object.kind), /^[A-Z][A-Za-z]+$/, `${source}: kind`);
    const name = String((object.metadata as Json | undefined)?.name);
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${source}: metadata.name`);
    assert.ok(name.length <= 63, `${source}: metadata.name at most 63 characters`);
    assert.equal((object.metadata as Json).namespace, undefined, `${source}: the namespace is the overlay's to set`);
  }
});

test('the built-in objects validate against the Kubernetes OpenAPI schemas', () => {
  const objects = builtInObjects();
  assert.deepEqual(objects.map((o) => o.object.kind).sort(), ['ConfigMap', 'Secret', 'Service', 'StatefulSet']);
  for (const { source, object } of objects) validateBuiltIn(source, object);
});

test('the schema check catches a wrong type, and the typed check a misspelt field', () => {
  // Both checks are only worth something if they fail on a bad manifest.
  const bad = structuredClone(statefulSet) as unknown as Json & typeof statefulSet;
  bad.spec!.template.spec!.containers[0]!.ports![0]!.containerPort = 'http' as never;
  assert.throws(() => validateBuiltIn('bad', bad), /containerPort must be integer/);
  const misspelt = structuredClone(statefulSet);
  (misspelt.spec!.template.spec!.containers[0]!.securityContext as Json).readOnlyRootFileSystem = true;
  const errors = typeCheck([{ source: 'misspelt.yaml', object: misspelt as unknown as Json }]);
  assert.match(errors, /misspelt\.yaml\.ts.*'"?readOnlyRootFileSystem"?' does not exist in type/);
});

/**
 * Writes each object as a typed TypeScript constant and runs tsc: an object literal may only name
 * fields its type declares, at every depth, which is what `kubectl apply` with strict field
 * validation enforces and the OpenAPI schemas alone do not. Returns tsc's diagnostics ('' if none).
 */
function typeCheck(objects: Array<{ source: string; object: Json }>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-k8s-types-'));
  try {
    for (const { source, object } of objects) {
      const { typeModule, typeName } = BUILT_IN[String(object.kind) as keyof typeof BUILT_IN];
      const from = path.join(root, 'node_modules', 'kubernetes-models', `${typeModule}.js`);
      const file = `${source.replace(/[^A-Za-z0-9.-]+/g, '_')}.ts`;
      fs.writeFileSync(
        path.join(dir, file),
        `import type { ${typeName} } from ${JSON.stringify(from)};\nexport const manifest: ${typeName} = ${JSON.stringify(object, null, 2)};\n`,
      );
    }
    const compilerOptions = { strict: true, noEmit: true, module: 'esnext', moduleResolution: 'bundler', target: 'es2022', skipLibCheck: true, types: [] };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }));
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
      return '';
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      return `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the built-in objects name no field their Kubernetes type lacks', () => {
  assert.equal(typeCheck(builtInObjects()), '', 'tsc reports no unknown or mistyped field');
});

test('the ServiceMonitor has the structure the Prometheus Operator expects', () => {
  assert.equal(serviceMonitor.apiVersion, 'monitoring.coreos.com/v1');
  validateMetadata('servicemonitor.yaml', serviceMonitor.metadata);
  // Field names from the operator's API types (pkg/apis/monitoring/v1: ServiceMonitorSpec, Endpoint).
  assertKnownKeys('servicemonitor.yaml: spec', serviceMonitor.spec, [
    'jobLabel',
    'targetLabels',
    'podTargetLabels',
    'endpoints',
    'selector',
    'namespaceSelector',
    'sampleLimit',
    'attachMetadata',
  ]);
  assert.ok(serviceMonitor.spec.endpoints.length >= 1, 'at least one endpoint');
  for (const endpoint of serviceMonitor.spec.endpoints) {
    assertKnownKeys('servicemonitor.yaml: endpoint', endpoint, [
      'port',
      'targetPort',
      'path',
      'scheme',
      'params',
      'interval',
      'scrapeTimeout',
      'honorLabels',
      'honorTimestamps',
      'metricRelabelings',
      'relabelings',
    ]);
    for (const key of ['interval', 'scrapeTimeout'] as const) if (endpoint[key] !== undefined) assert.match(String(endpoint[key]), /^(\d+(ms|s|m|h))+$/, `endpoint ${key}`);
  }
  assertStringMap('servicemonitor.yaml: spec.selector.matchLabels', serviceMonitor.spec.selector.matchLabels);
});

test('the PrometheusRule has the structure the Prometheus Operator expects', () => {
  assert.equal(prometheusRule.apiVersion, 'monitoring.coreos.com/v1');
  validateMetadata('prometheusrule.yaml', prometheusRule.metadata);
  assertKnownKeys('prometheusrule.yaml: spec', prometheusRule.spec as unknown as Json, ['groups']);
  const names = new Set<string>();
  for (const group of prometheusRule.spec.groups) {
    assertKnownKeys(`group ${group.name}`, group as unknown as Json, ['name', 'labels', 'interval', 'query_offset', 'rules', 'partial_response_strategy', 'limit']);
    assert.ok(!names.has(group.name), `group name ${group.name} is unique`);
    names.add(group.name);
    for (const rule of group.rules) {
      const at = `group ${group.name}: ${rule.alert ?? rule.record}`;
      assertKnownKeys(at, rule as unknown as Json, ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);
      assert.ok(Boolean(rule.alert) !== Boolean(rule.record), `${at}: exactly one of alert or record`);
      assert.equal(typeof rule.expr, 'string', `${at}: expr`);
      if (rule.for !== undefined) assert.match(rule.for, /^(\d+(ms|s|m|h|d|w|y))+$/, `${at}: for`);
      assertStringMap(`${at}: labels`, rule.labels ?? {});
      assertStringMap(`${at}: annotations`, rule.annotations ?? {});
      if (rule.alert) {
        assert.match(rule.alert, /^[A-Za-z_][A-Za-z0-9_]*$/, `${at}: alert name`);
        assert.ok(['critical', 'warning', 'info'].includes(rule.labels?.severity ?? ''), `${at}: severity critical, warning or info`);
        assert.ok(rule.annotations?.summary, `${at}: a summary`);
      }
    }
  }
});

function validateMetadata(source: string, metadata: Json): void {
  // ObjectMeta is the same type in every kind; a ConfigMap carries it through the same schema.
  validateBuiltIn(`${source} metadata`, { apiVersion: 'v1', kind: 'ConfigMap', metadata });
}

function assertKnownKeys(at: string, object: Json, known: string[]): void {
  for (const key of Object.keys(object)) assert.ok(known.includes(key), `${at}: unknown field "${key}"`);
}

function assertStringMap(at: string, map: unknown): void {
  assert.ok(map && typeof map === 'object' && !Array.isArray(map), `${at}: a mapping`);
  for (const [key, value] of Object.entries(map)) assert.equal(typeof value, 'string', `${at}.${key}: a string`);
}

/** Runs promtool with the PrometheusRule's groups in a rules file of their own. */
function withRulesFile<T>(groups: RuleGroup[], fn: (dir: string, rulesFile: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-k8s-rules-'));
  try {
    const rulesFile = path.join(dir, 'rules.yaml');
    fs.writeFileSync(rulesFile, YAML.stringify({ groups }));
    return fn(dir, rulesFile);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function promtool(args: string[]): string {
  try {
    return execFileSync('promtool', args, { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`promtool ${args[0]} ${args[1]} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

test('the PrometheusRule passes promtool check rules', () => {
  const out = withRulesFile(prometheusRule.spec.groups, (_dir, file) => promtool(['check', 'rules', file]));
  const count = prometheusRule.spec.groups.reduce((n, g) => n + g.rules.length, 0);
  assert.match(out, new RegExp(`SUCCESS: ${count} rules found`));
});

test('the alert rules query only metrics the daemon exports', async () => {
  const exported = new Set<string>(['up']);
  for (const m of await new Metrics('test').registry.getMetricsAsJSON()) {
    exported.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m.name + s);
  }
  const queried = new Set<string>();
  for (const rule of prometheusRule.spec.groups.flatMap((g) => g.rules)) {
    for (const [name] of rule.expr.matchAll(/\b(galera|gcache_advisor)_[a-z0-9_]+/g)) queried.add(name);
    if (/\bup\{/.test(rule.expr)) queried.add('up');
  }
  assert.ok(queried.size >= 8, `found ${[...queried].join(', ')}`);
  for (const name of queried) assert.ok(exported.has(name), `the rules query ${name}, which the daemon does not export`);
  // up{job=...} and absent() depend on the job name the ServiceMonitor gives the targets.
  const jobLabel = serviceMonitor.spec.jobLabel!;
  assert.equal(service.metadata!.labels![jobLabel], 'gcache-advisor');
  for (const rule of prometheusRule.spec.groups.flatMap((g) => g.rules).filter((r) => /\bjob=/.test(r.expr))) {
    assert.match(rule.expr, /job="gcache-advisor"/, `${rule.alert}: the job the ServiceMonitor sets`);
  }
});

test('the alert rules fire when they should and stay quiet otherwise (promtool test rules)', () => {
  // The expressions and their `for` are tested; annotations are left out, since promtool would
  // compare every rendered word of them.
  const groups = prometheusRule.spec.groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...rule }) => rule) }));
  const pod = (name: string) => `namespace="ns",pod="${name}",job="gcache-advisor"`;
  const tests = {
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: [
      {
        // The target window comes from two shards: the join must tolerate the duplicate.
        interval: '1m',
        input_series: [
          { series: `galera_target_window_seconds{cluster="c",${pod('a')}}`, values: '3600x30' },
          { series: `galera_target_window_seconds{cluster="c",${pod('b')}}`, values: '3600x30' },
          { series: `galera_replication_window_seconds{cluster="c",node="n1",method="measured",${pod('a')}}`, values: '1000x30' },
          { series: `galera_replication_window_seconds{cluster="c",node="n2",method="measured",${pod('b')}}`, values: '2500x30' },
          { series: `galera_replication_window_seconds{cluster="c",node="n3",method="measured",${pod('b')}}`, values: '7200x30' },
          { series: `galera_replication_window_seconds{cluster="c",node="n3",method="estimated_short",${pod('b')}}`, values: '60x30' },
        ],
        alert_rule_test: [
          {
            eval_time: '15m',
            alertname: 'GaleraReplicationWindowCritical',
            exp_alerts: [{ exp_labels: { severity: 'critical', cluster: 'c', node: 'n1', method: 'measured', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
          {
            eval_time: '15m',
            alertname: 'GaleraReplicationWindowBelowTarget',
            exp_alerts: [{ exp_labels: { severity: 'warning', cluster: 'c', node: 'n2', method: 'measured', namespace: 'ns', pod: 'b', job: 'gcache-advisor' } }],
          },
          { eval_time: '5m', alertname: 'GaleraReplicationWindowBelowTarget', exp_alerts: [] },
        ],
      },
      {
        // A drop counter is born at 1 (its first increment), then grows once more.
        interval: '1m',
        input_series: [{ series: `galera_gcache_history_drops_total{cluster="c",node="n1",kind="page_store_purge",${pod('a')}}`, values: '_x30 1x100 2x30' }],
        alert_rule_test: [
          { eval_time: '20m', alertname: 'GaleraGcacheHistoryDropped', exp_alerts: [] },
          {
            eval_time: '40m',
            alertname: 'GaleraGcacheHistoryDropped',
            exp_alerts: [{ exp_labels: { severity: 'warning', cluster: 'c', node: 'n1', kind: 'page_store_purge', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
          { eval_time: '120m', alertname: 'GaleraGcacheHistoryDropped', exp_alerts: [] },
          {
            eval_time: '140m',
            alertname: 'GaleraGcacheHistoryDropped',
            exp_alerts: [{ exp_labels: { severity: 'warning', cluster: 'c', node: 'n1', kind: 'page_store_purge', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
        ],
      },
      {
        // n1 is reachable and not Synced; n2 cannot be read, which is another alert.
        interval: '1m',
        input_series: [
          { series: `galera_node_synced{cluster="c",node="n1",${pod('a')}}`, values: '0x10' },
          { series: `gcache_advisor_up{cluster="c",node="n1",${pod('a')}}`, values: '1x10' },
          { series: `galera_node_synced{cluster="c",node="n2",${pod('a')}}`, values: '0x10' },
          { series: `gcache_advisor_up{cluster="c",node="n2",${pod('a')}}`, values: '0x10' },
          { series: `galera_ist_budget_seconds{cluster="c",node="n1",rate="current",${pod('a')}}`, values: '1200x20' },
          { series: `galera_ist_budget_seconds{cluster="c",node="n2",rate="current",${pod('a')}}`, values: '5400x20' },
          { series: `galera_ist_budget_seconds{cluster="c",node="n2",rate="pessimistic",${pod('a')}}`, values: '600x20' },
        ],
        alert_rule_test: [
          {
            eval_time: '5m',
            alertname: 'GaleraNodeNotSynced',
            exp_alerts: [{ exp_labels: { severity: 'critical', cluster: 'c', node: 'n1', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
          {
            eval_time: '5m',
            alertname: 'GcacheAdvisorNodeNotSampled',
            exp_alerts: [{ exp_labels: { severity: 'critical', cluster: 'c', node: 'n2', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
          {
            eval_time: '15m',
            alertname: 'GaleraISTBudgetBelowMaintenanceAllowance',
            exp_alerts: [{ exp_labels: { severity: 'warning', cluster: 'c', node: 'n1', rate: 'current', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
        ],
      },
      {
        // n1 is away and its IST countdown runs out at 15m (IST lost for 1 min at 16m); n2 is away with hours left; n1's
        // safe budget held at 80% of the backtest's start points, n2's at 97%.
        interval: '1m',
        input_series: [
          { series: `galera_ist_remaining_seconds{cluster="c",node="n1",rate="safe",${pod('a')}}`, values: '900-60x15' },
          { series: `galera_ist_remaining_seconds{cluster="c",node="n1",rate="likely",${pod('a')}}`, values: '1800-120x15' },
          { series: `galera_ist_remaining_bytes{cluster="c",node="n1",${pod('a')}}`, values: '15000000-1000000x15 0x5' },
          { series: `galera_ist_remaining_seconds{cluster="c",node="n2",rate="safe",${pod('a')}}`, values: '5000x20' },
          { series: `galera_ist_remaining_bytes{cluster="c",node="n2",${pod('a')}}`, values: '1000000000x20' },
          { series: `galera_ist_budget_safe_coverage{cluster="c",node="n1",${pod('a')}}`, values: '0.8x60' },
          { series: `galera_ist_budget_safe_coverage{cluster="c",node="n2",${pod('a')}}`, values: '0.97x60' },
        ],
        alert_rule_test: [
          { eval_time: '5m', alertname: 'GaleraNodeAwayISTLostSoon', exp_alerts: [] },
          {
            eval_time: '8m',
            alertname: 'GaleraNodeAwayISTLostSoon',
            exp_alerts: [{ exp_labels: { severity: 'critical', cluster: 'c', node: 'n1', rate: 'safe', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
          { eval_time: '8m', alertname: 'GaleraISTLost', exp_alerts: [] },
          { eval_time: '15m', alertname: 'GaleraNodeAwayISTLostSoon', exp_alerts: [] },
          { eval_time: '15m', alertname: 'GaleraISTLost', exp_alerts: [] },
          {
            eval_time: '17m',
            alertname: 'GaleraISTLost',
            exp_alerts: [{ exp_labels: { severity: 'warning', cluster: 'c', node: 'n1', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
          { eval_time: '20m', alertname: 'GaleraISTForecastCoverageLow', exp_alerts: [] },
          {
            eval_time: '40m',
            alertname: 'GaleraISTForecastCoverageLow',
            exp_alerts: [{ exp_labels: { severity: 'warning', cluster: 'c', node: 'n1', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }],
          },
        ],
      },
      {
        // The daemon is scraped but its last successful sample gets older and older.
        interval: '1m',
        input_series: [
          { series: `up{${pod('a')}}`, values: '1x20' },
          { series: `gcache_advisor_last_sample_timestamp_seconds{cluster="c",node="n1",${pod('a')}}`, values: '0x20' },
          { series: `gcache_advisor_last_sample_timestamp_seconds{cluster="c",node="n2",${pod('a')}}`, values: '60x20' },
        ],
        alert_rule_test: [
          { eval_time: '5m', alertname: 'GcacheAdvisorNoRecentSample', exp_alerts: [] },
          { eval_time: '15m', alertname: 'GcacheAdvisorNoRecentSample', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'ns', pod: 'a', job: 'gcache-advisor' } }] },
          { eval_time: '15m', alertname: 'GcacheAdvisorAbsent', exp_alerts: [] },
        ],
      },
      {
        interval: '1m',
        input_series: [{ series: 'up{job="something-else"}', values: '1x30' }],
        alert_rule_test: [{ eval_time: '20m', alertname: 'GcacheAdvisorAbsent', exp_alerts: [{ exp_labels: { severity: 'warning', job: 'gcache-advisor' } }] }],
      },
    ],
  };
  const out = withRulesFile(groups, (dir) => {
    fs.writeFileSync(path.join(dir, 'tests.yaml'), YAML.stringify(tests));
    return promtool(['test', 'rules', path.join(dir, 'tests.yaml')]);
  });
  assert.match(out, /SUCCESS/);
});

test("the ConfigMap's config passes the daemon's own validation with the environment of the pod", () => {
  const env = podEnvironment();
  const mountedAt = path.join(mountPathOf('config'), path.basename(configFile));
  assert.equal(env.GCACHE_ADVISOR_CONFIG, mountedAt, 'the daemon reads the config where the ConfigMap is mounted');
  const config = parseConfig(configText, mountedAt, env);

  const port = container.ports!.find((p) => p.name === 'http-metrics')!;
  assert.equal(config.http.port, port.containerPort, 'the daemon listens on the container port');
  assert.notEqual(config.http.host, '127.0.0.1', 'reachable from the pod network');
  assert.ok(config.http.token, 'a non-loopback listen address needs the API token');
  assert.equal(path.dirname(config.storage.path), mountPathOf('data'), 'the SQLite file is on the PersistentVolumeClaim');
  assert.equal(config.rules.dir, '/app/rules', 'the rules shipped in the image');
  assert.ok(config.alerting.sinks.length >= 1 && config.alerting.sinks.every((s) => s.url.reveal().startsWith('https://')), 'sink URLs from the Secret');
  // The Secret provides every variable the config names, and nothing is spare.
  const named = [...configText.matchAll(/(?:passwordEnv|tokenEnv|urlEnv|secretEnv):\s*([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  assert.deepEqual(Object.keys(secretExample.stringData ?? {}).sort(), [...new Set(named)].sort(), 'the Secret example holds exactly the variables config.yaml names');

  if ('sharding' in configSchema.shape) {
    // The shard comes from GCACHE_ADVISOR_SHARDING__INDEX / __COUNT, overrides of the config.
    const sharding = (config as unknown as { sharding: { index: number; count: number } }).sharding;
    assert.deepEqual({ index: sharding.index, count: sharding.count }, { index: 0, count: statefulSet.spec!.replicas });
  } else {
    // `sharding` is not in the config schema yet: the overrides GCACHE_ADVISOR_SHARDING__* are
    // then ignored (only a section's name counts as an override), and the config above validated
    // without them. Once the schema has it, the branch above checks that they arrive.
    assert.ok(env.GCACHE_ADVISOR_SHARDING__INDEX !== undefined && env.GCACHE_ADVISOR_SHARDING__COUNT !== undefined);
  }
});

test('the config validation rejects what the pod would reject: a missing Secret key', () => {
  const env = podEnvironment();
  delete env.GCACHE_ADVISOR_DB_PASSWORD;
  assert.throws(() => parseConfig(configText, '/etc/gcache-advisor/config.yaml', env), /GCACHE_ADVISOR_DB_PASSWORD is not set/);
});

test('one shard per replica: the index from the pod ordinal, the count equal to replicas', () => {
  const index = container.env!.find((e) => e.name === 'GCACHE_ADVISOR_SHARDING__INDEX')!;
  assert.equal(index.valueFrom?.fieldRef?.fieldPath, "metadata.labels['apps.kubernetes.io/pod-index']");
  assert.equal(Number(envValue('GCACHE_ADVISOR_SHARDING__COUNT')), statefulSet.spec!.replicas);
  assert.equal(statefulSet.spec!.replicas, 1, 'one replica by default');
  assert.equal(statefulSet.spec!.podManagementPolicy, 'Parallel');
});

test('the StatefulSet runs non-root on a read-only root filesystem, with probes, limits and its own volume', () => {
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^USER node$/m, 'the image runs as node (uid 1000 in the node images)');
  const pod = podSpec.securityContext!;
  assert.equal(pod.runAsNonRoot, true);
  assert.equal(pod.runAsUser, 1000);
  assert.equal(pod.fsGroup, 1000, 'the volume is writable by the user');
  assert.equal(pod.seccompProfile?.type, 'RuntimeDefault');
  const sc = container.securityContext!;
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.runAsNonRoot, true);
  assert.deepEqual(sc.capabilities?.drop, ['ALL']);
  assert.equal(sc.capabilities?.add, undefined);
  assert.equal(sc.seccompProfile?.type, 'RuntimeDefault');
  assert.equal(podSpec.automountServiceAccountToken, false);

  const port = container.ports!.find((p) => p.name === 'http-metrics')!;
  for (const [probe, wanted] of [
    [container.livenessProbe, '/healthz'],
    [container.readinessProbe, '/readyz'],
  ] as const) {
    assert.equal(probe?.httpGet?.path, wanted);
    assert.ok(probe!.httpGet!.port === port.name || probe!.httpGet!.port === port.containerPort, `${wanted} probes the container port`);
  }
  for (const kind of ['requests', 'limits'] as const) {
    for (const resource of ['cpu', 'memory']) assert.ok(container.resources?.[kind]?.[resource], `resources.${kind}.${resource}`);
  }

  // The SQLite file on a claim of its own per pod, where the image keeps it.
  assert.match(dockerfile, /^VOLUME \["\/var\/lib\/gcache-advisor"\]/m);
  const claim = statefulSet.spec!.volumeClaimTemplates!.find((t) => t.metadata?.name === 'data');
  assert.ok(claim?.spec?.resources?.requests?.storage, 'a volumeClaimTemplate "data" with a size');
  assert.equal(mountPathOf('data'), '/var/lib/gcache-advisor');
  // Writable places besides the claim: only an emptyDir for temporary files.
  const tmp = podSpec.volumes!.find((v) => v.name === 'tmp');
  assert.ok(tmp?.emptyDir, 'an emptyDir for /tmp');
  assert.equal(mountPathOf('tmp'), envValue('TMPDIR'));
  // The config volume is the generated ConfigMap (kustomize adds the hash to this reference).
  assert.equal(podSpec.volumes!.find((v) => v.name === 'config')?.configMap?.name, configGenerator.name);
  assert.equal(container.volumeMounts!.find((m) => m.name === 'config')?.readOnly, true);
  assert.match(String(container.image), /^[a-z0-9.-]+(\/[a-z0-9._-]+)+:[\w.-]+$/, 'an image with a tag');
});

test('the Service and ServiceMonitor reach the container port, and select the pods', () => {
  const port = container.ports!.find((p) => p.name === 'http-metrics')!;
  const podLabels = statefulSet.spec!.template.metadata!.labels!;
  assert.equal(statefulSet.spec!.serviceName, service.metadata!.name, 'the Service governs the pod DNS names');
  assert.equal(service.spec!.clusterIP, 'None', 'headless: one address per shard');
  for (const [k, v] of Object.entries(service.spec!.selector!)) assert.equal(podLabels[k], v, `the Service selects the pods by ${k}`);
  for (const [k, v] of Object.entries(statefulSet.spec!.selector.matchLabels!)) assert.equal(podLabels[k], v, `the StatefulSet selector matches its pods by ${k}`);
  const servicePort = service.spec!.ports!.find((p) => p.name === port.name);
  assert.ok(servicePort, `the Service has a port named ${port.name}`);
  assert.ok(servicePort.targetPort === port.name || servicePort.targetPort === port.containerPort, 'the Service port targets the container port');
  assert.equal(servicePort.port, port.containerPort);

  for (const [k, v] of Object.entries(serviceMonitor.spec.selector.matchLabels)) assert.equal(service.metadata!.labels![k], v, `the ServiceMonitor selects the Service by ${k}`);
  const endpoint = serviceMonitor.spec.endpoints[0]!;
  assert.equal(endpoint.port, servicePort.name, 'the ServiceMonitor scrapes the Service port by name');
  assert.equal(endpoint.path, '/metrics');
});
