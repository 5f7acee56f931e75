/**
 * Member addresses as Galera and the config write them: "host:port", "host", "[v6]:port", or a
 * bare IPv6 address. Pure functions, shared by the config check (seeds) and the sampler's discovery
 * (wsrep_incoming_addresses).
 */
import net from 'node:net';

export interface MemberAddress {
  host: string;
  port: number;
}

/** What Galera reports for a member whose wsrep_node_incoming_address is left at its default. */
export const AUTO_ADDRESS = 'AUTO';

const HOST_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/;

/** Why `text` is not a usable address, or null when it is. */
export function hostPortProblem(text: string): string | null {
  const shown = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
  const trimmed = text.trim();
  if (trimmed === '') return 'expected host:port or host, got an empty value';
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
    if (!net.isIPv6(host)) return `expected an IPv6 address inside [ ], got ${shown}`;
  } else if (net.isIPv6(trimmed)) {
    return null;
  } else {
    const colon = trimmed.lastIndexOf(':');
    host = colon < 0 ? trimmed : trimmed.slice(0, colon);
    port = colon < 0 ? undefined : trimmed.slice(colon + 1);
    if (!HOST_NAME.test(host)) return `expected host:port (write an IPv6 address as [::1]:3306), got ${shown}`;
  }
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    return `expected a port between 1 and 65535 after the colon, got ${shown}`;
  }
  return null;
}

/** Parses an address; one without a port gets `defaultPort`. Throws with a clear message on bad input. */
export function parseHostPort(text: string, defaultPort: number): MemberAddress {
  const problem = hostPortProblem(text);
  if (problem) throw new Error(problem);
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : defaultPort };
  if (net.isIPv6(trimmed)) return { host: trimmed, port: defaultPort };
  const colon = trimmed.lastIndexOf(':');
  return colon < 0 ? { host: trimmed, port: defaultPort } : { host: trimmed.slice(0, colon), port: Number(trimmed.slice(colon + 1)) };
}

/** One spelling per address, for comparing and as a map key: host names are case-insensitive. */
export function addressKey(address: MemberAddress): string {
  const host = address.host.toLowerCase();
  return net.isIPv6(host) ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}

export interface IncomingAddresses {
  members: MemberAddress[];
  /** Entries that read AUTO: members that exist but name no address. */
  auto: number;
  /** Entries that are neither an address nor AUTO, as they were written. */
  invalid: string[];
}

/**
 * Parses the status wsrep_incoming_addresses: a comma-separated list with one entry per member
 * of the component, "AUTO" for a member whose wsrep_node_incoming_address is left at its default.
 */
export function parseIncomingAddresses(value: string, defaultPort: number): IncomingAddresses {
  const out: IncomingAddresses = { members: [], auto: 0, invalid: [] };
  const seen = new Set<string>();
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (entry.toUpperCase() === AUTO_ADDRESS) {
      out.auto++;
      continue;
    }
    if (hostPortProblem(entry)) {
      out.invalid.push(entry);
      continue;
    }
    const address = parseHostPort(entry, defaultPort);
    const key = addressKey(address);
    if (seen.has(key)) continue;
    seen.add(key);
    out.members.push(address);
  }
  return out;
}
