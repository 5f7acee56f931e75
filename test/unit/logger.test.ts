import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, registerSecret } from '../../src/log/logger.ts';
import { classifyFailure } from '../../src/sampler/failure.ts';

test('registered secrets are scrubbed from every log line, fields and errors included', () => {
  registerSecret('https://hooks.example.invalid/T000/B000/XXXX');
  registerSecret('p4ssw0rd-value');
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  log.error('post to https://hooks.example.invalid/T000/B000/XXXX failed', { err: new Error('auth p4ssw0rd-value rejected'), url: 'https://hooks.example.invalid/T000/B000/XXXX' });
  log.child({ node: 'db1' }).info('ok');
  assert.equal(lines.length, 2);
  assert.doesNotMatch(lines.join('\n'), /p4ssw0rd-value|hooks\.example\.invalid/);
  assert.match(lines[0]!, /\*\*\*/);
  assert.equal(JSON.parse(lines[1]!).node, 'db1');
});

test('log level filters lower levels', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
  log.info('hidden');
  log.warn('shown');
  assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ['shown']);
});

test('failures are sorted into stable reasons, secrets scrubbed', () => {
  registerSecret('another-secret-pw');
  assert.equal(classifyFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).reason, 'unreachable');
  assert.equal(classifyFailure(Object.assign(new Error('late'), { code: 'DEADLINE' })).reason, 'timeout');
  assert.equal(classifyFailure(Object.assign(new Error('Access denied for user'), { code: 'ER_ACCESS_DENIED_ERROR' })).reason, 'auth');
  const f = classifyFailure(new Error('oops another-secret-pw'));
  assert.equal(f.reason, 'query');
  assert.doesNotMatch(f.message, /another-secret-pw/);
});
