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
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).msg),
    ['shown'],
  );
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

test('a secret containing a quote and a backslash is scrubbed in the message, fields, nested fields and errors', () => {
  const secret = 'pa"ss\\wo\'rd-42';
  registerSecret(secret);
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  log.error(`login with ${secret} failed`, {
    password: secret,
    target: { dsn: `mysql://monitor:${secret}@db1`, attempts: [secret, 1] },
    [`key-${secret}`]: true,
    err: Object.assign(new Error(`Access denied (using password ${secret})`), { code: 'ER_ACCESS_DENIED_ERROR' }),
  });
  log.child({ inherited: secret }).warn('child', { nested: { err: new Error(secret) } });
  assert.equal(lines.length, 2);
  const escaped = JSON.stringify(secret).slice(1, -1);
  for (const line of lines) {
    assert.ok(!line.includes(secret), line);
    assert.ok(!line.includes(escaped), line);
    assert.ok(!line.includes('ss\\\\wo'), line);
  }
  const first = JSON.parse(lines[0]!);
  assert.equal(first.msg, 'login with *** failed');
  assert.equal(first.password, '***');
  assert.deepEqual(first.target, { dsn: 'mysql://monitor:***@db1', attempts: ['***', 1] });
  assert.equal(first['key-***'], true);
  assert.deepEqual(first.err, { message: 'Access denied (using password ***)', code: 'ER_ACCESS_DENIED_ERROR' });
  const second = JSON.parse(lines[1]!);
  assert.equal(second.inherited, '***');
  assert.equal(second.nested.err.message, '***');
});

test('a record with a cycle, a Date and a bigint is still written', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  const loop: Record<string, unknown> = { name: 'loop' };
  loop.self = loop;
  log.info('odd values', { loop, at: new Date(0), big: 12n });
  const rec = JSON.parse(lines[0]!);
  assert.deepEqual(rec.loop, { name: 'loop', self: '[Circular]' });
  assert.equal(rec.at, '1970-01-01T00:00:00.000Z');
  assert.equal(rec.big, '12');
});
