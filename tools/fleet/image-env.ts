/**
 * The environment a Dockerfile's runtime stage gives the container (its ENV lines), so that the
 * fleet benchmark runs the daemon with the runtime tuning that ships and the Dockerfile's test
 * reads the same values.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Variables of the image that tune Node.js and the C library rather than the daemon's config. */
export const RUNTIME_TUNING_VARIABLES = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'] as const;

/** The runtime (last) stage's ENV as key → value; quotes around a value are removed. */
export function imageEnv(dockerfile: string): Record<string, string> {
  const runtime = dockerfile.slice(Math.max(0, dockerfile.lastIndexOf('\nFROM ')));
  const env: Record<string, string> = {};
  const joined = runtime
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  for (const [, block] of joined.matchAll(/^ENV (.*)$/gm)) {
    for (const [, key, quoted, bare] of block!.matchAll(/(\w+)=(?:"([^"]*)"|(\S+))/g)) env[key!] = quoted ?? bare!;
  }
  return env;
}

/** The runtime tuning of the Dockerfile in `root`: none when it has no Dockerfile. */
export function shippedRuntimeTuning(root: string): { nodeFlags: string; env: Record<string, string> } {
  const file = path.join(root, 'Dockerfile');
  const env = fs.existsSync(file) ? imageEnv(fs.readFileSync(file, 'utf8')) : {};
  const tuning: Record<string, string> = {};
  for (const key of RUNTIME_TUNING_VARIABLES) if (key !== 'NODE_OPTIONS' && env[key] !== undefined) tuning[key] = env[key]!;
  return { nodeFlags: env.NODE_OPTIONS ?? '', env: tuning };
}
