/** Sharding: every cluster in exactly one shard, the same one after a restart, set from the environment as a StatefulSet would. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, shardOf } from '../../src/config/load.ts';

const fleet = (n: number) =>
  `clusters:\n${Array.from({ length: n }, (_, i) => `  - { name: cluster-${i}, connection: { user: u, passwordEnv: PW }, nodes: [{ name: db1, host: 10.0.${i >> 8}.${i & 255} }] }`).join('\n')}\n`;

test('two shards cover every cluster exactly once, and a reload gives the same assignment', () => {
  const text = fleet(334);
  const shard = (index: number) => parseConfig(text, 'fleet.yaml', { PW: 'x', GCACHE_ADVISOR_SHARDING__INDEX: String(index), GCACHE_ADVISOR_SHARDING__COUNT: '2' });
  const [a, b] = [shard(0), shard(1)];
  const names = [...a.clusters, ...b.clusters].map((c) => c.name).sort();
  assert.deepEqual(names, Array.from({ length: 334 }, (_, i) => `cluster-${i}`).sort(), 'every cluster once');
  assert.ok(a.clusters.length > 120 && b.clusters.length > 120, `balanced enough: ${a.clusters.length} / ${b.clusters.length}`);
  assert.deepEqual(
    shard(0).clusters.map((c) => c.name),
    a.clusters.map((c) => c.name),
    'a restart keeps the assignment',
  );
  assert.deepEqual(a.sharding, { index: 0, count: 2, totalClusters: 334 });
});

test('the assignment depends on the name only: stable across versions of the file and orderings', () => {
  assert.equal(shardOf('prod-eu-1', 1), 0);
  const before = Array.from({ length: 50 }, (_, i) => shardOf(`c${i}`, 7));
  const after = Array.from({ length: 50 }, (_, i) => shardOf(`c${i}`, 7));
  assert.deepEqual(before, after);
  assert.ok(before.every((s) => s >= 0 && s < 7));
});

test('a bad shard setting names the key', () => {
  assert.throws(
    () => parseConfig(fleet(2), 'f.yaml', { PW: 'x', GCACHE_ADVISOR_SHARDING__INDEX: '2', GCACHE_ADVISOR_SHARDING__COUNT: '2' }),
    /sharding\.index: expected index < count/,
  );
  assert.throws(() => parseConfig(fleet(2) + 'sharding: { index: 0, count: 0 }\n', 'f.yaml', { PW: 'x' }), /sharding\.count: expected 1 or more/);
  assert.throws(() => parseConfig(fleet(2) + 'sharding: { index: -1, count: 2 }\n', 'f.yaml', { PW: 'x' }), /sharding\.index: expected 0 or more/);
});

test('without sharding, one instance takes every cluster', () => {
  const c = parseConfig(fleet(5), 'f.yaml', { PW: 'x' });
  assert.equal(c.clusters.length, 5);
  assert.deepEqual(c.sharding, { index: 0, count: 1, totalClusters: 5 });
});
