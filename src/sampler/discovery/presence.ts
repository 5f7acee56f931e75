/**
 * When a discovered member counts as departed: absent from every complete listing of the
 * membership (or DNS) for at least the grace period. Pure, with the clock passed in.
 *
 * Absence is counted from the first complete listing that lacked the member, never from when it
 * was last seen: a spell in which nothing could be listed (every member unreachable, DNS down)
 * proves nothing about who left, so it neither starts nor ends an absence. A listing that may
 * hide members (AUTO entries, an address whose name could not be read) is not complete: it can
 * bring a member back but not start its absence.
 */
import type { NodeTarget } from '../../config/load.js';

export class Presence {
  /** Member name → first time (ms) a complete listing lacked it. */
  private readonly absentSince = new Map<string, number>();

  constructor(private readonly departAfterMs: number) {}

  /**
   * Updates `departed` on each node from one listing. Returns the nodes whose state changed,
   * for the log.
   */
  observe(nodes: readonly NodeTarget[], listed: ReadonlySet<string>, complete: boolean, nowMs: number): { departed: NodeTarget[]; returned: NodeTarget[] } {
    const changes = { departed: [] as NodeTarget[], returned: [] as NodeTarget[] };
    for (const node of nodes) {
      if (listed.has(node.name)) {
        this.absentSince.delete(node.name);
        if (node.departed) {
          delete node.departed;
          changes.returned.push(node);
        }
        continue;
      }
      if (!complete) continue;
      let since = this.absentSince.get(node.name);
      if (since === undefined) this.absentSince.set(node.name, (since = nowMs));
      if (!node.departed && nowMs - since >= this.departAfterMs) {
        node.departed = true;
        changes.departed.push(node);
      }
    }
    return changes;
  }

  /** How long (ms) `name` has been absent, or null while it is listed. */
  absentFor(name: string, nowMs: number): number | null {
    const since = this.absentSince.get(name);
    return since === undefined ? null : nowMs - since;
  }
}
