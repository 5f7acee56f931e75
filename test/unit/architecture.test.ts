/**
 * The pipeline's stages import only from the stages before them (ARCHITECTURE.md): read from
 * the sources themselves, so an import that runs backwards fails here, naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.join(import.meta.dirname, '..', '..', 'src');

/** The stages in pipeline order; `daemon` is src/*.ts (the composition root and the version). */
const ORDER = ['units', 'log', 'loop', 'sinks', 'config', 'sampler', 'analysis', 'store', 'rules', 'alerts', 'metrics', 'pipeline', 'http', 'daemon', 'cli'] as const;
/** Stages with the same rank may import each other's modules: none today. */
const rank = (stage: string): number => ORDER.indexOf(stage as (typeof ORDER)[number]);

function stageOf(file: string): string {
  const [first, ...rest] = path.relative(SRC, file).split(path.sep);
  return rest.length === 0 ? 'daemon' : first!;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative module specifiers of every import and export-from, type-only ones included. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'(\.[^']+)'/gm), ...text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1]!);
}

test('every folder under src/ is a stage of the pipeline order', () => {
  const folders = fs
    .readdirSync(SRC, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.deepEqual(
    folders.filter((f) => rank(f) < 0),
    [],
    `add the folder to ORDER here and to ARCHITECTURE.md's stage table`,
  );
});

test('no import runs backwards in the pipeline', () => {
  const backwards: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = stageOf(file);
    for (const spec of importsOf(file)) {
      const target = path.resolve(path.dirname(file), spec);
      const to = stageOf(target);
      if (to !== from && rank(to) > rank(from)) backwards.push(`${path.relative(SRC, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.deepEqual(backwards, []);
});

test('no code is generated at run time: no eval, no new Function (rule text and config are data, never code)', () => {
  const found = sourceFiles(SRC).flatMap((file) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((line, i) => [line, i] as const)
      .filter(([line]) => /\beval\s*\(|\bnew\s+Function\s*\(|\bFunction\s*\(\s*['"`]/.test(line))
      .map(([, i]) => `${path.relative(SRC, file)}:${i + 1}`),
  );
  assert.deepEqual(found, []);
});
