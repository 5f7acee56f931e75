/**
 * Makes sure dist/ holds a build of the sources the benchmark means to measure: the daemon runs
 * compiled, as in production, never under tsx.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export type BuildMode = 'auto' | 'always' | 'never';

/** The first source file whose compiled counterpart is missing or older than it, or null. */
export function staleSource(root: string): string | null {
  const srcDir = path.join(root, 'src');
  const walk = (dir: string): string | null => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        const found = walk(file);
        if (found) return found;
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const compiled = path.join(root, 'dist', path.relative(srcDir, file)).replace(/\.ts$/, '.js');
        if (!fs.existsSync(compiled) || fs.statSync(compiled).mtimeMs < fs.statSync(file).mtimeMs) return path.relative(root, file);
      }
    }
    return null;
  };
  return walk(srcDir);
}

/** Builds with `npm run build` when asked to, or (auto) when a source is newer than its build. */
export function ensureBuild(root: string, mode: BuildMode, say: (line: string) => void): void {
  const entry = path.join(root, 'dist', 'cli', 'main.js');
  if (mode === 'never') {
    if (!fs.existsSync(entry)) throw new Error(`--build never: ${path.relative(process.cwd(), entry) || entry} does not exist; run npm run build`);
    return;
  }
  const stale = mode === 'always' ? 'requested' : staleSource(root);
  if (stale === null) {
    say('dist/ is up to date with src/');
    return;
  }
  say(`building (${mode === 'always' ? 'requested' : `${stale} is newer than its build`}): npm run build`);
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', process.stderr, process.stderr] });
  if (result.status !== 0)
    throw new Error(`npm run build failed in ${root} (exit ${result.status ?? result.signal}); fix the build or pass --build never to measure the existing dist/`);
}
