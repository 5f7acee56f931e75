/**
 * Makes sure dist/ holds a build of the sources the benchmark means to measure: the daemon runs
 * compiled, as in production, never under tsx.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export type BuildMode = 'auto' | 'always' | 'never';

/**
 * The daemon as the package runs it: its `bin` (the production bundle, dist/gcache-advisor.js),
 * or dist/cli/main.js for a checkout from before the bundle (measured with --root).
 */
export function daemonEntry(root: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  return path.join(root, pkg.bin?.['gcache-advisor'] ?? path.join('dist', 'cli', 'main.js'));
}

/** The first source file whose compiled counterpart, or the entry built from them all, is missing or older than it; or null. */
export function staleSource(root: string, entryFile = daemonEntry(root)): string | null {
  const srcDir = path.join(root, 'src');
  const entryTime = fs.existsSync(entryFile) ? fs.statSync(entryFile).mtimeMs : -Infinity;
  const walk = (dir: string): string | null => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = walk(file);
        if (found) return found;
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const compiled = path.join(root, 'dist', path.relative(srcDir, file)).replace(/\.ts$/, '.js');
        const sourceTime = fs.statSync(file).mtimeMs;
        if (!fs.existsSync(compiled) || fs.statSync(compiled).mtimeMs < sourceTime || entryTime < sourceTime) return path.relative(root, file);
      }
    }
    return null;
  };
  return walk(srcDir);
}

/** Builds with `npm run build` when asked to, or (auto) when a source is newer than its build; returns the daemon's entry. */
export function ensureBuild(root: string, mode: BuildMode, say: (line: string) => void): string {
  const entry = daemonEntry(root);
  if (mode === 'never') {
    if (!fs.existsSync(entry)) throw new Error(`--build never: ${path.relative(process.cwd(), entry) || entry} does not exist; run npm run build`);
    return entry;
  }
  const stale = mode === 'always' ? 'requested' : staleSource(root, entry);
  if (stale === null) {
    say('dist/ is up to date with src/');
    return entry;
  }
  say(`building (${mode === 'always' ? 'requested' : `${stale} is newer than its build`}): npm run build`);
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', process.stderr, process.stderr] });
  if (result.status !== 0)
    throw new Error(`npm run build failed in ${root} (exit ${result.status ?? result.signal}); fix the build or pass --build never to measure the existing dist/`);
  return entry;
}
