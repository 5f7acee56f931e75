/**
 * The rule condition language: a small expression grammar parsed into a tree and evaluated
 * against a map of named values. Rule text is never executed as code (no eval, no Function).
 *
 *   expr     := or
 *   or       := and ("or" and)*
 *   and      := not ("and" not)*
 *   not      := "not" not | compare
 *   compare  := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
 *   sum      := product (("+" | "-") product)*
 *   product  := unary (("*" | "/") unary)*
 *   unary    := "-" unary | atom
 *   atom     := number [duration or size unit] | 'string' | true | false | null | name | "(" expr ")"
 *
 * Numbers may carry a duration unit (30m, 2h, 1h30m: seconds) or a size unit (512M, 2G: bytes),
 * parsed by the one units module. Unknown values are null, with SQL's three-valued logic:
 * arithmetic and comparisons with null are null, `not null` is null, `false and null` is false,
 * `true or null` is true. A rule fires only on true, so never on a figure that is not known yet.
 * `x == null` and `x != null` test for an unknown value.
 *
 * Nesting is limited to MAX_EXPRESSION_DEPTH levels, counting parentheses, `not`, unary `-` and
 * each operator of a chain (`a + b + c` is two levels): the parser, namesIn and evaluate recurse
 * along the tree, and a hostile rule file must get a clear error, not a stack overflow.
 */
import { parseDuration, parseSize, quoteValue, UnitParseError } from '../units/parse.js';

export type Value = number | string | boolean | null;

export type Node =
  { kind: 'literal'; value: Value } | { kind: 'name'; name: string } | { kind: 'unary'; op: '-' | 'not'; operand: Node } | { kind: 'binary'; op: string; left: Node; right: Node };

