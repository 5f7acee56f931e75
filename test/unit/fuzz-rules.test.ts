/**
 * Property-based tests of the rule files: any text as a rule file gives a rule or a RuleFileError
 * "file:line: ..." (never another exception, never a stack overflow); any condition text gives a
 * tree or an ExpressionError with its column, however deep the nesting; evaluating any tree over
 * any values gives a value; any template renders to a string whose every value is bounded.
 * FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failing one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import { evaluate, ExpressionError, namesIn, parseExpression, type Node, type Value } from '../../src/rules/expression.ts';
import { loadRules, parseRuleFile, RuleFileError, type Rule } from '../../src/rules/rule-file.ts';
import { MAX_RENDERED_VALUE_CHARS, renderTemplate, templateNames } from '../../src/rules/template.ts';
import { NODE_VARIABLES } from '../../src/rules/variables.ts';

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const runs = (numRuns: number) => ({ numRuns, includeErrorInReport: true, ...(seed === undefined ? {} : { seed }) });

const KNOWN = Object.keys(NODE_VARIABLES);
/** Names that every plain object answers through its prototype: never a value of a rule. */
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];
const NAMES = [...KNOWN.slice(0, 8), ...PROTOTYPE_NAMES, 'x', 'y', 'nan', 'NaN', 'Infinity', 'undefined'];

/** Any value a rule can see: unknown, numbers of every kind, strings (huge ones too), booleans. */
const value: fc.Arbitrary<Value> = fc.oneof(
  fc.constant(null),
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, 2 ** 53 + 2),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.nat({ max: 50_000 }).map((n) => '😀'.repeat(n + 500)),
  fc.boolean(),
);
const values = fc.dictionary(fc.constantFrom(...NAMES), value, { maxKeys: 12 });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isValue(v: unknown): v is Value {
  return v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
}

// --- conditions ------------------------------------------------------------------------------

const NUMBERS = [
  '0',
  '1',
  '42',
  '1.5',
  '1e309',
  '1e3',
  '-0',
  '0.000001',
  '9'.repeat(400),
  '99999999999999999999T',
  '1h30m',
  '250ms',
  '512M',
  '2GiB',
  '3KB',
  '5x',
  '1.',
  '.5',
  '0x10',
  '١٢',
];
const exprToken = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 3, arbitrary: fc.constantFrom(...NAMES, 'and', 'or', 'not', 'true', 'false', 'null', 'ünï') },
  { weight: 4, arbitrary: fc.constantFrom('<', '<=', '>', '>=', '==', '!=', '=', '!', '+', '-', '*', '/', '%', '(', ')', '((', '))', ' ', ' ', '\t', '\n') },
  fc.constantFrom("'abc'", '"x y"', "'", '"', "'unterminated", '😀', '\u0000', '\u2028', '#', ',', '.'),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const exprSoup = fc.array(exprToken, { maxLength: 40 }).map((t) => t.join(''));

/** Well-formed conditions, nested at random: most parse, the deep ones must be refused clearly. */
const { expr: wellFormed } = fc.letrec<{ expr: string; leaf: string }>((tie) => ({
  leaf: fc.oneof(fc.constantFrom(...NUMBERS.slice(0, 8), 'true', 'false', 'null', "'s'"), fc.constantFrom(...NAMES)),
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.tuple(fc.constantFrom('not ', '-', 'not -'), tie('expr')).map(([op, e]) => `${op}${e}`),
    fc.tuple(tie('expr'), fc.constantFrom(' and ', ' or ', ' < ', ' <= ', ' == ', ' != ', ' + ', ' - ', ' * ', ' / '), tie('expr')).map(([l, op, r]) => `${l}${op}${r}`),
    tie('expr').map((e) => `(${e})`),
  ),
}));

