/**
 * How much room the rings of typed-array columns (sliding-columns.ts: a node's points and
 * per-minute rates, a cluster's timeline and write history) keep past their live rows. Rows are
 * appended at the end and dropped or thinned at the front; a full ring grows by a sixteenth of
 * its rows (two slacks), and one that a trim left more than four slacks unused shrinks to two.
 * A ring in its steady state (as many rows dropped as added) never moves, whatever its room, so
 * the room only pays for growth: moving a row costs a copy of a few bytes, and one growth moves
 * each row once for 16 rows added. Growing by half, as the columns once did, left every series
 * at 1.5 to 2.25 times its points; by a quarter, 1.125 to 1.5 times. By a sixteenth, the analysis
 * state of 1,002 simulated nodes read 27.8 MB against 29.5 MB (`npm run bench:fleet`).
 */

/** The free room to aim for behind `size` live points. */
export function slackFor(size: number): number {
  return Math.max(16, Math.ceil(size / 32));
}

/**
 * The capacity the columns should have for `size` live rows, given their current `capacity`: the
 * same while the room left is at least the slack, larger when not, and smaller when a trim left
 * more than four times the slack unused.
 */
export function capacityFor(size: number, capacity: number): number {
  const slack = slackFor(size);
  const free = capacity - size;
  if (free >= slack && free <= 4 * slack) return capacity;
  return size + 2 * slack;
}