export class ExpressionError extends Error {
  override name = 'ExpressionError';
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

interface Token {
  type: 'num' | 'str' | 'name' | 'op' | 'end';
  text: string;
  value?: Value;
  column: number;
}

/** How deep a condition may nest; real conditions need a handful of levels. */
export const MAX_EXPRESSION_DEPTH = 100;

const OPERATORS = ['<=', '>=', '==', '!=', '<', '>', '+', '-', '*', '/', '(', ')'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const column = i + 1;
    // A compound duration (1h30m) first, then a number with an optional unit.
    const number = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+(?![A-Za-z0-9_])/.exec(text.slice(i)) ?? /^(\d+(?:\.\d+)?)([a-zA-Z]*)/.exec(text.slice(i));
    if (number) {
      const whole = number[0];
      const digits = number[1] ?? '';
      const unit = number[2] ?? '';
      let value: number;
      try {
        if (number[1] === undefined) value = parseDuration(whole);
        else if (!unit) value = Number(digits);
        else if (/^[KMGT]i?B?$/.test(unit)) value = parseSize(whole!);
        else throw new ExpressionError(`unknown unit ${quoteValue(unit)} in ${quoteValue(whole!)} (durations: ms s m h d w; sizes: K M G T)`, column);
      } catch (err) {
        // A value the units module refuses (too large for a safe number) is a problem at this column.
        if (err instanceof UnitParseError) throw new ExpressionError(err.message, column);
        throw err;
      }
      // Hundreds of digits read as Infinity: refused, like a duration or size too large.
      if (!Number.isFinite(value)) throw new ExpressionError(`number ${quoteValue(whole!)} is too large`, column);
      tokens.push({ type: 'num', text: whole!, value, column });
      i += whole!.length;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      if (end < 0) throw new ExpressionError('unterminated string', column);
      tokens.push({ type: 'str', text: text.slice(i, end + 1), value: text.slice(i + 1, end), column });
      i = end + 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (name) {
      tokens.push({ type: 'name', text: name[0], column });
      i += name[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) throw new ExpressionError(`unexpected character "${ch}"`, column);
    tokens.push({ type: 'op', text: op, column });
    i += op.length;
  }
  tokens.push({ type: 'end', text: 'end of expression', column: text.length + 1 });
  return tokens;
}

/** Parses a condition; throws ExpressionError with the column of the problem. */
export function parseExpression(text: string): Node {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos]!;
  const next = () => tokens[pos++]!;
  const isWord = (word: string) => peek().type === 'name' && peek().text === word;
  const isOp = (...ops: string[]) => peek().type === 'op' && ops.includes(peek().text);
  const tooDeep = (t: Token) => new ExpressionError(`nested more than ${MAX_EXPRESSION_DEPTH} levels deep (parentheses, not, unary - or a chain of operators)`, t.column);

  // The parser's own recursion: each "(", "not" and unary "-" descends one level. Checked on the
  // way down, before the stack is spent.
  let descent = 0;
  const descend = <T>(t: Token, parse: () => T): T => {
    if (++descent > MAX_EXPRESSION_DEPTH) throw tooDeep(t);
    try {
      return parse();
    } finally {
      descent--;
    }
  };
  // The tree's depth, which evaluate and namesIn recurse along; a chain of binary operators is
  // parsed by a loop but still builds a deep tree.
  const depths = new WeakMap<Node, number>();
  const depthOf = (n: Node) => depths.get(n) ?? 1;
  const build = (t: Token, n: Node): Node => {
    const d = 1 + (n.kind === 'unary' ? depthOf(n.operand) : n.kind === 'binary' ? Math.max(depthOf(n.left), depthOf(n.right)) : 0);
    if (d > MAX_EXPRESSION_DEPTH) throw tooDeep(t);
    depths.set(n, d);
    return n;
  };

  const or = (): Node => {
    let left = and();
    while (isWord('or')) {
      const t = next();
      left = build(t, { kind: 'binary', op: 'or', left, right: and() });
    }
    return left;
  };
  const and = (): Node => {
    let left = not();
    while (isWord('and')) {
      const t = next();
      left = build(t, { kind: 'binary', op: 'and', left, right: not() });
    }
    return left;
  };
  const not = (): Node => {
    if (isWord('not')) {
      const t = next();
      return build(t, { kind: 'unary', op: 'not', operand: descend(t, not) });
    }
    return compare();
  };
  const compare = (): Node => {
    const left = sum();
    if (isOp('<', '<=', '>', '>=', '==', '!=')) {
      const t = next();
      return build(t, { kind: 'binary', op: t.text, left, right: sum() });
    }
    return left;
  };
  const sum = (): Node => {
    let left = product();
    while (isOp('+', '-')) {
      const t = next();
      left = build(t, { kind: 'binary', op: t.text, left, right: product() });
    }
    return left;
  };
  const product = (): Node => {
    let left = unary();
    while (isOp('*', '/')) {
      const t = next();
      left = build(t, { kind: 'binary', op: t.text, left, right: unary() });
    }
    return left;
  };
  const unary = (): Node => {
    if (isOp('-')) {
      const t = next();
      return build(t, { kind: 'unary', op: '-', operand: descend(t, unary) });
    }
    return atom();
  };
  const atom = (): Node => {
    const t = next();
    if (t.type === 'num' || t.type === 'str') return { kind: 'literal', value: t.value! };
    if (t.type === 'name') {
      if (t.text === 'true') return { kind: 'literal', value: true };
      if (t.text === 'false') return { kind: 'literal', value: false };
      if (t.text === 'null') return { kind: 'literal', value: null };
      if (['and', 'or', 'not'].includes(t.text)) throw new ExpressionError(`unexpected "${t.text}"`, t.column);
      return { kind: 'name', name: t.text };
    }
    if (t.type === 'op' && t.text === '(') {
      const inner = descend(t, or);
      const close = next();
      if (close.text !== ')') throw new ExpressionError(`expected ")" but found ${describe(close)}`, close.column);
      return inner;
    }
    throw new ExpressionError(`expected a value but found ${describe(t)}`, t.column);
  };

  const tree = or();
  if (peek().type !== 'end') throw new ExpressionError(`unexpected ${describe(peek())}`, peek().column);
  return tree;
}

function describe(t: Token): string {
  // A token can be a long string literal: quoted short, on one line.
  return t.type === 'end' ? 'the end of the expression' : quoteValue(t.text);
}

/** Every name the expression reads, to check against the names a rule's scope provides. */
export function namesIn(node: Node): string[] {
  switch (node.kind) {
    case 'literal':
      return [];
    case 'name':
      return [node.name];
    case 'unary':
      return namesIn(node.operand);
    case 'binary':
      return [...namesIn(node.left), ...namesIn(node.right)];
  }
}

export function evaluate(node: Node, values: Readonly<Record<string, Value>>): Value {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'name':
      // Own values only: `constructor` or `toString` must not reach Object.prototype.
      return Object.hasOwn(values, node.name) ? (values[node.name] ?? null) : null;
    case 'unary': {
      const v = evaluate(node.operand, values);
      if (node.op === 'not') return v === null ? null : !truthy(v);
      return typeof v === 'number' ? -v : null;
    }
    case 'binary': {
      if (node.op === 'and' || node.op === 'or') {
        const l = evaluate(node.left, values);
        const r = evaluate(node.right, values);
        const [lb, rb] = [l === null ? null : truthy(l), r === null ? null : truthy(r)];
        if (node.op === 'and') return lb === false || rb === false ? false : lb === null || rb === null ? null : true;
        return lb === true || rb === true ? true : lb === null || rb === null ? null : false;
      }
      const l = evaluate(node.left, values);
      const r = evaluate(node.right, values);
      if (node.op === '==') return l === r;
      if (node.op === '!=') return l !== r;
      if (l === null || r === null) return null;
      if (typeof l !== typeof r) return null;
      switch (node.op) {
        case '<':
          return l < r;
        case '<=':
          return l <= r;
        case '>':
          return l > r;
        case '>=':
          return l >= r;
      }
      if (typeof l !== 'number' || typeof r !== 'number') return null;
      switch (node.op) {
        case '+':
          return l + r;
        case '-':
          return l - r;
        case '*':
          return l * r;
        case '/':
          return r === 0 ? null : l / r;
      }
      return null;
    }
  }
}

export function truthy(v: Value): boolean {
  return v !== null && v !== false && v !== 0 && v !== '';
}
