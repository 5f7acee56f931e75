/**
 * The one list of sink types. The config schema's enum, the TypeScript name of a type, the
 * payload built for a sink and its request all come from here.
 */
import type { SinkDefinition } from './definition.js';
import type { AlertView } from './view.js';
import { slack } from './slack.js';
import { webhook } from './webhook.js';
import { alertmanager } from './alertmanager.js';

const DEFINITIONS = [slack, webhook, alertmanager] as const;

export type SinkType = (typeof DEFINITIONS)[number]['type'];

/** The type names, in the registry's order (a non-empty tuple, as z.enum wants). */
export const SINK_TYPES = DEFINITIONS.map((d) => d.type) as [SinkType, ...SinkType[]];

const BY_TYPE: ReadonlyMap<string, SinkDefinition<SinkType>> = new Map(DEFINITIONS.map((d) => [d.type, d]));

export function sinkDefinition(type: SinkType): SinkDefinition<SinkType> {
  const definition = BY_TYPE.get(type);
  // Only a value that bypassed the config schema gets here.
  if (!definition) throw new Error(`unknown sink type ${JSON.stringify(type)} (known: ${SINK_TYPES.join(', ')})`);
  return definition;
}

/** What the outbox stores for a sink of this type. */
export function payloadFor(type: SinkType, view: AlertView, sinkName: string): Record<string, unknown> {
  return sinkDefinition(type).payload(view, sinkName);
}

/** The types whose definition says `flag`, for messages such as "only a webhook sink signs its body". */
export function sinkTypesWhere(flag: 'resendWhileFiring' | 'repeats' | 'signs'): SinkType[] {
  return DEFINITIONS.filter((d) => d[flag]).map((d) => d.type);
}

/** "a", "a or b", "a, b or c": a list of type names as a message reads it. */
export function orList(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}
