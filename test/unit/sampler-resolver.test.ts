import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import dns from 'node:dns';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostResolver } from '../../src/sampler/host-resolver.ts';
import { NodeReader } from '../../src/sampler/node-reader.ts';
import { classifyFailure } from '../../src/sampler/failure.ts';
import { parseConfig } from '../../src/config/load.ts';

/** A resolver whose lookups are counted; `answer` can be changed to play a node that moved. */
function countingLookup() {
  const state = { calls: 0, answer: '10.0.0.1' };
  const lookup = async (_host: string) => {
    state.calls++;
    return { address: state.answer };
  };
  return { state, lookup };
}

test('a name is looked up once per TTL, not once per connection', async () => {
  let clock = 0;
  const { state, lookup } = countingLookup();
  const resolver = new HostResolver({ ttlMs: 60_000, lookup, now: () => clock });
  for (let i = 0; i < 10; i++) assert.equal(await resolver.resolve('db1.example'), '10.0.0.1');
  assert.equal(state.calls, 1);
  clock = 59_999;
  await resolver.resolve('db1.example');
  assert.equal(state.calls, 1, 'still within the TTL');
  clock = 60_000;
  state.answer = '10.0.0.2';
  assert.equal(await resolver.resolve('db1.example'), '10.0.0.2', 'looked up again after the TTL');
  assert.equal(state.calls, 2);
});

test('a connection failure forgets the address: the next connection resolves again', async () => {
  const { state, lookup } = countingLookup();
  const resolver = new HostResolver({ lookup, now: () => 0 });
  await resolver.resolve('db1.example');
  state.answer = '10.0.0.9';
  resolver.forget('db1.example');
  assert.equal(await resolver.resolve('db1.example'), '10.0.0.9');
  assert.equal(state.calls, 2);
});

test('callers asking at the same time share one lookup; IP addresses are never looked up', async () => {
  let calls = 0;
  const resolver = new HostResolver({
    lookup: async () => {
      calls++;
      await sleep(20);
      return { address: '10.0.0.3' };
    },
  });
  const all = await Promise.all(Array.from({ length: 50 }, () => resolver.resolve('db3.example')));
  assert.ok(all.every((a) => a === '10.0.0.3'));
  assert.equal(calls, 1);
  assert.equal(await resolver.resolve('192.0.2.7'), '192.0.2.7');
  assert.equal(await resolver.resolve('::1'), '::1');
  assert.equal(calls, 1);
});

test('a lookup that hangs gives up after its own timeout, as a timeout', async () => {
  const resolver = new HostResolver({ timeoutMs: 50, lookup: () => new Promise(() => undefined) });
  const err = await resolver.resolve('hung.example').catch((e: unknown) => e);
  assert.equal(classifyFailure(err).reason, 'timeout');
  assert.match(classifyFailure(err).message, /resolving hung\.example took longer than 0\.05 s/);
});

test('the real resolver: localhost resolves, and an unknown name is unreachable', async () => {
  const resolver = new HostResolver();
  const expected = (await dns.promises.lookup('localhost')).address;
  assert.equal(await resolver.resolve('localhost'), expected);
  const err = await resolver.resolve('no-such-host.invalid').catch((e: unknown) => e);
  assert.equal(classifyFailure(err).reason, 'unreachable');
});

test("a slow lookup does not count against the node's query deadline", async (t) => {
  // A server that accepts and hangs up at once: the read fails as "unreachable" quickly. With a
  // 300 ms lookup and a 200 ms deadline, counting the lookup would make it a timeout instead.
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const config = parseConfig(`clusters: [{ name: c, nodes: [{ name: n, host: slow.example, port: ${port}, user: u, passwordEnv: PW }] }]`, 'test.yaml', { PW: 'pw-for-test' });
  let lookups = 0;
  const resolver = new HostResolver({
    timeoutMs: 2_000,
    lookup: async () => {
      lookups++;
      await sleep(300);
      return { address: '127.0.0.1' };
    },
  });
  const reader = new NodeReader(config.clusters[0]!.nodes[0]!, 200, resolver);
  const started = Date.now();
  const failure = classifyFailure(await reader.readStatus().catch((e: unknown) => e));
  assert.equal(failure.reason, 'unreachable', failure.message);
  assert.ok(Date.now() - started >= 300, 'the lookup did run');
  await reader.readStatus().catch(() => undefined);
  assert.equal(lookups, 2, 'the failed connection made the next one resolve again');
  await reader.close();
});
