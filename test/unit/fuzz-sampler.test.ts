/**
 * Property-based tests of what the sampler reads from a server: SHOW GLOBAL STATUS values of any
 * shape (empty, negative, non-numeric, beyond 2^53 and 2^64, enormous, NULL) give a NodeStatus or
 * a short StatusValueError naming the variable; the epoch and delta functions never throw on what
 * was parsed; any @@wsrep_provider_options text gives settings or a ProviderOptionsError naming
 * the option. FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failing one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EXACT_COUNTERS, MAX_COUNTER, parseStatusRows, STATUS_VARIABLES, StatusValueError, type NodeStatus } from '../../src/sampler/status.ts';
import { epochBreakReason, sampleDelta } from '../../src/sampler/epoch.ts';
import { parseGcacheSettings, ProviderOptionsError, type GcacheSettings } from '../../src/sampler/provider-options.ts';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const runs = (numRuns: number) => ({ numRuns, includeErrorInReport: true, ...(seed === undefined ? {} : { seed }) });

const MAX_MESSAGE = 300;

/** Values a server, a proxy or a broken driver could put in the Value column. */
const statusValue: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: MAX_COUNTER }).map(String) },
  fc.nat().map(String),
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '0',
    '18446744073709551615',
    '18446744073709551616',
    '9007199254740993',
    '-9223372036854775808',
    '00000000000000000000000042',
    '1e3',
    '0x10',
    '+5',
    ' 12 ',
    '1.5',
    'NaN',
    'Infinity',
    '-0',
    '١٢',
    'Synced',
    'Primary',
    'ON',
  ),
  fc.bigInt({ min: MAX_COUNTER + 1n, max: 2n ** 200n }).map(String),
  fc.bigInt({ min: -(2n ** 70n), max: -1n }).map(String),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.nat({ max: 200_000 }).map((n) => '7'.repeat(n + 100)),
  fc.nat({ max: 200_000 }).map((n) => 'é'.repeat(n + 100)),
  fc.constant(null),
);

/** Rows for every variable (some missing, some in other cases, some twice), plus unrelated rows. */
const statusRows = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom(...STATUS_VARIABLES), statusValue, fc.constantFrom('same', 'upper', 'lower', 'missing', 'twice')), {
      minLength: STATUS_VARIABLES.length,
      maxLength: STATUS_VARIABLES.length,
    }),
    fc.array(fc.record({ Variable_name: fc.string({ maxLength: 40 }), Value: statusValue }), { maxLength: 5 }),
  )
  .map(([chosen, extra]) => {
    const rows: Array<{ Variable_name: string; Value: string | null }> = [];
    STATUS_VARIABLES.forEach((name, i) => {
      const [, value, spelling] = chosen[i]!;
      if (spelling === 'missing') return;
      const spelt = spelling === 'upper' ? name.toUpperCase() : spelling === 'lower' ? name.toLowerCase() : name;
      rows.push({ Variable_name: spelt, Value: value });
      if (spelling === 'twice') rows.push({ Variable_name: name, Value: value });
    });
    return [...rows, ...extra];
  });

/** Rows that always parse: valid counters, so that epoch checks get many statuses to compare. */
const goodRows = fc
  .record({
    counters: fc.tuple(
      ...EXACT_COUNTERS.map(() => fc.oneof(fc.bigInt({ min: 0n, max: MAX_COUNTER }), fc.bigInt({ min: 0n, max: 1000n }))),
      fc.bigInt({ min: 0n, max: MAX_COUNTER }),
    ),
    uptime: fc.oneof(fc.nat({ max: 10_000_000 }), fc.bigInt({ min: 0n, max: MAX_COUNTER })),
    uuid: fc.constantFrom('', 'a-b-c', 'd-e-f'),
    state: fc.constantFrom('Synced', 'Donor/Desynced', 'Joining', 'Initialized'),
  })
  .map(({ counters, uptime, uuid, state }) => {
    const names = ['wsrep_received_bytes', 'wsrep_replicated_bytes', 'wsrep_received', 'wsrep_replicated', 'wsrep_last_committed', 'wsrep_local_cached_downto'];
    return [
      ...names.map((name, i) => ({ Variable_name: name, Value: String(counters[i]!) })),
      { Variable_name: 'Uptime', Value: String(uptime) },
      { Variable_name: 'wsrep_local_state_uuid', Value: uuid },
      { Variable_name: 'wsrep_cluster_state_uuid', Value: uuid },
      { Variable_name: 'wsrep_local_state_comment', Value: state },
    ];
  });

function assertStatus(status: NodeStatus): void {
  for (const key of ['receivedBytes', 'replicatedBytes', 'received', 'replicated', 'lastCommitted', 'uptimeSeconds'] as const) {
    assert.ok(Number.isFinite(status[key]) && status[key] >= 0, `${key} is ${status[key]}`);
  }
  assert.ok(Number.isFinite(status.clusterSize), `clusterSize is ${status.clusterSize}`);
  for (const key of ['cachedDownto', 'segment', 'flowControlPaused'] as const) {
    assert.ok(status[key] === null || Number.isFinite(status[key]), `${key} is ${status[key]}`);
  }
  for (const counter of EXACT_COUNTERS) {
    const exact = status.exact![counter];
    assert.ok(exact >= 0n && exact <= MAX_COUNTER, `${counter} exact is ${exact}`);
  }
}

