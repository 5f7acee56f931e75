// Loaded into the soak's daemon (node --expose-gc --import=…): a full garbage collection every
// few seconds, so that the memory the soak measures is what stays live, not garbage that the
// next major collection would free. How long V8 lets garbage pile up depends on how much a cycle
// allocates, and a three-minute run can end before the first major collection: growth then, but
// no leak. The checkpoint worker's thread loads this too; only the main thread collects.
import process from 'node:process';
import { setInterval } from 'node:timers';
import { isMainThread } from 'node:worker_threads';

const EVERY_MS = Number(process.env.SOAK_FULL_GC_MS ?? 3000);
if (isMainThread && typeof globalThis.gc === 'function') setInterval(() => globalThis.gc(), EVERY_MS).unref();
