/**
 * The ring of typed-array columns under the analysis' histories: rows read back exactly as they
 * went in, whether they wrap the ring, are thinned across its end, or outgrow the 32-bit offsets
 * that packed columns keep, which then move their base or widen to doubles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlidingColumns } from '../../src/analysis/sliding-columns.ts';

function rowsOf(table: SlidingColumns, columns: number): number[][] {
  const readers = Array.from({ length: columns }, (_, c) => table.column(c));
  const rows: number[][] = [];
  for (let i = 0; i < table.length; i++) rows.push(readers.map((r) => r.at(i)));
  return rows;
}

test('a steady table wraps its ring without moving or growing, and reads back in order', () => {
  const table = new SlidingColumns(['packed32', 'float32', 'uint8'], 100);
  const expected: number[][] = [];
  for (let i = 0; i < 1000; i++) {
    table.push(1_795_000_000_000 + i * 10_000, i / 4, i % 2);
    expected.push([1_795_000_000_000 + i * 10_000, i / 4, i % 2]);
    if (table.length > 90) {
      table.dropFront(1);
      expected.shift();
    }
  }
  assert.equal(table.byteSize, 100 * (4 + 4 + 1), 'the ring kept its size');
  assert.deepEqual(rowsOf(table, 3), expected);
});

test('thinning across the end of the ring keeps the chosen rows in order', () => {
  const table = new SlidingColumns(['packed32', 'int32'], 64);
  for (let i = 0; i < 50; i++) table.push(i, -i);
  table.dropFront(40); // the live rows now start near the end of the ring
  for (let i = 50; i < 100; i++) table.push(i, -i);
  const times = table.column(0);
  const dropped = table.keepWhere((i) => times.at(i) % 3 === 0 || i === table.length - 1);
  const kept = rowsOf(table, 2);
  assert.deepEqual(
    kept.map(([t]) => t),
    Array.from({ length: 60 }, (_, k) => 40 + k).filter((t) => t % 3 === 0 || t === 99),
  );
  assert.equal(dropped, 60 - kept.length);
  assert.ok(kept.every(([t, u]) => u === -t!));
});

test('packed values that outgrow their offsets move the base, and widen to 48 bits only when the live ones cannot fit', () => {
  const table = new SlidingColumns(['packed32'], 16);
  // Byte counters 1.5 GB apart: every other push leaves the 32-bit range of the last base; the live ones fit.
  const step = 1_500_000_000;
  for (let k = 0; k < 200; k++) {
    table.push(9_000_000_000_000 + k * step);
    if (table.length > 2) table.dropFront(1);
  }
  assert.equal(table.byteSize, 16 * 4, 'still 32 bits a row');
  assert.deepEqual(
    rowsOf(table, 1).flat(),
    [198, 199].map((k) => 9_000_000_000_000 + k * step),
  );
  // A live span wider than 32 bits can say: 48 bits, with every value kept.
  table.push(9_000_000_000_000 + 202 * step);
  assert.equal(table.byteSize, 16 * 6);
  assert.deepEqual(rowsOf(table, 1).flat(), [...[198, 199].map((k) => 9_000_000_000_000 + k * step), 9_000_000_000_000 + 202 * step]);
});

test('48-bit packed values read back exactly, NaN and overwrites included, and turn to doubles past 48 bits', () => {
  const table = new SlidingColumns(['packed32'], 16);
  // Cumulative bytes of a busy cluster: 2^32 apart and more, up to about 2^47 - 2^33 of span.
  const values = [1e12, Number.NaN, 1e12 + 2 ** 32 + 7, 1e12 + 3 * 2 ** 40 - 1, 1e12 + 2 ** 47 - 2 ** 33, 1e12 - 1];
  for (const v of values) table.push(v);
  assert.equal(table.byteSize, 16 * 6);
  assert.deepEqual(rowsOf(table, 1).flat(), values);
  table.set(0, 1, 1e12 + 12_345);
  table.set(0, 2, Number.NaN);
  assert.deepEqual(rowsOf(table, 1).flat(), [1e12, 1e12 + 12_345, Number.NaN, 1e12 + 3 * 2 ** 40 - 1, 1e12 + 2 ** 47 - 2 ** 33, 1e12 - 1]);
  // Wrapping, growing and dropping keep them.
  for (let k = 0; k < 30; k++) table.push(1e12 + 2 ** 46 + k * 2 ** 33);
  table.dropFront(20);
  const kept = rowsOf(table, 1).flat();
  assert.deepEqual(
    kept.slice(-3),
    [27, 28, 29].map((k) => 1e12 + 2 ** 46 + k * 2 ** 33),
  );
  // Values far above the first ones still fit; a span past 48 bits turns a column to doubles.
  for (let k = 0; k <= 16; k++) table.push(2e14 + k);
  table.dropFront(table.length - 17);
  assert.deepEqual(
    rowsOf(table, 1).flat(),
    Array.from({ length: 17 }, (_, k) => 2e14 + k),
  );
  const small = new SlidingColumns(['packed32'], 4);
  small.push(0);
  small.push(2 ** 33);
  assert.equal(small.byteSize, 4 * 6);
  small.push(2 ** 50);
  assert.equal(small.byteSize, 4 * 8);
  assert.deepEqual(rowsOf(small, 1).flat(), [0, 2 ** 33, 2 ** 50]);
});

test('packed columns keep NaN, negative steps and overwrites; a fraction widens them', () => {
  const table = new SlidingColumns(['packed32'], 8);
  const values = [5_000_000_000, Number.NaN, 4_999_000_000, 7_000_000_000, Number.NaN];
  for (const v of values) table.push(v);
  assert.deepEqual(rowsOf(table, 1).flat(), values);
  table.set(0, 2, 6_500_000_000);
  assert.equal(table.column(0).at(2), 6_500_000_000);
  assert.equal(table.byteSize, 8 * 4);
  table.push(1.5);
  assert.equal(table.byteSize, 8 * 8);
  assert.deepEqual(rowsOf(table, 1).flat(), [5_000_000_000, Number.NaN, 6_500_000_000, 7_000_000_000, Number.NaN, 1.5]);
});

test('a full ring grows with its rows in order, and a trimmed one gives the room back', () => {
  const table = new SlidingColumns(['packed32', 'float32'], 32);
  for (let i = 0; i < 20; i++) table.push(i, i);
  table.dropFront(15);
  for (let i = 20; i < 400; i++) table.push(i, i); // wraps, then grows from a wrapped state
  assert.deepEqual(
    rowsOf(table, 2).map(([t]) => t),
    Array.from({ length: 385 }, (_, k) => 15 + k),
  );
  table.dropFront(380);
  assert.ok(table.byteSize <= (5 + 32) * 8, `${table.byteSize} bytes for 5 rows`);
  assert.deepEqual(
    rowsOf(table, 2),
    [395, 396, 397, 398, 399].map((v) => [v, v]),
  );
});

test('a column handle taken before the table wraps, grows, widens and shrinks still reads the live rows', () => {
  const table = new SlidingColumns(['packed32', 'uint8'], 8);
  const values = table.column(0);
  const flags = table.column(1);
  for (let i = 0; i < 6; i++) table.push(i, i % 2);
  table.dropFront(4); // the live rows start near the end of the ring
  for (let i = 6; i < 40; i++) table.push(i === 39 ? 0.5 : 5_000_000_000 + i, i % 2); // wraps, grows, then widens to doubles
  table.dropFront(30); // shrinks
  const read = Array.from({ length: table.length }, (_, i) => [values.at(i), flags.at(i)]);
  assert.deepEqual(read, [...Array.from({ length: 5 }, (_, k) => [5_000_000_000 + 34 + k, (34 + k) % 2]), [0.5, 1]]);
});

test('a column the table does not have is refused, naming it', () => {
  const table = new SlidingColumns(['packed32', 'packed32']);
  assert.throws(() => table.column(2), { name: 'RangeError', message: 'no column 2: the table has 2' });
});

test('narrow columns read back the Float32 of every value: whole milliseconds and counts in 16 bits, the rest kept aside', () => {
  const table = new SlidingColumns(['seconds16', 'count16'], 64);
  // A minute's seconds summed from sample-to-sample deltas of whole milliseconds, as doubles; its write-sets.
  const deltas = [10.002, 9.998, 10.001, 10, 9.999, 10.003];
  const values: Array<[number, number]> = [];
  for (let k = 0; k < 50; k++) values.push([deltas.slice(0, 1 + (k % 6)).reduce((a, b) => a + b, 0), 1000 * k]);
  values[7] = [125.25, 70_000]; // a minute across a gap in sampling, a burst of write-sets
  values[9] = [-0, Number.NaN];
  values[11] = [60.0125, 3];
  for (const [s, w] of values) table.push(s, w);
  const expected = values.map(([s, w]) => [Math.fround(s), Math.fround(w)]);
  const same = (a: number[][], b: number[][]) => a.length === b.length && a.every((row, i) => row.every((v, c) => Object.is(v, b[i]![c])));
  assert.ok(same(rowsOf(table, 2), expected), 'every value the Float32 it would be, -0 and NaN included');
  assert.equal(table.byteSize, 64 * (2 + 2) + 5 * 32, '16 bits a row, 5 values aside');

  // Rows dropped, the ring wrapping over the slots that held values aside, thinning moving rows.
  table.dropFront(20);
  expected.splice(0, 20);
  for (let k = 0; k < 20; k++) {
    table.push(60, k);
    expected.push([60, k]);
  }
  const seconds = table.column(0);
  table.keepWhere((i) => i % 2 === 0 || seconds.at(i) !== 60);
  const kept = expected.filter((row, i) => i % 2 === 0 || row[0] !== 60);
  assert.ok(same(rowsOf(table, 2), kept));

  // Growing the ring moves the rows, and what is aside with them.
  for (let k = 0; k < 100; k++) {
    table.push(k === 50 ? 0.0001 : 60, 5);
    kept.push([Math.fround(k === 50 ? 0.0001 : 60), 5]);
  }
  assert.ok(same(rowsOf(table, 2), kept));
});

test('a narrow column with more than an eighth of its rows aside turns to Float32, every value unchanged', () => {
  const table = new SlidingColumns(['seconds16'], 16);
  const values = [60, 120.5, 59.9995, 75.0001, 60.001];
  for (const v of values.slice(0, 3)) table.push(v);
  assert.equal(table.byteSize, 16 * 2 + 2 * 32);
  for (const v of values.slice(3)) table.push(v);
  assert.equal(table.byteSize, 16 * 4, 'Float32 for good');
  assert.deepEqual(rowsOf(table, 1).flat(), values.map(Math.fround));
});

test('values aside in rows since dropped do not count toward turning a column wide', () => {
  const table = new SlidingColumns(['seconds16'], 16);
  for (const v of [120.5, 59.9995, 60, 60]) table.push(v);
  // The two rows with values aside go; their slots are not written again before the next two come.
  table.dropFront(2);
  for (const v of [75.0001, 60.0005]) table.push(v);
  assert.equal(table.byteSize, 16 * 2 + 2 * 32, 'still 16 bits a row, the two live values aside');
  assert.deepEqual(rowsOf(table, 1).flat(), [60, 60, 75.0001, 60.0005].map(Math.fround));
});

test('an int16 column reads back integers exactly: small ones in 16 bits, the rest aside, then in doubles', () => {
  const table = new SlidingColumns(['int16'], 16);
  const values = [1, 2, 65_534, 70_000, 2 ** 40 + 1];
  for (const v of values) table.push(v);
  assert.deepEqual(rowsOf(table, 1).flat(), values);
  for (const v of [2 ** 41 + 3, 5]) table.push(v);
  assert.equal(table.byteSize, 16 * 8, 'a third value aside of 16 rows: doubles');
  assert.deepEqual(rowsOf(table, 1).flat(), [...values, 2 ** 41 + 3, 5]);
});
