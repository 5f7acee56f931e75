/**
 * What a sink type is: the payload it is sent, the HTTP request that carries it, and how the
 * alert lifecycle treats it. The config, the rule engine and the sender know sink types only
 * through this interface, so a new type is a module that exports one definition, and its line in
 * the registry.
 */
import type { AlertView } from './view.js';

/** A stored notification as it goes out. */
export interface Outgoing {
  kind: 'firing' | 'resolved';
  /** What the definition's `payload` built when the notification was written to the outbox. */
  payload: unknown;
  /** The time of this attempt (a retry is sent with a fresher time than the first attempt). */
  now: number;
}

/** The configured sink the request goes to. */
export interface Destination {
  /** The sink's configured URL (a secret: never put into a message). */
  url: string;
  /** The sink's secretEnv/secretFile, for a type that signs; otherwise null. */
  secret: string | null;
  /** For a type that resends while firing: how far ahead of this send a firing alert should end at the receiver unless heard of again. */
  firingHoldMs: number;
}

/** One HTTP POST. The sender adds the headers every sink gets (content type, idempotency key, user agent). */
export interface SinkRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface SinkDefinition<Type extends string = string> {
  /** The name written as `type:` in alerting.sinks[]. */
  readonly type: Type;
  /** The payload, built when the notification is written to the outbox. Pure. */
  payload(view: AlertView, sinkName: string): Record<string, unknown>;
  /** The request that carries a stored payload, made at each attempt. */
  request(outgoing: Outgoing, destination: Destination): SinkRequest;
  /** The receiver forgets a firing alert it stops hearing about: it is re-posted every alerting.alertmanagerResend while it fires. */
  readonly resendWhileFiring: boolean;
  /** The receiver gets the alerting.repeatInterval reminders of an alert that still fires. */
  readonly repeats: boolean;
  /** The type accepts secretEnv/secretFile and signs the body with it. */
  readonly signs: boolean;
}

/** Declares a definition, keeping its `type` as a literal so that the registry can derive the type names from it. */
export function defineSink<Type extends string>(definition: SinkDefinition<Type>): SinkDefinition<Type> {
  return definition;
}

/** The request of a type that posts its payload as it is, to its URL as configured. */
export function plainJsonRequest(outgoing: Outgoing, destination: Destination): SinkRequest {
  return { url: destination.url, body: JSON.stringify(outgoing.payload), headers: {} };
}
