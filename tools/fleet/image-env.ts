/**
 * The environment a Dockerfile's runtime stage gives the container (its ENV lines), so that the
 * fleet benchmark runs the daemon with the runtime tuning that ships and the Dockerfile's test
 * reads the same values.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Variables of the image, besides NODE_OPTIONS, that tune the runtime (here the C library's allocator) rather than the daemon. */
const RUNTIME_TUNING_ENV = ['MALLOC_ARENA_MAX'] as const;

/**
 * NAME=VALUE pairs separated by white space, a value in double quotes when it holds spaces (as in
 * a Dockerfile's ENV, or the benchmark's --daemon-env); `invalid` lists the words that are not pairs.
 */
export function parseAssignments(text: string): { env: Record<string, string>; invalid: string[] } {
  const env: Record<string, string> = {};
  const invalid: string[] = [];
  for (const [word, key, quoted, bare] of text.matchAll(/([A-Za-z_]\w*)=(?:"([^"]*)"|(\S*))|\S+/g)) {
    if (key === undefined) invalid.push(word);
    else env[key] = quoted ?? bare!;
  }
  return { env, invalid };
}

/** The runtime (last) stage's ENV as key → value; quotes around a value are removed. */
export function imageEnv(dockerfile: string): Record<string, string> {
  const runtime = dockerfile.slice(Math.max(0, dockerfile.lastIndexOf('\nFROM ')));
  const env: Record<string, string> = {};
  const joined = runtime
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  for (const [, block] of joined.matchAll(/^ENV (.*)$/gm)) Object.assign(env, parseAssignments(block!).env);
  return env;
}

/** The runtime tuning of the Dockerfile in `root`: none when it has no Dockerfile. */
export function shippedRuntimeTuning(root: string): { nodeFlags: string; env: Record<string, string> } {
  const file = path.join(root, 'Dockerfile');
  const env = fs.existsSync(file) ? imageEnv(fs.readFileSync(file, 'utf8')) : {};
  const tuning: Record<string, string> = {};
  for (const key of RUNTIME_TUNING_ENV) if (env[key] !== undefined) tuning[key] = env[key]!;
  return { nodeFlags: env.NODE_OPTIONS ?? '', env: tuning };
}
