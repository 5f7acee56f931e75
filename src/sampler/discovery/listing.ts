/** What one look at a cluster's membership found, whichever the source (Galera status or DNS). */
import type { NodeTarget } from '../../config/load.js';
import type { MemberAddress } from '../../config/addresses.js';
import type { MemberSession } from './member-session.js';

export interface Listing {
  members: MemberAddress[];
  /** False when the listing may hide members (AUTO entries, unresolved targets): no absence is counted from it. */
  complete: boolean;
  /** What was wrong with it, in words for lastError and the log. */
  problems: string[];
  /**
   * Each address is a server of its own (wsrep_incoming_addresses), so two naming themselves
   * alike is a mistake; in DNS one member may have several addresses (A and AAAA).
   */
  distinctServers: boolean;
}

/** No listing at all this time: nothing is learnt about who joined or left. */
export class ListingError extends Error {
  override name = 'ListingError';
}

export interface MemberSource {
  list(known: readonly NodeTarget[]): Promise<Listing>;
  /** An open session to a member, if the source keeps one, so its name is read without connecting again. */
  openSession(): MemberSession | null;
  close(): Promise<void>;
}

/** An error as it goes into lastError and the log: its message, without the stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = err.message || code || err.name;
    return code && !message.includes(code) ? `${message} (${code})` : message;
  }
  return String(err);
}
