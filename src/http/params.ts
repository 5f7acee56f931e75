/**
 * Request parameters and the errors they raise: every bad value becomes a 400 that names the
 * parameter, every unknown name a 404. Shared by all route modules.
 */
import { Type } from '@sinclair/typebox';
import { parseDuration, type UnitParseError } from '../units/parse.js';

/** A 400 that names the parameter at fault. */
export class BadParameter extends Error {
  readonly statusCode = 400;
  constructor(param: string, expected: string, got: unknown) {
    // undefined: a parameter left to its default, whose value conflicts with the others.
    super(`${param}: expected ${expected}, got ${got === undefined ? 'its default' : JSON.stringify(truncate(got))}`);
  }
}

export class NotFound extends Error {
  readonly statusCode = 404;
}

/** Values echoed into error messages are cut short: a 10 kB parameter is not worth repeating. */
function truncate(value: unknown): unknown {
  return typeof value === 'string' && value.length > 100 ? `${value.slice(0, 100)}…` : value;
}

/** Far beyond any step or window the API could use; a bigger value would overflow SQLite's 64-bit integers as milliseconds. */
const MAX_DURATION_PARAM_SECONDS = 100 * 365 * 86400;

export function durationParam(param: string, value: string): number {
  let seconds: number;
  try {
    seconds = parseDuration(value);
  } catch (err) {
    // The units module's own wording of what it expected, without its echo of the value (BadParameter adds a shorter one).
    throw new BadParameter(param, (err as UnitParseError).message.replace(/^expected /, '').replace(/, got .*$/s, ''), value);
  }
  if (seconds > MAX_DURATION_PARAM_SECONDS) throw new BadParameter(param, 'a duration of at most 100 years', value);
  return seconds;
}

/** RFC 3339 or Unix seconds, as Prometheus' HTTP API takes them. */
export function parseTime(param: string, value: string): number {
  if (/^\d{1,12}(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const t = Date.parse(value);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) throw new BadParameter(param, 'an RFC 3339 time or Unix seconds', value);
  return t;
}

/** A cluster or node name in the path: as long as the router lets through (app.ts maxParamLength). */
const Name = (description: string) => Type.String({ maxLength: 200, description });
export const ClusterParams = Type.Object({ cluster: Name('a configured cluster') });
export const NodeParams = Type.Object({ cluster: Name('a configured cluster'), node: Name('a node of that cluster') });

/** Query parameters whose text the handler parses (parseTime, durationParam), so that a bad one gets a message of its own. */
export const TimeQuery = (defaultText: string) => Type.Optional(Type.String({ maxLength: 100, description: `RFC 3339 time or Unix seconds; default: ${defaultText}` }));
export const DurationQuery = (description: string) => Type.Optional(Type.String({ maxLength: 100, description }));
export const LimitQuery = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 }));

/** A `limit` query parameter: the schema bounds it, but its number coercion lets 1e309 through as Infinity. */
export function limitParam(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value)) throw new BadParameter('limit', 'a whole number from 1 to 1000', String(value));
  return value;
}
