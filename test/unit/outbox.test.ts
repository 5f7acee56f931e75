/**
 * The outbox under faults, on real parts: a real SQLite file locked by a second connection, real
 * HTTP receivers on 127.0.0.1, and a TCP listener that accepts connections and never answers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/store.ts';
import { Outbox } from '../../src/alerts/outbox.ts';
import type { SinkTarget } from '../../src/alerts/sender.ts';
import { createLogger } from '../../src/log/logger.ts';
import { parseConfig } from '../../src/config/load.ts';
import { RuleEngine } from '../../src/rules/engine.ts';
import { loadRules } from '../../src/rules/rule-file.ts';
import { analyzeCluster, type ClusterAnalysis } from '../../src/analysis/cluster-analysis.ts';
import { CircuitBreaker } from '../../src/alerts/backoff.ts';

const closers: Array<() => unknown> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function tempDb(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-outbox-'));
  closers.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'advisor.db');
}

interface Received {
  key: string;
  body: any;
}

/** A real HTTP receiver; `status` decides each answer. */
async function receiver(status: () => number = () => 200): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ key: String(req.headers['idempotency-key']), body: JSON.parse(body) });
      res.statusCode = status();
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, received };
}

/**
 * Accepts TCP connections and never answers a byte. Counts the requests it is sent (HTTP
 * clients may open spare connections, so connections are not attempts).
 */
async function blackHole(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d) => (requests += (d.toString('latin1').match(/^POST /gm) ?? []).length));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, requests: () => requests };
}

function sink(name: string, type: SinkTarget['type'], url: string, timeoutMs = 300): SinkTarget {
  return { name, type, url, hmacSecret: null, timeoutMs, firingHoldMs: 240_000 };
}

function logCapture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('a store locked by another connection neither crashes the outbox nor loses the notification', async () => {
  const file = tempDb();
  const store = new Store(file);
  closers.push(() => store.close());
  const rx = await receiver();
  store.enqueue({ sink: 'wh', alertId: 1, kind: 'firing', idempotencyKey: 'k-locked', payload: { n: 1 }, now: Date.now() });
  const { lines, log } = logCapture();
  const outbox = new Outbox(store, new Map([['wh', sink('wh', 'webhook', rx.url)]]), log, { expireAfterMs: 86400_000, pollMs: 100 });
  const rejections: unknown[] = [];
  const onRejection = (r: unknown) => rejections.push(r);
  process.on('unhandledRejection', onRejection);
  const other = new Database(file);
  other.prepare('BEGIN IMMEDIATE').run();
  try {
    await outbox.tick(); // must resolve, not reject
    await outbox.tick();
    assert.ok(
      lines.some((l) => l.includes('outbox: store error') && l.includes('SQLITE_BUSY')),
      lines.join('\n'),
    );
    assert.equal(store.writeHealth().ok, false);
    assert.equal(store.writeHealth().reason, 'SQLITE_BUSY');
  } finally {
    other.prepare('ROLLBACK').run();
    other.close();
  }
  outbox.start();
  closers.push(() => outbox.stop());
  await until('delivery after the lock is released', () => store.notifications().some((n) => n.deliveredAt !== null), 40_000);
  assert.ok(
    rx.received.every((r) => r.key === 'k-locked'),
    'every attempt carries the same idempotency key',
  );
  assert.equal(store.writeHealth().ok, true);
  process.off('unhandledRejection', onRejection);
  assert.deepEqual(rejections, []);
});

