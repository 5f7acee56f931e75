import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseSize, parseGaleraBool, UnitParseError } from '../../src/units/parse.ts';
import { formatBytes, formatDuration } from '../../src/units/format.ts';

test('durations: single and compound units become seconds', () => {
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration('15m'), 900);
  assert.equal(parseDuration('2h'), 7200);
  assert.equal(parseDuration('7d'), 604800);
  assert.equal(parseDuration('1w'), 604800);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('250ms'), 0.25);
  assert.equal(parseDuration(' 1.5h '), 5400);
});

test('durations: bare numbers and junk are refused with what was expected', () => {
  for (const bad of ['60', '', 'abc', '10 minutes', '5m extra', '-5m', '1h-']) {
    assert.throws(
      () => parseDuration(bad),
      (err: Error) => err instanceof UnitParseError && /expected a duration such as 90s/.test(err.message),
      bad,
    );
  }
});

test('sizes: every syntax Galera accepts, K/M/G/T in either case, hex and octal', () => {
  assert.equal(parseSize('134217728'), 134217728);
  assert.equal(parseSize('128M'), 128 * 2 ** 20);
  assert.equal(parseSize('128m'), 128 * 2 ** 20);
  assert.equal(parseSize('512K'), 512 * 1024);
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize('2G'), 2 * 2 ** 30);
  assert.equal(parseSize('2g'), 2 * 2 ** 30);
  assert.equal(parseSize('1T'), 2 ** 40);
  assert.equal(parseSize('1t'), 2 ** 40);
  assert.equal(parseSize('0x10M'), 16 * 2 ** 20);
  assert.equal(parseSize('0X8000000'), 128 * 2 ** 20);
  assert.equal(parseSize('010K'), 8 * 1024); // octal, as strtoll in base 0 reads it
  assert.equal(parseSize('0'), 0);
  assert.equal(parseSize(4096), 4096);
});

test('sizes: config conveniences beyond Galera (B, iB, decimals)', () => {
  assert.equal(parseSize('512MiB'), 512 * 2 ** 20);
  assert.equal(parseSize('2GB'), 2 * 2 ** 30);
  assert.equal(parseSize('1.5G'), 1.5 * 2 ** 30);
});

test('sizes: junk is refused rather than read as 0', () => {
  for (const bad of ['', 'M', '12X', '1.2.3G', '-1M', '0x', 'ten', '08']) {
    assert.throws(() => parseSize(bad), UnitParseError, bad);
  }
  assert.throws(() => parseSize(-1), UnitParseError);
  assert.throws(() => parseSize(1.5), UnitParseError);
});

test('Galera booleans', () => {
  assert.equal(parseGaleraBool('yes'), true);
  assert.equal(parseGaleraBool('NO'), false);
  assert.equal(parseGaleraBool('true'), true);
  assert.equal(parseGaleraBool('0'), false);
  assert.throws(() => parseGaleraBool('maybe'), UnitParseError);
});

test('human formats carry their units', () => {
  assert.equal(formatBytes(512 * 2 ** 20), '512 MiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(100), '100 B');
  assert.equal(formatDuration(42 * 60), '42 min');
  assert.equal(formatDuration(45), '45 s');
  assert.equal(formatDuration(3 * 3600 + 600), '3 h 10 min');
  assert.equal(formatDuration(3 * 86400), '3.0 d');
});
