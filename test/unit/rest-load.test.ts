/**
 * The fleet benchmark's REST load runs in a process of its own; its options (a fleet's whole node
 * list) must reach it whatever their size: 5,000 nodes are more than one argument may hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRestLoad } from '../../tools/fleet/rest-load.ts';

test('the REST load process takes a 5,000-node list and reports what it measured', async (t) => {
  const paths = new Set<string>();
  const server = http.createServer((req, res) => {
    paths.add(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const nodes = Array.from({ length: 5000 }, (_, i) => ({ cluster: `cluster-with-a-long-name-${Math.floor(i / 3)}`, name: `node-${i % 3}` }));
  assert.ok(JSON.stringify(nodes).length > 128 * 1024, 'more than one argument may hold');
  const load = startRestLoad({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, nodes, ratePerSecond: 50, durationSeconds: 1 });
  const figures = await load.done;
  assert.ok(figures.requests >= 20, `${figures.requests} requests`);
  assert.equal(figures.non2xx, 0);
  assert.equal(figures.errors, 0);
  assert.ok(
    [...paths].every((p) => /^\/api\/v1\/clusters\/cluster-with-a-long-name-\d+\/nodes\/node-\d\/window$/.test(p)),
    [...paths].slice(0, 3).join(' '),
  );
});
