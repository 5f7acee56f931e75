import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseExpression, evaluate, namesIn, truthy, ExpressionError, MAX_EXPRESSION_DEPTH } from '../../src/rules/expression.ts';
import { parseRuleFile, loadRules, RuleFileError } from '../../src/rules/rule-file.ts';
import { renderTemplate, truncateValue, MAX_RENDERED_VALUE_CHARS } from '../../src/rules/template.ts';
import { step } from '../../src/rules/lifecycle.ts';
import { backoffMs } from '../../src/alerts/backoff.ts';
import { routes, fingerprintOf } from '../../src/rules/engine.ts';

const ev = (expr: string, values: Record<string, number | string | boolean | null> = {}) => evaluate(parseExpression(expr), values);

test('expressions: comparison, logic, arithmetic, units, strings', () => {
  assert.equal(ev('window < target_window', { window: 1800, target_window: 3600 }), true);
  assert.equal(ev('window < target_window / 2', { window: 1800, target_window: 3600 }), false);
  assert.equal(ev('ist_budget < 30m', { ist_budget: 1700 }), true);
  assert.equal(ev('gcache_size >= 1G', { gcache_size: 2 ** 30 }), true);
  assert.equal(ev('gcache_size < 512M', { gcache_size: 128 * 2 ** 20 }), true);
  assert.equal(ev("reachable and (local_state != 'Synced' or cluster_status != 'Primary')", { reachable: true, local_state: 'Donor/Desynced', cluster_status: 'Primary' }), true);
  assert.equal(ev('not synced', { synced: true }), false);
  assert.equal(ev('-1 * 2 + 3 == 1'), true);
  assert.equal(ev('1h30m == 5400'), true);
  assert.equal(ev('gcache_recover == false', { gcache_recover: false }), true);
});

test('expressions: an unknown value never fires a rule (three-valued logic)', () => {
  const fires = (expr: string, values: Record<string, number | string | boolean | null>) => truthy(ev(expr, values));
  assert.equal(fires('window < target_window', { window: null, target_window: 3600 }), false);
  assert.equal(fires('window * 2 > 1', { window: null }), false);
  assert.equal(fires('not (window < 5)', { window: null }), false);
  assert.equal(fires('gcache_recover == false', { gcache_recover: null }), false);
  assert.equal(fires('trend_days_to_target <= 7', { trend_days_to_target: null }), false);
  assert.equal(ev('window < 5 and false', { window: null }), false);
  assert.equal(ev('window < 5 or true', { window: null }), true);
  assert.equal(ev('window < 5 or false', { window: null }), null);
  assert.equal(fires('measured_window == null', { measured_window: null }), true);
});

test('expressions: syntax errors say what and where', () => {
  const bad: Array<[string, RegExp]> = [
    ['window <', /expected a value but found the end of the expression/],
    ['window < 5 )', /unexpected "\)"/],
    ['(window < 5', /expected "\)"/],
    ['window < 5x', /unknown unit "x"/],
    ['window ; 5', /unexpected character ";"/],
    ["local_state == 'Synced", /unterminated string/],
    ['process.exit(1)', /unexpected character "\."/],
  ];
  for (const [text, message] of bad) {
    assert.throws(
      () => parseExpression(text),
      (e: Error) => e instanceof ExpressionError && message.test(e.message),
      text,
    );
  }
  try {
    parseExpression('window < < 5');
  } catch (e) {
    assert.equal((e as ExpressionError).column, 10);
  }
});

test('templates render values with their units', () => {
  const values = { node: 'db1', window: 2520, gcache_size: 512 * 2 ** 20, write_rate_short: 1.5 * 2 ** 20, trend_days_to_target: 3.25, donor: null };
  assert.equal(renderTemplate('{{ node }}: window {{ window }}, gcache {{ gcache_size }}', values), 'db1: window 42 min, gcache 512 MiB');
  assert.equal(renderTemplate('{{ write_rate_short }} / {{ trend_days_to_target }} / {{ donor }}', values), '1.50 MiB/s / 3.3 days / unknown');
  assert.equal(renderTemplate('{{ window | number }}', values), '2520');
});

const goodRule = `name: TestRule
condition: window < target_window
for: 5m
severity: warning
labels:
  team: dba
summary: "{{ node }} window {{ window }}"
`;

test('a rule file parses into a rule', () => {
  const r = parseRuleFile(goodRule, 'rules/test.yaml');
  assert.equal(r.name, 'TestRule');
  assert.equal(r.scope, 'node');
  assert.equal(r.forSeconds, 300);
  assert.deepEqual(r.labels, { team: 'dba' });
});

