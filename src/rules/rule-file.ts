/**
 * Loading rule files: one YAML file per rule in the rules folder. A broken file is reported
 * with its path, the line and the problem ("rules/x.yaml:7: condition: unexpected ")" at
 * column 18"); a set with any broken file is refused as a whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML, { LineCounter, isNode } from 'yaml';
import { z } from 'zod';
import { ExpressionError, namesIn, parseExpression, type Node } from './expression.js';
import { parseDuration, UnitParseError } from '../units/parse.js';
import { variablesFor, type Scope } from './variables.js';
import { templateNames } from './template.js';

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Rule {
  file: string;
  name: string;
  scope: Scope;
  condition: Node;
  conditionText: string;
  forSeconds: number;
  severity: Severity;
  labels: Record<string, string>;
  summary: string;
  description: string;
}

export class RuleFileError extends Error {
  override name = 'RuleFileError';
  readonly exitCode = 2;
}

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = new Set(['alertname', 'cluster', 'node', 'severity']);

const ruleSchema = z.strictObject({
  name: z.string({ error: 'expected a rule name' }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a name of letters, digits and _ (it becomes the alertname label)'),
  scope: z.enum(['node', 'cluster'], { error: 'expected node or cluster' }).default('node'),
  condition: z.string({ error: 'expected a condition expression' }).min(1, 'expected a condition expression'),
  for: z.string({ error: 'expected a duration such as 5m' }).default('0s'),
  severity: z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(', ')}` }),
  labels: z.record(z.string().regex(labelName, 'expected label names of letters, digits and _'), z.string({ error: 'expected a string label value' })).default({}),
  summary: z.string({ error: 'expected a summary template' }).min(1, 'expected a summary template'),
  description: z.string({ error: 'expected a description template' }).default(''),
});

/** The first line of a YAML error, in words: the reader recurses, and a document nested a thousand levels deep exhausts the stack. */
function yamlProblem(message: string): string {
  return message.split('\n')[0]!.replace(/Maximum call stack size exceeded/, 'nested too deeply');
}

/** Parses one rule file's text. `file` is only used in messages. */
export function parseRuleFile(text: string, file: string): Rule {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (keyPath: Array<string | number>): number => {
    const node = keyPath.length ? doc.getIn(keyPath, true) : doc.contents;
    const range = isNode(node) ? node.range : isNode(doc.contents) ? doc.contents.range : undefined;
    return range ? lineCounter.linePos(range[0]).line : 1;
  };
  const fail = (keyPath: Array<string | number>, message: string, line = lineOf(keyPath)): never => {
    throw new RuleFileError(`${file}:${line}: ${keyPath.length ? `${keyPath.join('.')}: ` : ''}${message}`);
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    fail([], `invalid YAML: ${yamlProblem(e.message)}`, e.linePos?.[0]?.line ?? 1);
  }
  let raw: unknown;
  try {
    // toJS resolves aliases: one that points nowhere, or a "billion laughs", throws here.
    raw = doc.toJS();
  } catch (err) {
    fail([], `invalid YAML: ${yamlProblem((err as Error).message)}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail([], 'expected a mapping with name, condition, severity and summary');
  const parsed = ruleSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keyPath = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (issue.code === 'unrecognized_keys') fail([...keyPath, (issue as { keys: string[] }).keys[0]!], 'unknown key');
    fail(keyPath, issue.message.replace(/^Invalid input: /, ''));
  }
  const r = parsed.data!;
  let forSeconds = 0;
  try {
    forSeconds = parseDuration(r.for);
  } catch (err) {
    fail(['for'], (err as UnitParseError).message);
  }
  for (const label of Object.keys(r.labels)) {
    if (RESERVED_LABELS.has(label)) fail(['labels', label], `"${label}" is set by gcache-advisor itself`);
  }
  const known = variablesFor(r.scope);
  let condition: Node;
  try {
    condition = parseExpression(r.condition);
  } catch (err) {
    if (err instanceof ExpressionError) fail(['condition'], `${err.message} at column ${err.column}`);
    throw err;
  }
  for (const name of namesIn(condition!)) {
    if (!(name in known)) fail(['condition'], `unknown name "${name}" for a ${r.scope} rule (known: ${Object.keys(known).join(', ')})`);
  }
  for (const key of ['summary', 'description'] as const) {
    try {
      for (const name of templateNames(r[key])) {
        if (!(name in known)) fail([key], `unknown name "${name}" in {{ }} for a ${r.scope} rule`);
      }
    } catch (err) {
      if (err instanceof RuleFileError) throw err;
      fail([key], (err as Error).message);
    }
  }
  return {
    file,
    name: r.name,
    scope: r.scope,
    condition: condition!,
    conditionText: r.condition,
    forSeconds,
    severity: r.severity,
    labels: r.labels,
    summary: r.summary,
    description: r.description,
  };
}

/** Loads every *.yaml / *.yml file of a folder; any error refuses the whole set. */
export function loadRules(dir: string): Rule[] {
  let entries: string[];
  try {
    entries = fs
      .readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (err) {
    throw new RuleFileError(`${dir}: cannot read the rules folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const rules = entries.map((f) => {
    const file = path.join(dir, f);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      // A folder named x.yaml, a file without read permission: named like every other rule file error.
      throw new RuleFileError(`${file}:1: cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return parseRuleFile(text, file);
  });
  const seen = new Map<string, string>();
  for (const r of rules) {
    const other = seen.get(r.name);
    if (other) throw new RuleFileError(`${r.file}:1: name: "${r.name}" is also the name of the rule in ${other}`);
    seen.set(r.name, r.file);
  }
  return rules;
}
