/**
 * Summary and description templates: "{{ name }}" or "{{ name | format }}", where format is one
 * of duration ("42 min"), bytes ("512 MiB"), rate ("1.2 MiB/s"), days or number. Nothing else
 * is interpreted: no code runs. A value that is unknown renders as "unknown", and a value longer
 * than MAX_RENDERED_VALUE_CHARS is cut (a string read from a node could be of any length, and
 * every rendered text ends up in a notification). Pure.
 */
import { formatBytes, formatDuration } from '../units/format.js';
import type { Value } from './expression.js';
import { NODE_VARIABLES, CLUSTER_VARIABLES } from './variables.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*([a-z]+)\s*)?\}\}/g;
const FORMATS = ['duration', 'bytes', 'rate', 'days', 'number'] as const;

/** The longest a single rendered value may be, in characters, ellipsis included. */
export const MAX_RENDERED_VALUE_CHARS = 1000;

/** `text` cut to at most `max` characters, the last one an ellipsis; never splits a surrogate pair. */
export function truncateValue(text: string, max = MAX_RENDERED_VALUE_CHARS): string {
  if (text.length <= max) return text;
  let cut = Math.max(0, max - 1);
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/** Names used by a template; throws on an unknown format or a malformed placeholder. */
export function templateNames(template: string): string[] {
  const names: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m[2] && !(FORMATS as readonly string[]).includes(m[2])) throw new Error(`unknown format "${m[2]}" (known: ${FORMATS.join(', ')})`);
    names.push(m[1]!);
  }
  const leftover = template.replace(PLACEHOLDER, '');
  if (/\{\{|\}\}/.test(leftover)) throw new Error('malformed {{ }} placeholder: expected {{ name }} or {{ name | format }}');
  return names;
}

function defaultFormat(name: string): string | undefined {
  const unit = (NODE_VARIABLES[name] ?? CLUSTER_VARIABLES[name])?.unit;
  return unit === 'seconds' ? 'duration' : unit === 'bytes' ? 'bytes' : unit === 'bytes/s' ? 'rate' : unit === 'days' ? 'days' : undefined;
}

export function renderTemplate(template: string, values: Readonly<Record<string, Value>>): string {
  // Own values only: `{{ constructor }}` must not render Object's source.
  return template.replace(PLACEHOLDER, (_m, name: string, format: string | undefined) =>
    truncateValue(renderValue(Object.hasOwn(values, name) ? (values[name] ?? null) : null, name, format)),
  );
}

function renderValue(v: Value, name: string, format: string | undefined): string {
  if (v === null) return 'unknown';
  if (typeof v !== 'number') return String(v);
  switch (format ?? defaultFormat(name)) {
    case 'duration':
      return formatDuration(v);
    case 'bytes':
      return formatBytes(v);
    case 'rate':
      return `${formatBytes(v)}/s`;
    case 'days':
      return `${v.toFixed(1)} days`;
    default:
      return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }
}
