/**
 * Work cut into slices: every item is worked on, in order, and the event loop gets a turn (an
 * immediate queued meanwhile runs) only once a slice has held it for the slice's length.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inSlices } from '../../src/loop/slices.ts';

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

test('items in order; the loop served between slices, each at least a slice long; the longest reported', async () => {
  const done: number[] = [];
  // Each turn the loop gets: how many items were done by then, and when.
  const turns: Array<{ done: number; at: number }> = [];
  let probing = true;
  const probe = () => {
    turns.push({ done: done.length, at: performance.now() });
    if (probing) setImmediate(probe);
  };
  setImmediate(probe);
  const started = performance.now();
  const longest = await inSlices([1, 2, 3, 4, 5, 6], 8, (item) => {
    busy(3);
    done.push(item);
  });
  probing = false;
  assert.deepEqual(done, [1, 2, 3, 4, 5, 6]);
  const midWork = turns.filter((t) => t.done > 0 && t.done < 6);
  assert.ok(midWork.length > 0, 'the loop got a turn before the work was done (18 ms of it, in slices of 8 ms)');
  let sliceStart = started;
  for (const turn of midWork) {
    assert.ok(turn.at - sliceStart >= 8, `a turn after ${turn.done} items came ${(turn.at - sliceStart).toFixed(1)} ms into the slice`);
    sliceStart = turn.at;
  }
  assert.ok(longest >= 8, `longest slice ${longest} ms`);
});

test('nothing to do: no slice longer than the call itself', async () => {
  const longest = await inSlices([], 10, () => assert.fail('no items'));
  assert.ok(longest < 10);
});