/** Nesting far beyond the limit: parentheses, prefixes, and operator chains. */
const deep = fc
  .tuple(fc.integer({ min: 90, max: 20_000 }), fc.constantFrom('paren', 'not', 'neg', 'mixed', 'chain', 'andchain', 'parenchain'), fc.constantFrom(...NAMES.slice(0, 3)))
  .map(([n, shape, name]) => {
    switch (shape) {
      case 'paren':
        return '('.repeat(n) + name + ')'.repeat(n);
      case 'not':
        return 'not '.repeat(n) + name;
      case 'neg':
        return '-'.repeat(n) + name;
      case 'mixed':
        return '(-(not '.repeat(n) + name + ')))'.repeat(n);
      case 'chain':
        return Array.from({ length: n }, () => name).join(' + ');
      case 'andchain':
        return Array.from({ length: n }, () => `${name} > 1`).join(' and ');
      default:
        return `${'(x + '.repeat(n)}x${')'.repeat(n)}`;
    }
  });

function checkCondition(text: string): Node | null {
  let tree: Node;
  try {
    tree = parseExpression(text);
  } catch (err) {
    assert.ok(err instanceof ExpressionError, `expected an ExpressionError for ${JSON.stringify(text.slice(0, 80))}, got ${String(err)}`);
    assert.ok(Number.isInteger(err.column) && err.column >= 1 && err.column <= text.length + 1, `column ${err.column} of ${text.length + 1}`);
    assert.ok(!/call stack/i.test(err.message), err.message);
    assert.ok(err.message.length <= 300, `message of ${err.message.length} chars: ${err.message.slice(0, 120)}…`);
    return null;
  }
  for (const name of namesIn(tree)) assert.equal(typeof name, 'string');
  return tree;
}

test('conditions: any text is a tree or an ExpressionError with its column, and any tree evaluates to a value', () => {
  fc.assert(
    fc.property(fc.oneof(exprSoup, wellFormed, fc.string({ unit: 'binary', maxLength: 60 })), values, (text, vars) => {
      const tree = checkCondition(text);
      if (tree) {
        const result = evaluate(tree, vars);
        assert.ok(isValue(result), `${text} evaluated to a ${typeof result}`);
      }
    }),
    runs(3000),
  );
});

test('conditions: nesting of any depth is a tree or a clear "nested more than" error, never a stack overflow', () => {
  fc.assert(
    fc.property(fc.oneof(deep, wellFormed), values, (text, vars) => {
      const tree = checkCondition(text);
      if (tree) assert.ok(isValue(evaluate(tree, vars)));
    }),
    runs(200),
  );
});

test('conditions: names that only a prototype knows are unknown (null), not a function or an object', () => {
  fc.assert(
    fc.property(fc.constantFrom(...PROTOTYPE_NAMES), values, (name, vars) => {
      const own = Object.hasOwn(vars, name) ? vars[name]! : null;
      assert.equal(evaluate(parseExpression(name), vars), own);
      assert.equal(evaluate(parseExpression(`${name} == null`), vars), own === null);
    }),
    runs(200),
  );
});

// --- templates -------------------------------------------------------------------------------