test('a sink that accepts and never answers does not hold up the other sinks; its circuit opens', async () => {
  const store = new Store(tempDb());
  closers.push(() => store.close());
  const hole = await blackHole();
  const slack = await receiver();
  const hook = await receiver();
  const now = Date.now();
  for (let i = 0; i < 10; i++) store.enqueue({ sink: 'am', alertId: i, kind: 'firing', idempotencyKey: `am-${i}`, payload: { labels: { alertname: `A${i}` } }, now });
  store.enqueue({ sink: 'slack', alertId: 1, kind: 'firing', idempotencyKey: 'slack-1', payload: { text: 'x' }, now });
  store.enqueue({ sink: 'wh', alertId: 1, kind: 'firing', idempotencyKey: 'wh-1', payload: { x: 1 }, now });
  const { lines, log } = logCapture();
  const outbox = new Outbox(
    store,
    new Map([
      ['am', sink('am', 'alertmanager', hole.url, 2000)],
      ['slack', sink('slack', 'slack', slack.url)],
      ['wh', sink('wh', 'webhook', hook.url)],
    ]),
    log,
    { expireAfterMs: 86400_000, pollMs: 50, breaker: { failuresToOpen: 3, openMs: 60_000, maxOpenMs: 60_000 } },
  );
  const started = Date.now();
  outbox.start();
  closers.push(() => outbox.stop());
  await until('slack and webhook delivered', () => slack.received.length === 1 && hook.received.length === 1);
  const tookMs = Date.now() - started;
  assert.ok(tookMs < 1500, `the other sinks were served in ${tookMs} ms, less than one Alertmanager timeout (2 s)`);
  // The hanging sink: each attempt times out; after 3 the circuit opens and no more are made.
  await until('circuit open', () => lines.some((l) => l.includes('circuit open')), 15_000);
  const attempts = hole.requests();
  await sleep(2500);
  assert.equal(hole.requests(), attempts, 'no attempt while the circuit is open');
  assert.ok(attempts >= 3 && attempts <= 4, `${attempts} attempts before the circuit opened\n${lines.join('\n')}`);
  assert.equal(outbox.stats().get('am')!.circuit, 'open');
  const am = store.notifications(50).filter((n) => n.sink === 'am');
  assert.equal(am.filter((n) => n.deliveredAt === null && n.expiredAt === null).length, 10, 'nothing lost: every Alertmanager notification still waits');
  assert.ok(
    am.filter((n) => n.attempts > 0).every((n) => /timeout/.test(n.lastError ?? '')),
    'the failures are timeouts',
  );
});

test('stop() returns promptly while a send hangs, and the notification stays queued', async () => {
  const store = new Store(tempDb());
  closers.push(() => store.close());
  const hole = await blackHole();
  store.enqueue({ sink: 'am', alertId: 1, kind: 'firing', idempotencyKey: 'stop-1', payload: { labels: {} }, now: Date.now() });
  const outbox = new Outbox(store, new Map([['am', sink('am', 'alertmanager', hole.url, 30_000)]]), logCapture().log, { expireAfterMs: 86400_000 });
  outbox.start();
  await until('the send is in flight', () => hole.requests() === 1);
  const t = Date.now();
  await outbox.stop();
  assert.ok(Date.now() - t < 1000, `stopped in ${Date.now() - t} ms`);
  const [n] = store.notifications();
  assert.equal(n!.deliveredAt, null);
  assert.equal(n!.expiredAt, null);
});

test('expiry is checked first: a notification parked far in the future still expires on time', async () => {
  const store = new Store(tempDb());
  closers.push(() => store.close());
  const old = Date.now() - 2 * 86400_000;
  store.enqueue({ sink: 'wh', alertId: 1, kind: 'firing', idempotencyKey: 'parked', payload: {}, now: old });
  const [row] = store.notifications();
  store.markFailed(row!.id, 'HTTP 429', Date.now() + 30 * 86400_000);
  const outbox = new Outbox(store, new Map([['wh', sink('wh', 'webhook', 'http://127.0.0.1:9')]]), logCapture().log, { expireAfterMs: 86400_000 });
  await outbox.tick();
  assert.notEqual(store.notifications()[0]!.expiredAt, null);
});

// --- the rule engine's side: what it queues ---------------------------------------------------

