import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parseStatusRows, parseCachedDownto, StatusValueError, exactCounter } from '../../src/sampler/status.ts';
import { parseGcacheSettings, splitProviderOptions } from '../../src/sampler/provider-options.ts';
import { classifyFailure } from '../../src/sampler/failure.ts';

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
  assert.throws(
    () => parseStatusRows(withValue(rows, 'wsrep_received_bytes', 'lots')),
    (e: Error) => e instanceof StatusValueError && /wsrep_received_bytes/.test(e.message),
  );
  assert.throws(() => parseStatusRows(withValue(rows, 'wsrep_replicated_bytes', undefined)), /wsrep_replicated_bytes is missing/);
  assert.throws(() => parseStatusRows(withValue(rows, 'wsrep_last_committed', '99999999999999999999')), /wsrep_last_committed value 99999999999999999999 is beyond 2\^64-1/);
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

test('64-bit counters beyond 2^53 are accepted, exactly, up to 2^64-1', () => {
  const rows = fixture.node2.afterWrites.rows as Row[];
  for (const value of [2n ** 53n + 1n, 2n ** 53n + 3n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n]) {
    const s = parseStatusRows(withValue(withValue(rows, 'wsrep_received_bytes', value.toString()), 'wsrep_last_committed', value.toString()));
    assert.equal(s.receivedBytes, Number(value), 'the number is the nearest double');
    assert.equal(s.exact!.receivedBytes, value);
    assert.equal(exactCounter(s, 'receivedBytes'), value, 'the exact value is kept');
    assert.equal(exactCounter(s, 'lastCommitted'), value);
  }
  const padded = parseStatusRows(withValue(rows, 'wsrep_replicated_bytes', ' 0009007199254740993 '));
  assert.equal(padded.exact!.replicatedBytes, 9007199254740993n);
});

test('beyond 2^64-1, negative or non-numeric: bad_value naming the variable and the value, cut to 64 characters', () => {
  const rows = fixture.node2.afterWrites.rows as Row[];
  const bad = (value: string, pattern: RegExp) =>
    assert.throws(
      () => parseStatusRows(withValue(rows, 'wsrep_replicated_bytes', value)),
      (e: Error) => {
        assert.ok(e instanceof StatusValueError);
        assert.equal(classifyFailure(e).reason, 'bad_value');
        assert.match(e.message, pattern);
        assert.ok(e.message.length < 140, `short enough: ${e.message}`);
        return true;
      },
    );
  bad('18446744073709551616', /^wsrep_replicated_bytes value 18446744073709551616 is beyond 2\^64-1$/);
  bad('-42', /^wsrep_replicated_bytes has a negative value "-42"$/);
  bad('12abc', /^wsrep_replicated_bytes has a non-numeric value "12abc"$/);
  bad('1'.repeat(500), new RegExp(`^wsrep_replicated_bytes value ${'1'.repeat(64)}… is beyond 2\\^64-1$`));
  bad('x'.repeat(500), new RegExp(`^wsrep_replicated_bytes has a non-numeric value "${'x'.repeat(64)}…"$`));
});

test('a status with 64-bit counters survives JSON (sample --once prints it)', () => {
  const rows = fixture.node2.afterWrites.rows as Row[];
  const s = parseStatusRows(withValue(rows, 'wsrep_received_bytes', '18446744073709551615'));
  const json = JSON.parse(JSON.stringify(s));
  assert.equal(json.exact.receivedBytes, '18446744073709551615');
  assert.equal(json.receivedBytes, 18446744073709552000);
});

test('a copy whose number was changed no longer uses the stale exact value', () => {
  const s = parseStatusRows(fixture.node2.afterWrites.rows);
  const changed = { ...s, receivedBytes: s.receivedBytes + 1000 };
  assert.equal(exactCounter(changed, 'receivedBytes'), BigInt(s.receivedBytes + 1000));
  const { exact: _dropped, ...reloaded } = s; // as read back from SQLite: numbers only
  assert.equal(exactCounter(reloaded, 'lastCommitted'), BigInt(s.lastCommitted));
});

test('status variables are found whatever case the server spells them in', () => {
  const rows = fixture.node2.afterWrites.rows as Row[];
  const expected = parseStatusRows(rows);
  for (const spell of [(n: string) => n.toUpperCase(), (n: string) => n.toLowerCase()]) {
    const status = parseStatusRows(rows.map((r) => ({ ...r, Variable_name: spell(r.Variable_name) })));
    assert.deepEqual(status, expected, spell('Uptime'));
  }
});