const FORMATS = ['duration', 'bytes', 'rate', 'days', 'number', 'json', 'upper', ''];
const templateToken = fc.oneof(
  fc.constantFrom('{{', '}}', '{', '}', '|', ' ', '{{ ', ' }}', '\n', 'text', '😀', '\u0000'),
  fc.constantFrom(...NAMES),
  fc.constantFrom(...FORMATS),
  fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...FORMATS), fc.constantFrom('', ' ', '  ')).map(([n, f, s]) => (f ? `{{${s}${n}${s}|${s}${f}${s}}}` : `{{${s}${n}${s}}}`)),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const template = fc.oneof(
  fc.array(templateToken, { maxLength: 30 }).map((t) => t.join('')),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

test('templates: any template renders to a string, each value cut to the maximum; templateNames gives names or an Error', () => {
  fc.assert(
    fc.property(template, values, (text, vars) => {
      const rendered = renderTemplate(text, vars);
      assert.equal(typeof rendered, 'string');
      const placeholders = text.match(/\{\{/g)?.length ?? 0;
      assert.ok(rendered.length <= text.length + placeholders * MAX_RENDERED_VALUE_CHARS, `${rendered.length} chars from a template of ${text.length}`);
      try {
        for (const name of templateNames(text)) assert.equal(typeof name, 'string');
      } catch (err) {
        assert.ok(err instanceof Error && err.constructor === Error && err.message.length > 0, String(err));
      }
    }),
    runs(3000),
  );
});

test('templates: one value renders to at most the maximum, never splitting a character, and an unset name is "unknown"', () => {
  fc.assert(
    fc.property(fc.constantFrom(...NAMES), fc.constantFrom(...FORMATS.filter((f) => !['json', 'upper'].includes(f))), value, (name, format, v) => {
      const text = format ? `{{ ${name} | ${format} }}` : `{{ ${name} }}`;
      const rendered = renderTemplate(text, { [name]: v });
      assert.ok(rendered.length <= MAX_RENDERED_VALUE_CHARS, `${rendered.length} chars for ${text}`);
      if (typeof v !== 'string' || !LONE_SURROGATE.test(v)) assert.ok(!LONE_SURROGATE.test(rendered), `a split surrogate pair in ${JSON.stringify(rendered.slice(-4))}`);
      assert.equal(renderTemplate(text, {}), 'unknown');
    }),
    runs(2000),
  );
});

// --- rule files ------------------------------------------------------------------------------

const VALID_RULE = {
  name: 'FuzzRule',
  scope: 'node',
  condition: 'window < target_window and synced',
  for: '5m',
  severity: 'warning',
  labels: { team: 'db' },
  summary: '{{ cluster }}/{{ node }}: window {{ window }}',
  description: 'target {{ target_window | duration }}',
};

/** Any YAML value, including deep and huge ones, for a key of a rule. */
const anyYamlValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.nat({ max: 100_000 }).map((n) => 'x'.repeat(n + 1000)),
  // Deeper nesting is written as text (deepYaml): YAML.stringify itself recurses.
  fc.integer({ min: 1, max: 150 }).map((n) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown),
  exprSoup,
  wellFormed,
  template,
  fc.constantFrom('1e400s', '9'.repeat(400) + 's', '-5m', '0s', 'critical', 'node', 'cluster', true, null, Number.POSITIVE_INFINITY, -0),
);

/** A valid rule with keys replaced, removed or added, written as YAML. */
const mutatedRule = fc
  .tuple(
    fc.array(
      fc.tuple(fc.constantFrom(...Object.keys(VALID_RULE), 'extra', 'labels.alertname', 'labels.bad-name', 'labels.x'), fc.constantFrom('replace', 'delete'), anyYamlValue),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([mutations]) => {
    const rule: Record<string, unknown> = structuredClone(VALID_RULE);
    for (const [key, how, v] of mutations) {
      const [top, sub] = key.split('.') as [string, string | undefined];
      const target = sub ? ((rule[top] = typeof rule[top] === 'object' && rule[top] !== null ? rule[top] : {}) as Record<string, unknown>) : rule;
      const k = sub ?? top;
      if (how === 'delete') delete target[k];
      else target[k] = v;
    }
    return YAML.stringify(rule, { aliasDuplicateObjects: false });
  });

const yamlToken = fc.oneof(
  fc.constantFrom('name', 'condition', 'severity', 'summary', 'description', 'for', 'labels', 'scope', 'unknown'),
  fc.constantFrom(
    ':',
    ': ',
    ' ',
    '  ',
    '\n',
    '- ',
    '[',
    ']',
    '{',
    '}',
    ',',
    '&a ',
    '*a',
    '*b',
    '!!str ',
    '!!binary ',
    '!!timestamp ',
    '!custom ',
    '? ',
    '|',
    '>-',
    '"',
    "'",
    '#',
    '---\n',
    '...\n',
    '%YAML 1.2\n',
    '<<: *a',
    '\t',
  ),
  fc.constantFrom('warning', 'FuzzRule', 'x > 1', '{{ node }}', '5m', 'true', '~', '1e309', '0x10'),
  fc.string({ unit: 'binary', maxLength: 5 }),
);
const yamlSoup = fc.array(yamlToken, { maxLength: 50 }).map((t) => t.join(''));

/** Aliases that expand to many copies (a "billion laughs") or point nowhere. */
const aliasBomb = fc
  .tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 8 }), fc.constantFrom('name', 'labels', 'extra', 'summary'), fc.boolean())
  .map(([width, levels, key, unresolved]) => {
    const lines = [`l0: &l0 [${Array.from({ length: width }, () => 'x').join(', ')}]`];
    for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array.from({ length: width }, () => `*l${i - 1}`).join(', ')}]`);
    lines.push(`${key}: ${unresolved ? '*nowhere' : `*l${levels - 1}`}`);
    return `${YAML.stringify(VALID_RULE)}${lines.join('\n')}\n`;
  });

/** Nesting deep enough to exhaust a recursive YAML reader. */
const deepYaml = fc
  .tuple(fc.integer({ min: 100, max: 3000 }), fc.constantFrom('flowseq', 'flowmap', 'alias', 'block'), fc.constantFrom('labels', 'extra', 'summary'))
  .map(([n, shape, key]) => {
    const nested =
      shape === 'flowseq'
        ? '['.repeat(n) + ']'.repeat(n)
        : shape === 'flowmap'
          ? '{a: '.repeat(n) + '1' + '}'.repeat(n)
          : shape === 'alias'
            ? '['.repeat(n) + '&z x, *z' + ']'.repeat(n)
            : `\n${Array.from({ length: Math.min(n, 1000) }, (_, i) => `${' '.repeat(i + 1)}- `).join('\n')}x`;
    const { [key]: _replaced, ...rest } = VALID_RULE as Record<string, unknown>;
    return `${YAML.stringify(rest)}${key}: ${nested}\n`;
  });

function checkRuleFile(text: string, file: string): Rule | null {
  try {
    return parseRuleFile(text, file);
  } catch (err) {
    assertRuleFileError(err, file);
    return null;
  }
}

function assertRuleFileError(err: unknown, file: string): void {
  assert.ok(err instanceof RuleFileError, `expected a RuleFileError, got ${(err as Error)?.name}: ${String((err as Error)?.message).slice(0, 200)}`);
  assert.ok(err.message.startsWith(`${file}:`) && /^:\d+: /.test(err.message.slice(file.length)), `no file:line: in ${err.message.slice(0, 200)}`);
  assert.ok(!/call stack/i.test(err.message), err.message.slice(0, 200));
  assert.ok(!err.message.includes('\n'), `message on one line: ${JSON.stringify(err.message.slice(0, 200))}`);
}

test('rule files: any text is a rule or a RuleFileError "file:line: ..."', () => {
  fc.assert(
    fc.property(fc.oneof(yamlSoup, mutatedRule, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
      const rule = checkRuleFile(text, 'rules/fuzz.yaml');
      if (rule) assert.ok(isValue(evaluate(rule.condition, {})));
    }),
    runs(2000),
  );
});

test('rule files: alias bombs, unresolved aliases and deep nesting are refused with the file and line', () => {
  fc.assert(
    fc.property(fc.oneof(aliasBomb, deepYaml), (text) => {
      checkRuleFile(text, 'rules/fuzz.yaml');
    }),
    runs(150),
  );
});

test('rule folders: any files, a folder named like a rule file, and bytes that are not UTF-8 give rules or a RuleFileError', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-rules-'));
  try {
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(mutatedRule, yamlSoup, fc.constant(YAML.stringify(VALID_RULE))), fc.constantFrom('file', 'folder', 'bytes', 'empty')), {
          minLength: 1,
          maxLength: 4,
        }),
        (files) => {
          const dir = path.join(base, String(n++));
          fs.mkdirSync(dir);
          files.forEach(([text, kind], i) => {
            const file = path.join(dir, `r${i}.yaml`);
            if (kind === 'folder') fs.mkdirSync(file);
            else if (kind === 'bytes') fs.writeFileSync(file, Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, ...Buffer.from(text)]));
            else fs.writeFileSync(file, kind === 'empty' ? '' : text);
          });
          try {
            for (const rule of loadRules(dir)) assert.ok(rule.file.startsWith(dir));
          } catch (err) {
            assert.ok(err instanceof RuleFileError, `expected a RuleFileError, got ${String(err)}`);
            assert.ok(err.message.startsWith(`${dir}${path.sep}r`) && /\.yaml:\d+: /.test(err.message), `no file:line: in ${err.message.slice(0, 200)}`);
          }
        },
      ),
      runs(100),
    );
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