function engineFixture(sinks: string, ruleExtra = '') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-rules-'));
  closers.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'missed.yaml'), 'name: NodeMissed\ncondition: missed_cycles >= 1\nseverity: critical\nsummary: "{{ node }} missed"\n' + ruleExtra);
  const config = parseConfig(
    `clusters:
  - name: c1
    connection: { user: u, passwordEnv: PW }
    nodes: [{ name: n1, host: 127.0.0.1 }]
rules: { dir: ${dir} }
alerting:
  alertmanagerResend: 1m
  sinks:
${sinks}
`,
    'engine-test.yaml',
    { PW: 'x' },
  );
  const file = tempDb();
  const store = new Store(file);
  closers.push(() => store.close());
  const engine = new RuleEngine(config, store, logCapture().log, loadRules(dir));
  const analysis = (now: number): ClusterAnalysis =>
    analyzeCluster({
      cluster: 'c1',
      now,
      targetWindowSeconds: 3600,
      shortHorizonSeconds: 300,
      longHorizonSeconds: 86400,
      nodes: [{ name: 'n1', points: [], reachable: false, localState: null, clusterStatus: null, segment: null, settings: null, minutes: [], purgesSeen: 0 }],
    });
  const evaluate = (now: number, missed: number) => engine.evaluate([analysis(now)], () => ({ missedCycles: missed, purgesLastHour: 0, maintenanceAllowanceSeconds: 1800 }), now);
  return { config, file, store, engine, evaluate };
}

test('at most one Alertmanager re-post waits per alert, however long Alertmanager hangs', () => {
  const { store, evaluate } = engineFixture('    - { name: am, type: alertmanager, url: "http://127.0.0.1:9" }');
  const t0 = Date.now();
  for (let minute = 0; minute <= 60; minute++) evaluate(t0 + minute * 60_000, 1);
  const waiting = store.notifications(1000).filter((n) => n.sink === 'am' && n.deliveredAt === null && n.expiredAt === null);
  assert.equal(waiting.length, 1, `one notification waits, not ${waiting.length}`);
});

test('a resolution expires the firing notifications still waiting: the receiver never sees firing after resolved', async () => {
  let answer = 503;
  const rx = await receiver(() => answer);
  const { store, evaluate } = engineFixture(`    - { name: wh, type: webhook, url: "${rx.url}" }`);
  const outbox = new Outbox(store, new Map([['wh', sink('wh', 'webhook', rx.url)]]), logCapture().log, { expireAfterMs: 86400_000, pollMs: 50 });
  closers.push(() => outbox.stop());
  evaluate(Date.now(), 1); // fires
  await outbox.tick(); // 503: the firing notification waits for its retry
  assert.equal(rx.received.length, 1);
  evaluate(Date.now(), 0); // resolves
  answer = 200;
  outbox.start();
  await until('the resolution is delivered', () => rx.received.some((r) => r.body.status === 'resolved'));
  await sleep(2500); // past the firing notification's backoff
  const statuses = rx.received.map((r) => r.body.status);
  assert.deepEqual(statuses, ['firing', 'resolved'], `received ${statuses.join(', ')}`);
  const firing = store.notifications().find((n) => n.kind === 'firing')!;
  assert.notEqual(firing.expiredAt, null);
});

test('a store that refuses writes: alerts go on from memory, and their rows and notifications are written in order once it takes writes again', () => {
  const { file, store, engine, evaluate } = engineFixture(
    '    - { name: wh, type: webhook, url: "http://127.0.0.1:9" }\n    - { name: am, type: alertmanager, url: "http://127.0.0.1:9" }',
  );
  const other = new Database(file);
  closers.push(() => other.close());
  const t0 = Date.now();
  other.exec('BEGIN IMMEDIATE'); // a full disk or a held lock: every write fails

  assert.throws(() => evaluate(t0, 1), /locked|busy/i, 'the caller hears of the failure (the cycle logs it)');
  const [firing] = engine.openAlerts();
  assert.equal(firing?.state, 'firing', 'the alert fires from memory');
  assert.equal(firing?.id, -1, 'not saved yet');
  assert.equal(engine.unsavedCount, 1);
  for (let minute = 1; minute <= 10; minute++) assert.throws(() => evaluate(t0 + minute * 60_000, 1), /locked|busy/i);
  assert.throws(() => evaluate(t0 + 11 * 60_000, 0), /locked|busy/i);
  assert.equal(engine.openAlerts().length, 0, 'resolved from memory');

  other.exec('ROLLBACK');
  const t1 = t0 + 12 * 60_000;
  evaluate(t1, 0);
  assert.equal(engine.unsavedCount, 0, 'everything written');
  const [row, ...more] = store.alertHistory(0, 10);
  assert.equal(more.length, 0, 'one row: the retries never inserted it twice');
  assert.equal(row!.state, 'resolved');
  assert.equal(row!.firedAt, t0);
  assert.equal(row!.resolvedAt, t0 + 11 * 60_000);
  const notes = store
    .notifications(100)
    .sort((a, b) => a.id - b.id)
    .map((n) => `${n.sink} ${n.kind} ${n.expiredAt === null ? 'waiting' : 'expired'} ${n.idempotencyKey}`);
  assert.deepEqual(notes, [
    `wh firing expired gcache-advisor/wh/${row!.id}/firing`,
    // no re-post behind it: at most one firing notification waits per alert and sink
    `am firing expired gcache-advisor/am/${row!.id}/firing`,
    `wh resolved waiting gcache-advisor/wh/${row!.id}/resolved`,
    `am resolved waiting gcache-advisor/am/${row!.id}/resolved`,
  ]);
});

