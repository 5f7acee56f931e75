import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capacityFor, slackFor } from '../../src/analysis/capacity.ts';
import { ColumnSeries } from '../../src/analysis/series.ts';
import { WriteHistory } from '../../src/analysis/write-history.ts';

// Four 32-bit offsets (time, seqno, bytes, cached_downto), the epoch (16 bits) and the Synced flag.
const POINT_BYTES = 19;
const point = (i: number) => ({ t: i * 10_000, seqno: i, bytes: i * 100, epoch: 1, downto: i > 50 ? i - 50 : null, synced: true });

test('a steady series (one point in, one out) keeps a little room, and its points', () => {
  const s = new ColumnSeries();
  for (let i = 0; i < 5000; i++) {
    s.push(point(i));
    if (s.length > 400) s.dropFront(1);
    assert.ok(s.byteSize <= POINT_BYTES * (s.length + 2 * slackFor(s.length)) || s.byteSize <= POINT_BYTES * 64, `at ${i}: ${s.byteSize / POINT_BYTES} for ${s.length}`);
  }
  assert.equal(s.length, 400);
  for (let i = 0; i < 400; i++) assert.equal(s.seqno(i), 4600 + i);
  assert.equal(s.downto(0), 4550);
});

test('a growing series grows by a sixteenth, not by half', () => {
  const s = new ColumnSeries();
  for (let i = 0; i < 10_000; i++) s.push(point(i));
  assert.ok(s.byteSize / POINT_BYTES <= 10_000 * 1.0625 + 32, `capacity ${s.byteSize / POINT_BYTES}`);
  assert.equal(s.t(9_999), 99_990_000);
});

test('a trim that leaves most of the room unused gives it back', () => {
  const s = new ColumnSeries();
  for (let i = 0; i < 4000; i++) s.push(point(i));
  s.dropFront(3900);
  assert.equal(s.byteSize / POINT_BYTES, 100 + 2 * slackFor(100));
  assert.deepEqual([s.seqno(0), s.seqno(99)], [3900, 3999]);
});

test('the write history keeps the same room', () => {
  const w = new WriteHistory(3600_000, 600_000);
  for (let i = 0; i < 20_000; i++) w.add(i * 10_000, 1000);
  // An hour back: 600 s at full resolution (60 points), one a minute before (50), the boundary.
  assert.ok(w.length < 130, `${w.length} points`);
  assert.ok(w.byteSize / 8 <= w.length + 4 * slackFor(w.length), `capacity ${w.byteSize / 8} for ${w.length}`);
  assert.equal(w.cum(w.length - 1), 20_000 * 1000);
});

test('capacityFor: slides while the room is between one and four slacks', () => {
  // 800 rows: a slack of 25.
  assert.equal(capacityFor(800, 850), 850);
  assert.equal(capacityFor(800, 900), 900);
  assert.equal(capacityFor(800, 810), 850);
  assert.equal(capacityFor(800, 1200), 850);
  assert.equal(capacityFor(0, 64), 64);
});

test('the write history keeps whole bytes, within half a byte of what was written, so its column stays integers', () => {
  // A cycle's bytes are a rate times an interval: fractions. 100 MB and more each 10 s: past 4 GiB over the hour, 48 bits.
  const fractional = new WriteHistory(3600_000, 600_000);
  const whole = new WriteHistory(3600_000, 600_000);
  let written = 0;
  for (let i = 0; i < 20_000; i++) {
    const bytes = 100_000_000.37 * (1 + (i % 7));
    written += bytes;
    fractional.add(i * 10_000, bytes);
    whole.add(i * 10_000, Math.round(bytes));
  }
  const last = fractional.cum(fractional.length - 1);
  assert.ok(Number.isInteger(last) && Math.abs(last - written) <= 0.5, `${last} for ${written}`);
  assert.equal(fractional.byteSize, whole.byteSize, 'the same room as whole bytes: not doubles');
});
