import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const heapModule = path.join(import.meta.dirname, '..', '..', 'src', 'cli', 'heap.ts');

/** Runs boundHeapGrowth in a child with these Node.js flags, so the test runner's own heap is left alone. */
function boundIn(flags: string[]): string {
  const code = `import(${JSON.stringify(heapModule)}).then((m) => process.stdout.write(String(m.boundHeapGrowth())))`;
  return execFileSync(process.execPath, [...flags, '--import', 'tsx', '-e', code], { encoding: 'utf8' });
}

test('the daemon bounds the heap growth itself', () => {
  assert.equal(boundIn([]), 'true');
});

test('a --heap-growing-percent given to Node.js is kept, in either spelling', () => {
  assert.equal(boundIn(['--heap-growing-percent=50']), 'false');
  assert.equal(boundIn(['--heap_growing_percent=50']), 'false');
});
