/**
 * Property-based tests of the units module: any string or number given to parseDuration and
 * parseSize gives a value or a UnitParseError with a short message, never another exception;
 * what the formatters print parses back; the formatters never throw.
 * FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failing one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDuration, parseGaleraBool, parseSize, UnitParseError } from '../../src/units/parse.ts';
import { formatBytes, formatDuration } from '../../src/units/format.ts';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const runs = (numRuns: number) => ({ numRuns, includeErrorInReport: true, ...(seed === undefined ? {} : { seed }) });

/** A message short enough to stay one readable line, however long the input was. */
const MAX_MESSAGE = 300;

const DURATION_UNITS = ['ms', 's', 'm', 'h', 'd', 'w'] as const;
const UNIT_SECONDS: Record<(typeof DURATION_UNITS)[number], number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Strings near the grammar (digits, units, dots, signs, exponents, spaces) and far from it. */
const unitish = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      '0',
      '1',
      '9',
      '.',
      '-',
      '+',
      'e',
      'E',
      'x',
      'X',
      ' ',
      'ms',
      's',
      'm',
      'h',
      'd',
      'w',
      'K',
      'k',
      'M',
      'G',
      'g',
      'T',
      'P',
      'i',
      'B',
      'b',
      'Infinity',
      'NaN',
      '١',
      '\u00a0',
    ),
    maxLength: 30,
  }),
  fc.constantFrom('1e309', '-0', 'NaN', 'Infinity', '-Infinity', '0x', '0x1fffffffffffff', '0777777777777777777777', '1.', '.5', '1..2s', ' ', '\t5m\n'),
  fc.nat({ max: 1000 }).map((n) => '9'.repeat(n + 300) + 's'),
  fc.nat({ max: 1000 }).map((n) => '9'.repeat(n + 300) + 'M'),
  fc.nat({ max: 100_000 }).map((n) => 'x'.repeat(n + 1000)),
);

function assertUnitError(err: unknown, input: unknown): true {
  assert.ok(err instanceof UnitParseError, `expected a UnitParseError for ${JSON.stringify(input)?.slice(0, 80)}, got ${String(err)}`);
  assert.ok(err.message.length <= MAX_MESSAGE, `message of ${err.message.length} chars: ${err.message.slice(0, 120)}…`);
  assert.ok(!err.message.includes('\n'), 'message is one line');
  return true;
}

test('parseDuration: any string is a finite duration of 0 or more seconds, or a UnitParseError with a short message', () => {
  fc.assert(
    fc.property(unitish, (text) => {
      let seconds: number;
      try {
        seconds = parseDuration(text);
      } catch (err) {
        return assertUnitError(err, text);
      }
      assert.ok(Number.isFinite(seconds) && seconds >= 0, `${JSON.stringify(text)} gave ${seconds}`);
      return true;
    }),
    runs(2000),
  );
});

test('parseDuration: a compound duration is the sum of its parts', () => {
  const part = fc.record({
    n: fc.oneof(
      fc.nat({ max: 100_000 }),
      fc.double({ min: 0, max: 1000, noNaN: true }).map((x) => Math.round(x * 1000) / 1000),
    ),
    unit: fc.constantFrom(...DURATION_UNITS),
  });
  fc.assert(
    fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), fc.constantFrom('', ' ', '\t'), (parts, pad) => {
      // Written as a person would: plain decimals, no exponent.
      const text = parts.map((p) => `${p.n.toFixed(3).replace(/\.?0+$/, '') || '0'}${p.unit}`).join('');
      const expected = parts.reduce((sum, p) => sum + Number(p.n.toFixed(3)) * UNIT_SECONDS[p.unit], 0);
      const got = parseDuration(pad + text + pad);
      assert.ok(Math.abs(got - expected) <= 1e-9 * Math.max(1, expected), `${text}: ${got} != ${expected}`);
    }),
    runs(1000),
  );
});

test('parseSize: any string or number is a safe whole number of bytes, or a UnitParseError with a short message', () => {
  const input = fc.oneof(unitish, fc.double(), fc.integer(), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, -0, 2 ** 64));
  fc.assert(
    fc.property(input, (value) => {
      let bytes: number;
      try {
        bytes = parseSize(value);
      } catch (err) {
        return assertUnitError(err, value);
      }
      assert.ok(Number.isSafeInteger(bytes) && bytes >= 0, `${JSON.stringify(value)} gave ${bytes}`);
      return true;
    }),
    runs(2000),
  );
});

test('parseSize: K/M/G/T/P in either case, with B or iB, in decimal, hex or octal, is n × 1024^k', () => {
  const shifts = { '': 0, k: 10, m: 20, g: 30, t: 40, p: 50 } as const;
  fc.assert(
    fc.property(
      fc.nat({ max: 2 ** 31 }),
      fc.constantFrom(...(Object.keys(shifts) as Array<keyof typeof shifts>)),
      fc.boolean(),
      fc.constantFrom('', 'B', 'iB', 'b'),
      fc.constantFrom('dec', 'hex', 'oct'),
      fc.constantFrom('', ' '),
      (n, unit, upper, suffix, base, space) => {
        const digits = base === 'hex' ? `0x${n.toString(16)}` : base === 'oct' ? `0${n.toString(8)}` : String(n);
        // A bare hex number takes no B: "0x1B" is 27 bytes, as strtoll reads it.
        const tail = base === 'hex' && unit === '' ? '' : unit === '' && suffix === 'iB' ? 'B' : suffix;
        const text = `${digits}${space}${upper ? unit.toUpperCase() : unit}${tail}`;
        const expected = n * 2 ** shifts[unit];
        if (Number.isSafeInteger(expected)) assert.equal(parseSize(text), expected, text);
        else assert.throws(() => parseSize(text), UnitParseError, text);
      },
    ),
    runs(1000),
  );
});

test('formatBytes then parseSize gives the same size back, within the printed precision', () => {
  fc.assert(
    fc.property(fc.oneof(fc.nat({ max: 4096 }), fc.integer({ min: 0, max: 2 ** 52 })), (n) => {
      const printed = formatBytes(n);
      const back = parseSize(printed);
      if (n < 1024) assert.equal(back, n, printed);
      // Three significant digits at least: 1.23 KiB, 12.3 MiB, 123 GiB.
      else assert.ok(Math.abs(back - n) <= 0.005 * n + 1, `${n} printed ${printed} read back ${back}`);
    }),
    runs(2000),
  );
});

test('formatBytes and formatDuration never throw and print a short text for any number', () => {
  fc.assert(
    fc.property(fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_VALUE)), (x) => {
      for (const text of [formatBytes(x), formatDuration(x)]) {
        assert.equal(typeof text, 'string');
        assert.ok(text.length > 0 && text.length <= 40, `${x} printed ${JSON.stringify(text)}`);
      }
    }),
    runs(2000),
  );
});

test('parseGaleraBool: any string is true, false, or a UnitParseError', () => {
  fc.assert(
    fc.property(fc.oneof(unitish, fc.constantFrom('yes', 'NO', ' On ', 'off', 'TRUE', '1', '0', 'false')), (text) => {
      try {
        assert.equal(typeof parseGaleraBool(text), 'boolean');
      } catch (err) {
        return assertUnitError(err, text);
      }
      return true;
    }),
    runs(1000),
  );
});