test('broken rule files are refused with the file, the line and the problem', () => {
  const cases: Array<[string, RegExp]> = [
    [goodRule.replace('window < target_window', 'window < < target_window'), /^rules\/bad\.yaml:2: condition: expected a value but found "<" at column 10$/],
    [goodRule.replace('window < target_window', 'windw < target_window'), /^rules\/bad\.yaml:2: condition: unknown name "windw" for a node rule/],
    [goodRule.replace('for: 5m', 'for: five minutes'), /^rules\/bad\.yaml:3: for: expected a duration such as 90s/],
    [goodRule.replace('severity: warning', 'severity: urgent'), /^rules\/bad\.yaml:4: severity: expected one of critical, warning, info$/],
    [goodRule.replace('  team: dba', '  node: db1'), /^rules\/bad\.yaml:6: labels\.node: "node" is set by gcache-advisor itself$/],
    [goodRule.replace('{{ window }}', '{{ window | weeks }}'), /^rules\/bad\.yaml:7: summary: unknown format "weeks"/],
    [goodRule.replace('{{ window }}', '{{ windw }}'), /^rules\/bad\.yaml:7: summary: unknown name "windw"/],
    [goodRule + 'extra: 1\n', /^rules\/bad\.yaml:8: extra: unknown key$/],
    [goodRule.replace('severity: warning\n', ''), /^rules\/bad\.yaml:1: severity: expected one of/],
    ['name: [unclosed\n', /^rules\/bad\.yaml:\d+: invalid YAML/],
    [goodRule.replace('name: TestRule', 'name: Test Rule'), /^rules\/bad\.yaml:1: name: expected a name of letters/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(
      () => parseRuleFile(text, 'rules/bad.yaml'),
      (e: Error) => e instanceof RuleFileError && expected.test(e.message),
      `${expected} for:\n${text}`,
    );
  }
});

test('the shipped rules load, and a folder with one bad file is refused whole', () => {
  const rules = loadRules(path.join(import.meta.dirname, '..', '..', 'rules'));
  const names = rules.map((r) => r.name);
  for (const n of [
    'GaleraReplicationWindowBelowTarget',
    'GaleraReplicationWindowCritical',
    'GaleraISTBudgetBelowMaintenanceAllowance',
    'GaleraPageStorePurge',
    'GaleraGcacheRecoverOff',
    'GaleraGcacheSizeMismatch',
    'GaleraNodeNotSynced',
    'GcacheAdvisorNodeNotSampled',
    'GaleraWindowTrendCrossesTarget',
  ]) {
    assert.ok(names.includes(n), n);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-rules-'));
  fs.writeFileSync(path.join(dir, 'a.yaml'), goodRule);
  fs.writeFileSync(path.join(dir, 'b.yaml'), goodRule.replace('TestRule', 'Other').replace('window <', 'window <<'));
  assert.throws(() => loadRules(dir), /b\.yaml:2: condition/);
  fs.writeFileSync(path.join(dir, 'b.yaml'), goodRule);
  assert.throws(() => loadRules(dir), /b\.yaml:1: name: "TestRule" is also the name of the rule in .*a\.yaml/);
});

test('lifecycle: inactive → pending → firing → repeat → resolved, and a pending alert dropped', () => {
  let s = step(null, true, 0, 60, 3600);
  assert.equal(s.transition, 'pending');
  s = step(s.next, true, 30_000, 60, 3600);
  assert.equal(s.transition, null);
  assert.equal(s.next!.state, 'pending');
  s = step(s.next, true, 60_000, 60, 3600);
  assert.equal(s.transition, 'firing');
  assert.equal(s.next!.firedAt, 60_000);
  s = step(s.next, true, 120_000, 60, 3600);
  assert.equal(s.transition, null);
  s = step(s.next, true, 60_000 + 3600_000, 60, 3600);
  assert.equal(s.transition, 'repeat');
  s = step(s.next, false, 4000_000, 60, 3600);
  assert.equal(s.transition, 'resolved');
  assert.equal(s.next, null);
  const dropped = step(step(null, true, 0, 60, 3600).next, false, 10_000, 60, 3600);
  assert.equal(dropped.transition, 'dropped');
  assert.equal(step(null, true, 0, 0, 3600).transition, 'firing', 'for: 0s fires at once');
});

test('backoff doubles with jitter, is capped, and honours Retry-After', () => {
  assert.equal(
    backoffMs(1, null, () => 0.5),
    1000,
  );
  assert.equal(
    backoffMs(4, null, () => 0.5),
    8000,
  );
  assert.equal(
    backoffMs(3, null, () => 0),
    2000,
  );
  assert.equal(
    backoffMs(3, null, () => 1),
    6000,
  );
  assert.equal(
    backoffMs(30, null, () => 0.5),
    300_000,
  );
  assert.equal(
    backoffMs(1, 30_000, () => 0.5),
    30_000,
  );
});

test('routing by severity and cluster; fingerprints ignore label order', () => {
  const alert = { severity: 'warning', labels: { cluster: 'prod' } };
  assert.equal(routes({ severities: null, clusters: null }, alert), true);
  assert.equal(routes({ severities: ['critical'], clusters: null }, alert), false);
  assert.equal(routes({ severities: ['critical', 'warning'], clusters: ['prod'] }, alert), true);
  assert.equal(routes({ severities: null, clusters: ['staging'] }, alert), false);
  assert.equal(fingerprintOf({ a: '1', b: '2' }), fingerprintOf({ b: '2', a: '1' }));
});

test('expressions: nesting deeper than the limit is a clear error, not a stack overflow', () => {
  assert.equal(MAX_EXPRESSION_DEPTH, 100);
  const tooDeep = /^nested more than 100 levels deep/;
  // The column is that of the 101st "(", "not" or "-", or of a chain's 100th operator (the 101st level).
  const hostile: Array<[string, string, number]> = [
    ['5,000 parentheses', '('.repeat(5000) + 'window' + ')'.repeat(5000), 101],
    ['5,000 not', 'not '.repeat(5000) + 'synced', 401],
    ['5,000 unary minus', '-'.repeat(5000) + 'window < 0', 101],
    ['a chain of 50,000 additions', Array(50_000).fill('window').join(' + ') + ' > 0', 99 * 'window + '.length + 8],
    ['a chain of 50,000 ands', Array(50_000).fill('synced').join(' and '), 99 * 'synced and '.length + 8],
  ];
  for (const [what, text, column] of hostile) {
    assert.throws(
      () => evaluate(parseExpression(text), { window: 1, synced: true }),
      (e: Error) => e instanceof ExpressionError && tooDeep.test(e.message) && e.column === column,
      what,
    );
  }
  // At the limit itself, everything still works, evaluation and name listing included.
  const deepest = '('.repeat(100) + 'window' + ')'.repeat(100) + ' < 5';
  assert.equal(ev(deepest, { window: 1 }), true);
  const longest = Array(100).fill('window').join(' + ');
  assert.equal(ev(longest, { window: 1 }), 100);
  assert.equal(namesIn(parseExpression(longest)).length, 100);
  assert.equal(ev('not '.repeat(99) + 'synced', { synced: true }), false);
});

test('a rule file with a too deeply nested condition names the file, the line and the problem', () => {
  const text = goodRule.replace('window < target_window', '('.repeat(5000) + 'window' + ')'.repeat(5000) + ' < target_window');
  assert.throws(
    () => parseRuleFile(text, 'rules/deep.yaml'),
    (e: Error) => e instanceof RuleFileError && /^rules\/deep\.yaml:2: condition: nested more than 100 levels deep \(.*\) at column 101$/.test(e.message),
  );
  const chain = goodRule.replace('window < target_window', Array(5000).fill('window').join(' * ') + ' < target_window');
  assert.throws(() => parseRuleFile(chain, 'rules/deep.yaml'), /^RuleFileError: rules\/deep\.yaml:2: condition: nested more than 100 levels deep/);
});

test('templates cut a single rendered value longer than the limit, with an ellipsis', () => {
  assert.equal(MAX_RENDERED_VALUE_CHARS, 1000);
  const rendered = renderTemplate('donor {{ donor }} ok', { donor: 'd'.repeat(5000) });
  assert.equal(rendered, `donor ${'d'.repeat(999)}… ok`);
  assert.equal(renderTemplate('{{ donor }}', { donor: 'd'.repeat(1000) }), 'd'.repeat(1000), 'exactly the limit is kept whole');
  assert.equal(truncateValue('abcdef', 4), 'abc…');
  assert.equal(truncateValue('ab😀cd', 4), 'ab…', 'a surrogate pair is never split');
  assert.equal(truncateValue('short'), 'short');
});
