/**
 * The REST load of the fleet benchmark in a process of its own: options as JSON on stdin, the
 * figures as one JSON line on stdout. SIGTERM stops the load early.
 */
import { runRestLoad, type RestLoadOptions } from './rest-load.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const load = runRestLoad(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RestLoadOptions);
process.once('SIGTERM', () => load.stop());
load.done.then(
  (figures) => process.stdout.write(`${JSON.stringify(figures)}\n`),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
