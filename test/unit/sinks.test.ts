/**
 * The sink registry: one list of types, from which the config takes its choices and checks, and
 * a definition interface that is all the sender needs to reach a receiver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { orList, SINK_TYPES, sinkDefinition, sinkTypesWhere } from '../../src/sinks/registry.ts';
import { defineSink, type SinkDefinition } from '../../src/sinks/definition.ts';
import { signBody, SIGNATURE_HEADER } from '../../src/sinks/webhook.ts';
import { sendAs } from '../../src/alerts/sender.ts';
import { parseConfig, ConfigError } from '../../src/config/load.ts';

const SINKS_DIR = new URL('../../src/sinks/', import.meta.url);
/** The folder's modules that are not a sink type. */
const NOT_A_TYPE = new Set(['definition.ts', 'registry.ts', 'view.ts']);

function isDefinition(value: unknown): value is SinkDefinition {
  const d = value as Partial<SinkDefinition> | null;
  return typeof d?.type === 'string' && typeof d.payload === 'function' && typeof d.request === 'function';
}

test('the registry lists every sink module once, and each module defines one type', async () => {
  const modules = fs.readdirSync(SINKS_DIR).filter((f) => f.endsWith('.ts') && !NOT_A_TYPE.has(f));
  assert.ok(modules.length >= 3, modules.join(', '));
  assert.equal(new Set(SINK_TYPES).size, SINK_TYPES.length, `a type listed twice: ${SINK_TYPES.join(', ')}`);
  const defined: string[] = [];
  for (const file of modules) {
    const exported = Object.values(await import(new URL(file, SINKS_DIR).href)).filter(isDefinition);
    assert.equal(exported.length, 1, `${file} exports ${exported.length} sink definitions`);
    const definition = exported[0]!;
    assert.ok((SINK_TYPES as readonly string[]).includes(definition.type), `${file} (type ${definition.type}) is not in the registry`);
    assert.equal(sinkDefinition(definition.type as (typeof SINK_TYPES)[number]), definition, `the registry's ${definition.type} is ${file}'s`);
    defined.push(definition.type);
  }
  assert.deepEqual([...defined].sort(), [...SINK_TYPES].sort());
});

const base = `
clusters:
  - name: prod
    connection: { user: advisor, passwordEnv: GA_PW }
    nodes: [{ name: db1, host: 10.0.0.1 }]
`;
const env = { GA_PW: 'hunter2-secret', SINK_KEY: 'k3y-secret-value' };
const withSink = (fields: string) => `${base}alerting:\n  sinks:\n    - { name: s, url: "http://127.0.0.1:9", ${fields} }\n`;

