import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parseStatusRows, parseCachedDownto, StatusValueError } from '../../src/sampler/status.ts';
import { parseGcacheSettings, splitProviderOptions } from '../../src/sampler/provider-options.ts';

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/real-cluster.json', import.meta.url), 'utf8'));
type Row = { Variable_name: string; Value: string };
const withValue = (rows: Row[], name: string, value: string | undefined): Row[] =>
  value === undefined ? rows.filter((r) => r.Variable_name !== name) : rows.map((r) => (r.Variable_name === name ? { ...r, Value: value } : r));

test('status rows recorded from a real node parse into typed fields', () => {
  const s = parseStatusRows(fixture.node2.afterWrites.rows);
  assert.equal(s.localState, 'Synced');
  assert.equal(s.clusterStatus, 'Primary');
  assert.equal(s.clusterSize, 3);
  assert.ok(s.lastCommitted > 0);
  assert.ok(s.cachedDownto !== null && s.cachedDownto <= s.lastCommitted);
  assert.ok(s.receivedBytes > 0, 'node2 only receives in this recording');
  assert.match(s.localStateUuid, /^[0-9a-f-]{36}$/);
  assert.equal(typeof s.uptimeSeconds, 'number');
});

test('all three spellings of an empty gcache read as null', () => {
  assert.equal(parseCachedDownto('18446744073709551615'), null);
  assert.equal(parseCachedDownto('-1'), null);
  assert.equal(parseCachedDownto('0'), null);
  assert.equal(parseCachedDownto('12345'), 12345);
  const rows = fixture.node2.afterWrites.rows as Row[];
  for (const empty of ['18446744073709551615', '-1', '0']) {
    assert.equal(parseStatusRows(withValue(rows, 'wsrep_local_cached_downto', empty)).cachedDownto, null);
  }
});

test('odd server values are refused with the variable named', () => {
  const rows = fixture.node2.afterWrites.rows as Row[];
  assert.throws(() => parseStatusRows(withValue(rows, 'wsrep_received_bytes', 'lots')), (e: Error) => e instanceof StatusValueError && /wsrep_received_bytes/.test(e.message));
  assert.throws(() => parseStatusRows(withValue(rows, 'wsrep_replicated_bytes', undefined)), /wsrep_replicated_bytes is missing/);
  assert.throws(() => parseStatusRows(withValue(rows, 'wsrep_last_committed', '99999999999999999999')), /beyond 2\^53/);
  assert.throws(() => parseStatusRows([{ Variable_name: 'Uptime', Value: '5' }]), /not a Galera node/);
});

test('gcache settings from the real @@wsrep_provider_options', () => {
  const g = parseGcacheSettings(fixture.providerOptions);
  assert.equal(g.sizeBytes, 8 * 2 ** 20);
  assert.equal(g.pageSizeBytes, 128 * 2 ** 20);
  assert.equal(g.keepPagesSizeBytes, 0);
  assert.equal(g.recover, true);
  assert.equal(g.segment, 0);
});

test('provider options: other size spellings, escapes, defaults and bad values', () => {
  assert.equal(parseGcacheSettings('gcache.size = 0x20000000; gcache.recover = no').sizeBytes, 512 * 2 ** 20);
  assert.equal(parseGcacheSettings('gcache.size=2g;gcache.page_size=64m').pageSizeBytes, 64 * 2 ** 20);
  assert.equal(parseGcacheSettings('gcache.size = 1T').sizeBytes, 2 ** 40);
  assert.equal(parseGcacheSettings('gcache.size = 1073741824').sizeBytes, 2 ** 30);
  const defaults = parseGcacheSettings('');
  assert.equal(defaults.sizeBytes, 128 * 2 ** 20);
  assert.equal(defaults.recover, false);
  assert.equal(splitProviderOptions('gcache.dir = /var/lib/a\\;b; gcache.size = 1G').get('gcache.dir'), '/var/lib/a;b');
  assert.throws(() => parseGcacheSettings('gcache.size = huge'), /wsrep_provider_options gcache.size: expected a size/);
  assert.throws(() => parseGcacheSettings('gmcast.segment = 300'), /gmcast.segment/);
});