test('SHOW GLOBAL STATUS: any values give a NodeStatus or a short StatusValueError that names the variable', () => {
  const names = [...STATUS_VARIABLES.map((v) => v.toLowerCase()), 'wsrep status variables'];
  fc.assert(
    fc.property(statusRows, (rows) => {
      let status: NodeStatus;
      try {
        status = parseStatusRows(rows);
      } catch (err) {
        assert.ok(err instanceof StatusValueError, `expected a StatusValueError, got ${String(err)}`);
        assert.ok(err.message.length <= MAX_MESSAGE, `message of ${err.message.length} chars: ${err.message.slice(0, 120)}…`);
        assert.ok(!err.message.includes('\n'), `message on one line: ${JSON.stringify(err.message)}`);
        assert.ok(
          names.some((n) => err.message.toLowerCase().includes(n)),
          `names no variable: ${err.message}`,
        );
        return true;
      }
      assertStatus(status);
      // `sample --once` prints statuses as JSON: the exact counters must survive it.
      assert.doesNotThrow(() => JSON.stringify(status));
      return true;
    }),
    runs(3000),
  );
});

test('epochs and deltas: any two parsed statuses at any times give a reason or null, and finite numbers', () => {
  const point = fc
    .record({ rows: goodRows, takenAt: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constantFrom(0, 1_700_000_000_000)), reloaded: fc.boolean() })
    .map(({ rows, takenAt, reloaded }) => {
      const status = parseStatusRows(rows);
      // A sample reloaded from SQLite has only the numbers, not the exact counters.
      if (reloaded) delete status.exact;
      return { takenAt, status };
    });
  fc.assert(
    fc.property(point, point, (prev, next) => {
      const reason = epochBreakReason(prev, next);
      assert.ok(reason === null || (typeof reason === 'string' && reason.length > 0));
      const delta = sampleDelta(prev, next);
      for (const [key, value] of Object.entries(delta)) assert.ok(Number.isFinite(value), `${key} is ${value}`);
      // A sample never starts a new epoch against itself.
      assert.equal(epochBreakReason(prev, prev), null);
      const same = sampleDelta(prev, prev);
      assert.deepEqual([same.bytes, same.writeSets, same.seconds], [0, 0, 0]);
    }),
    runs(2000),
  );
});

const OPTION_KEYS = ['gcache.size', 'gcache.page_size', 'gcache.keep_pages_size', 'gcache.recover', 'gmcast.segment'] as const;

test('wsrep_provider_options: any text gives gcache settings or a short ProviderOptionsError naming the option', () => {
  const piece = fc.oneof(
    fc.constantFrom(...OPTION_KEYS, 'base_port', 'evs.keepalive_period', 'socket.ssl_key'),
    fc.constantFrom(' = ', '=', '; ', ';', '\\', '\\;', ' ', '\n'),
    fc.constantFrom('128M', '0x10M', '010K', '1.5G', 'yes', 'no', '-1', '256', '0', '', 'PT1S', '9'.repeat(30), '99999999999999999999T'),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.nat({ max: 100_000 }).map((n) => 'x'.repeat(n + 100)),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.array(piece, { maxLength: 40 }).map((p) => p.join('')),
        fc.string({ unit: 'binary', maxLength: 200 }),
      ),
      (text) => {
        let settings: GcacheSettings;
        try {
          settings = parseGcacheSettings(text);
        } catch (err) {
          assert.ok(err instanceof ProviderOptionsError, `expected a ProviderOptionsError, got ${String(err)}`);
          assert.ok(
            OPTION_KEYS.some((k) => err.message.startsWith(`wsrep_provider_options ${k}: `)),
            `names no option: ${err.message.slice(0, 200)}`,
          );
          assert.ok(err.message.length <= MAX_MESSAGE, `message of ${err.message.length} chars: ${err.message.slice(0, 120)}…`);
          return true;
        }
        for (const key of ['sizeBytes', 'pageSizeBytes', 'keepPagesSizeBytes'] as const)
          assert.ok(Number.isSafeInteger(settings[key]) && settings[key] >= 0, `${key} is ${settings[key]}`);
        assert.equal(typeof settings.recover, 'boolean');
        assert.ok(Number.isInteger(settings.segment) && settings.segment >= 0 && settings.segment <= 255, `segment is ${settings.segment}`);
        return true;
      },
    ),
    runs(3000),
  );
});

test('wsrep_provider_options: settings printed the way Galera prints them are read back, among any other options', () => {
  const other = fc.record({
    key: fc.stringMatching(/^[a-z]{1,8}\.[a-z_]{1,12}$/).filter((k) => !(OPTION_KEYS as readonly string[]).includes(k)),
    // Galera escapes a ';' inside a value with a backslash (a path, say).
    value: fc.string({ maxLength: 20 }).map((v) => v.replace(/\\/g, '\\\\').replace(/;/g, '\\;')),
  });
  fc.assert(
    fc.property(
      fc.record({ size: fc.nat({ max: 2 ** 20 }), page: fc.nat({ max: 2 ** 20 }), keep: fc.nat({ max: 2 ** 20 }), recover: fc.boolean(), segment: fc.nat({ max: 255 }) }),
      fc.array(other, { maxLength: 8 }),
      fc.constantFrom('', 'K', 'M', 'G'),
      (s, others, unit) => {
        const shift = { '': 0, K: 10, M: 20, G: 30 }[unit]!;
        const ours = [
          `gcache.size = ${s.size}${unit}`,
          `gcache.page_size = ${s.page}${unit}`,
          `gcache.keep_pages_size = ${s.keep}`,
          `gcache.recover = ${s.recover ? 'yes' : 'no'}`,
          `gmcast.segment = ${s.segment}`,
        ];
        const all = [...others.map((o) => `${o.key} = ${o.value}`), ...ours].sort();
        const settings = parseGcacheSettings(`${all.join('; ')}; `);
        assert.deepEqual(settings, { sizeBytes: s.size * 2 ** shift, pageSizeBytes: s.page * 2 ** shift, keepPagesSizeBytes: s.keep, recover: s.recover, segment: s.segment });
      },
    ),
    runs(1000),
  );
});
