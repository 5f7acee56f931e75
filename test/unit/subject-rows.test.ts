/**
 * A metric family's rows in one array: each subject keeps its values while others come and go,
 * rows come back in the order their subjects first got one, and a row given back is reused clean.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubjectRows } from '../../src/metrics/subject-rows.ts';

test('a thousand subjects: each row keeps its values through growth, in first-seen order', () => {
  const rows = new SubjectRows<string>(3, Number.NaN);
  for (let i = 0; i < 1000; i++) {
    const o = rows.offsetOf(`node${i}`);
    rows.array[o] = i;
    rows.array[o + 2] = -i;
  }
  const seen: string[] = [];
  rows.forEach((o, subject) => {
    seen.push(subject);
    const i = Number(subject.slice(4));
    assert.deepEqual([rows.array[o], rows.array[o + 1], rows.array[o + 2]], [i, Number.NaN, -i]);
  });
  assert.deepEqual(
    seen,
    Array.from({ length: 1000 }, (_, i) => `node${i}`),
  );
  assert.ok(rows.array.length <= 1000 * 3 * 1.25 + 3 * 16, `${rows.array.length} numbers for 3,000 values`);
});

test('a row given back is found no more, and is handed out again holding the initial value', () => {
  const rows = new SubjectRows<string>(2, 0);
  const a = rows.offsetOf('a');
  rows.array[a] = 5;
  rows.offsetOf('b');
  rows.delete('a');
  assert.equal(rows.find('a'), -1);
  const c = rows.offsetOf('c');
  assert.equal(c, a, 'the freed row is reused');
  assert.deepEqual([rows.array[c], rows.array[c + 1]], [0, 0]);
  const order: string[] = [];
  rows.forEach((_, s) => order.push(s));
  assert.deepEqual(order, ['b', 'c']);
  rows.clear();
  assert.equal(rows.find('b'), -1);
  assert.equal(rows.offsetOf('d'), 0);
});
