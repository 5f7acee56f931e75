/**
 * How far V8 lets the heap grow between full garbage collections, for the long-running daemon.
 *
 * On a machine with a few GiB or more, V8 lets the old generation grow up to 4× what the last
 * full collection left alive before it collects again. The daemon's live heap is steady (its
 * history lives in typed arrays outside the heap, and a cycle's garbage is short-lived), so that
 * headroom is only resident memory. With a 20% bound it stays within a fifth of what is alive, for
 * a few more full collections, which run mostly on a helper thread: at 1,000 nodes the heap
 * reserved 80 MB for 62 MB used, against 131 MB for 94 MB without it, at the same CPU (the
 * README's scale table, `npm run bench:fleet`, with and without the image's runtime tuning).
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 20;

/** Bounds the heap's growth unless the process was started with its own --heap-growing-percent. */
export function boundHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