test('while the store refuses writes, notices older than expireAfter are dropped, and a stop writes what is queued', () => {
  const { file, store, engine, evaluate } = engineFixture('    - { name: wh, type: webhook, url: "http://127.0.0.1:9" }');
  const other = new Database(file);
  closers.push(() => other.close());
  const t0 = Date.now();
  other.exec('BEGIN IMMEDIATE');
  assert.throws(() => evaluate(t0, 1), /locked|busy/i); // fires
  const later = t0 + 86400_000 + 120_000; // past alerting.expireAfter (1 day by default)
  assert.throws(() => evaluate(later, 0), /locked|busy/i); // resolves
  other.exec('ROLLBACK');
  engine.flush(later); // the daemon's stop
  assert.equal(engine.unsavedCount, 0);
  assert.equal(store.alertHistory(0, 10)[0]?.state, 'resolved');
  const kinds = store.notifications(10).map((n) => n.kind);
  assert.deepEqual(kinds, ['resolved'], 'the day-old firing notice was dropped, not queued to expire');
});

test('a pending alert dropped before the store could take it leaves no row', () => {
  const { file, store, engine, evaluate } = engineFixture('    []', 'for: 5m\n');
  const other = new Database(file);
  closers.push(() => other.close());
  const t0 = Date.now();
  other.exec('BEGIN IMMEDIATE');
  assert.throws(() => evaluate(t0, 1), /locked|busy/i);
  assert.equal(engine.openAlerts()[0]?.state, 'pending');
  other.exec('ROLLBACK');
  evaluate(t0 + 60_000, 0); // the condition went away before its 5 minutes
  assert.equal(engine.unsavedCount, 0);
  assert.equal(store.alertHistory(0, 10).length, 0, 'nothing was ever written of it');
  assert.equal(store.notifications().length, 0);
});

test('alerts of a cluster removed from the config resolve', () => {
  const { config, store, engine, evaluate } = engineFixture('    []');
  evaluate(Date.now(), 1);
  assert.equal(engine.openAlerts().length, 1);
  // The same database, a config without the cluster: the alert has nothing left to hold it.
  const without = { ...config, clusters: [{ ...config.clusters[0]!, name: 'other' }] };
  const next = new RuleEngine(without, store, logCapture().log, engine.ruleList as never);
  next.evaluate([], () => ({ missedCycles: 0, purgesLastHour: 0, maintenanceAllowanceSeconds: 0 }), Date.now());
  assert.equal(next.openAlerts().length, 0);
  assert.equal(store.alertHistory(0, 10)[0]!.state, 'resolved');
});

test('circuit breaker: opens after the failures, half-opens after the pause, doubles on a failed trial', () => {
  const b = new CircuitBreaker({ failuresToOpen: 2, openMs: 1000, maxOpenMs: 3000 });
  assert.equal(b.failure(0), null);
  assert.equal(b.failure(0), 1000);
  assert.equal(b.blockedUntil(500), 1000);
  assert.equal(b.blockedUntil(1000), null);
  assert.equal(b.failure(1000), 3000, 'a failed trial reopens for twice as long');
  assert.equal(b.failure(3000), 6000, 'capped at maxOpenMs');
  assert.equal(b.success(), true);
  assert.equal(b.blockedUntil(3000), null);
});