function configProblem(yaml: string): string {
  try {
    parseConfig(yaml, 'test.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

test("the config accepts exactly the registry's types, and a refusal names them all", () => {
  for (const type of SINK_TYPES) assert.equal(parseConfig(withSink(`type: ${type}`), 'test.yaml', env).alerting.sinks[0]!.type, type);
  for (const type of ['pagerduty', 'Slack', 'WEBHOOK', '']) {
    const message = configProblem(withSink(`type: "${type}"`));
    assert.match(message, /alerting\.sinks\[0\]\.type: expected /, type);
    assert.ok(message.endsWith(`expected ${orList(SINK_TYPES)}`), message);
    for (const known of SINK_TYPES) assert.ok(message.includes(known), `${known} missing from: ${message}`);
  }
  assert.equal(orList(['a']), 'a');
  assert.equal(orList(['a', 'b', 'c']), 'a, b or c');
});

test('a secret on a type that does not sign is refused, naming the key and the types that sign', () => {
  const signers = sinkTypesWhere('signs');
  assert.ok(signers.length > 0 && signers.length < SINK_TYPES.length);
  for (const type of SINK_TYPES) {
    for (const key of ['secretEnv: SINK_KEY', 'secretFile: /nonexistent/key']) {
      const yaml = withSink(`type: ${type}, ${key}`);
      if (signers.includes(type)) {
        if (key.startsWith('secretEnv')) assert.equal(parseConfig(yaml, 'test.yaml', env).alerting.sinks[0]!.hmacSecret!.reveal(), env.SINK_KEY);
        continue;
      }
      const message = configProblem(yaml);
      assert.match(message, new RegExp(`alerting\\.sinks\\[0\\]\\.${key.split(':')[0]}: only a ${orList(signers)} sink signs its body`), message);
      assert.doesNotMatch(message, /k3y-secret-value/);
    }
  }
});

test('each registered type makes its request from the stored payload at send time', () => {
  const now = Date.UTC(2026, 10, 22, 10, 0, 0);
  const destination = { url: 'http://am.example.invalid:9093/', secret: null, firingHoldMs: 240_000 };
  const alert = { labels: { alertname: 'A' }, annotations: {}, startsAt: '2026-11-22T09:00:00.000Z', generatorURL: '' };

  const firing = sinkDefinition('alertmanager').request({ kind: 'firing', payload: alert, now }, destination);
  assert.equal(firing.url, 'http://am.example.invalid:9093/api/v2/alerts');
  assert.deepEqual(JSON.parse(firing.body), [{ ...alert, endsAt: '2026-11-22T10:04:00.000Z' }], 'a fresh endsAt, hold ahead of this attempt');
  const resolved = { ...alert, endsAt: '2026-11-22T09:30:00.000Z' };
  assert.deepEqual(JSON.parse(sinkDefinition('alertmanager').request({ kind: 'resolved', payload: resolved, now }, destination).body), [resolved]);

  const payload = { version: '4', alerts: [] };
  const unsigned = sinkDefinition('webhook').request({ kind: 'firing', payload, now }, { ...destination, url: 'http://hook.example.invalid/x' });
  assert.deepEqual(unsigned, { url: 'http://hook.example.invalid/x', body: JSON.stringify(payload), headers: {} });
  const signed = sinkDefinition('webhook').request({ kind: 'firing', payload, now }, { ...destination, secret: 'k3y' });
  assert.equal(signed.headers[SIGNATURE_HEADER], signBody(signed.body, 'k3y'));

  const chat = sinkDefinition('slack').request({ kind: 'firing', payload: { text: 'hi' }, now }, { ...destination, url: 'https://hooks.example.invalid/T/B/X' });
  assert.deepEqual(chat, { url: 'https://hooks.example.invalid/T/B/X', body: '{"text":"hi"}', headers: {} });
});

test('the behaviour flags: Alertmanager is re-posted while firing and gets no reminders; the others get reminders', () => {
  const flags = (type: (typeof SINK_TYPES)[number]) => {
    const { resendWhileFiring, repeats, signs } = sinkDefinition(type);
    return { resendWhileFiring, repeats, signs };
  };
  assert.deepEqual(flags('alertmanager'), { resendWhileFiring: true, repeats: false, signs: false });
  assert.deepEqual(flags('slack'), { resendWhileFiring: false, repeats: true, signs: false });
  assert.deepEqual(flags('webhook'), { resendWhileFiring: false, repeats: true, signs: true });
});

/** A type that no module registers: its definition alone must be enough for the sender. */
const toy = defineSink({
  type: 'toy',
  payload: (view, sinkName) => ({ said: view.alertname, to: sinkName }),
  request: ({ kind, payload, now }, { url, secret }) => ({
    url: `${url}/toy/${kind}`,
    body: JSON.stringify({ payload, at: now }),
    headers: { 'x-toy-secret-length': String(secret?.length ?? 0) },
  }),
  resendWhileFiring: false,
  repeats: false,
  signs: true,
});

test('a definition built here, not registered, is all the sender needs to reach a real receiver', async () => {
  const received: Array<{ path: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const payload = toy.payload(
      { alertname: 'Toy', severity: 'info', labels: {}, annotations: {}, status: 'firing', startsAt: 0, endsAt: null, fingerprint: 'f', idempotencyKey: 'k' },
      'play',
    );
    const target = { name: 'play', url, hmacSecret: 'four', timeoutMs: 5000, firingHoldMs: 0 };
    const result = await sendAs(toy, target, 'resolved', payload, 'gcache-advisor/play/1/resolved', 1234);
    assert.deepEqual(result, { ok: true });
    assert.equal(received.length, 1);
    const [got] = received;
    assert.equal(got!.path, '/toy/resolved');
    assert.deepEqual(JSON.parse(got!.body), { payload: { said: 'Toy', to: 'play' }, at: 1234 });
    assert.equal(got!.headers['x-toy-secret-length'], '4');
    // The headers every sink gets come from the sender, whatever the type.
    assert.equal(got!.headers['content-type'], 'application/json');
    assert.equal(got!.headers['idempotency-key'], 'gcache-advisor/play/1/resolved');
    assert.equal(got!.headers['user-agent'], 'gcache-advisor');
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
