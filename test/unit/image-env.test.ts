/**
 * The NAME=VALUE reading that the benchmark's --daemon-env and the Dockerfile's ENV lines share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageEnv, parseAssignments } from '../../tools/fleet/image-env.ts';

test('pairs separated by white space, quoted values with spaces, empty values; other words are named as invalid', () => {
  assert.deepEqual(parseAssignments(' MALLOC_ARENA_MAX=2  NODE_OPTIONS="--max-semi-space-size=4 --trace-gc" EMPTY= '), {
    env: { MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=4 --trace-gc', EMPTY: '' },
    invalid: [],
  });
  assert.deepEqual(parseAssignments('A=1 oops =2 9X=3').invalid, ['oops', '=2', '9X=3']);
});

test("a Dockerfile's environment is its last stage's ENV lines, continued lines joined and comments left out", () => {
  const dockerfile = [
    'FROM build AS b',
    'ENV BUILD_ONLY=1',
    'FROM runtime',
    '# ENV COMMENTED=1',
    'ENV NODE_OPTIONS="--max-semi-space-size=4" \\',
    '    MALLOC_ARENA_MAX=2',
    'ENV PORT=9106',
  ].join('\n');
  assert.deepEqual(imageEnv(dockerfile), { NODE_OPTIONS: '--max-semi-space-size=4', MALLOC_ARENA_MAX: '2', PORT: '9106' });
});
