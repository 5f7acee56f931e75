/**
 * The sampler against real TCP listeners on 127.0.0.1 that never answer, hang up, or are not
 * there at all: how many sockets it opens at once, and how it leaves failing nodes alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import diagnostics from 'node:diagnostics_channel';
import { parseConfig } from '../../src/config/load.ts';
import { Store } from '../../src/store/store.ts';
import { Sampler } from '../../src/sampler/sampler.ts';
import { createLogger } from '../../src/log/logger.ts';

const quietLog = createLogger({ level: 'error', write: () => undefined });
const tmpDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-fleet-')), 'ga.db');

async function listen(onConnection: (socket: net.Socket) => void): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function fleetConfig(nodes: string[], sampling: string) {
  const yaml = `clusters:
  - name: fleet
    connection: { user: advisor, passwordEnv: PW }
    nodes:
${nodes.map((n) => `      - ${n}`).join('\n')}
sampling: ${sampling}
`;
  return parseConfig(yaml, 'fleet.yaml', { PW: 'fleet-password' });
}

test('200 nodes that never answer, concurrency 16: never more than 16 sockets open at once', async (t) => {
  const silent = await listen(() => undefined);
  t.after(() => silent.close());
  // Counted on the client side, when each socket is created: those not yet destroyed are open.
  const clientSockets: net.Socket[] = [];
  let peak = 0;
  const onSocket = (message: unknown) => {
    const open = clientSockets.filter((s) => !s.destroyed).length + 1;
    peak = Math.max(peak, open);
    clientSockets.push((message as { socket: net.Socket }).socket);
  };
  diagnostics.subscribe('net.client.socket', onSocket);
  t.after(() => diagnostics.unsubscribe('net.client.socket', onSocket));

  const config = fleetConfig(
    Array.from({ length: 200 }, (_, i) => `{ name: n${i}, host: 127.0.0.1, port: ${silent.port} }`),
    '{ timeout: 200ms, concurrency: 16 }',
  );
  const store = new Store(tmpDb());
  t.after(() => store.close());
  const sampler = new Sampler(config, store, quietLog);
  const result = (await sampler.runCycle())!;
  await sampler.stop();

  assert.equal(result.outcomes.length, 200);
  assert.ok(
    result.outcomes.every((o) => !o.ok && o.failure.reason === 'timeout'),
    'every node timed out',
  );
  assert.equal(clientSockets.length, 200, 'every node was dialled once');
  assert.equal(silent.accepted(), 200);
  assert.equal(peak, 16, `at most 16 open at once (peak ${peak})`);
  // 200 / 16 = 13 rounds of one 200 ms timeout each; all at once would be one round.
  assert.ok(result.durationMs >= 12 * 200, `took ${result.durationMs} ms`);
});

test('a failing node is not contacted again before its backoff expires, but is reported failing every cycle', async (t) => {
  const hangup = await listen((socket) => socket.destroy());
  t.after(() => hangup.close());
  const refusedPort = await closedPort();
  const config = fleetConfig(
    [`{ name: hangup, host: 127.0.0.1, port: ${hangup.port} }`, `{ name: refused, host: 127.0.0.1, port: ${refusedPort} }`],
    '{ schedule: "*/10 * * * * *", timeout: 1s }',
  );
  const store = new Store(tmpDb());
  t.after(() => store.close());
  let clock = Date.UTC(2026, 10, 26, 12, 0, 0);
  const t0 = clock;
  // random 0.5: no jitter, so the pauses are exactly 10 s, 20 s, 40 s...
  const sampler = new Sampler(config, store, quietLog, { now: () => clock, random: () => 0.5 });
  t.after(() => sampler.stop());

  const cycleAt = async (secondsAfterStart: number) => {
    clock = t0 + secondsAfterStart * 1000;
    const result = (await sampler.runCycle())!;
    store.recordCycle(result.outcomes); // what the cycle pipeline stores
    const failures = (node: string) => store.failures('fleet', node, 0, Number.MAX_SAFE_INTEGER).length;
    return { result, byNode: new Map(result.outcomes.map((o) => [o.node, o])), stored: { hangup: failures('hangup'), refused: failures('refused') } };
  };

  const first = await cycleAt(0);
  const reasons = { hangup: 'unreachable', refused: 'unreachable' };
  for (const node of ['hangup', 'refused'] as const) {
    const o = first.byNode.get(node)!;
    assert.ok(!o.ok);
    assert.equal(o.failure.reason, reasons[node]);
    assert.equal(o.consecutiveFailures, 1);
    assert.equal(o.backingOff, undefined);
  }
  assert.equal(hangup.accepted(), 1);
  assert.deepEqual(first.stored, { hangup: 1, refused: 1 });

  // 5 s later (a manual cycle): within the 10 s pause. Not dialled, nothing stored, still reported.
  const second = await cycleAt(5);
  assert.equal(hangup.accepted(), 1, 'not contacted during the backoff');
  assert.deepEqual(second.stored, { hangup: 1, refused: 1 }, 'no failure row for an attempt not made');
  for (const node of ['hangup', 'refused'] as const) {
    const o = second.byNode.get(node)!;
    assert.ok(!o.ok);
    assert.equal(o.failure.reason, reasons[node], 'the reason of the last real failure');
    assert.match(o.failure.message, /^not contacted: backing off after 1 failed attempt until 2026-11-26T12:00:10\.000Z; last failure: /);
    assert.equal(o.consecutiveFailures, 2, '"not sampled for N cycles" keeps counting');
    assert.equal(o.backingOff, true);
    assert.equal(o.takenAt, t0 + 5000);
  }

  // At 10 s the pause is over: tried again, fails again, and the next pause is 20 s.
  const third = await cycleAt(10);
  assert.equal(hangup.accepted(), 2);
  assert.deepEqual(third.stored, { hangup: 2, refused: 2 });
  assert.equal(third.byNode.get('refused')!.ok, false);
  assert.equal((third.byNode.get('refused') as { consecutiveFailures: number }).consecutiveFailures, 3);

  for (const s of [20, 29]) {
    const skipped = await cycleAt(s);
    assert.equal(hangup.accepted(), 2, `not contacted at ${s} s`);
    assert.deepEqual(skipped.stored, { hangup: 2, refused: 2 });
    assert.match((skipped.byNode.get('hangup') as { failure: { message: string } }).failure.message, /backing off after 2 failed attempts until 2026-11-26T12:00:30\.000Z/);
  }
  const fifth = await cycleAt(30);
  assert.equal(hangup.accepted(), 3, 'tried again when the 20 s pause ended');
  assert.equal((fifth.byNode.get('hangup') as { consecutiveFailures: number }).consecutiveFailures, 6);
});
