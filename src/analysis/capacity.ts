/**
 * How much room the sliding typed-array columns (a node's points, a cluster's write history)
 * keep past their live points. Points are appended at the end and dropped or thinned at the
 * front; when the end is reached the live points slide back to the start, an O(points) copy.
 * The columns used to grow by half whenever they were more than two thirds full, which left
 * every series at 1.5 to 2.25 times its live points. Here the free room is about an eighth of
 * the points: a slide then comes at most once every eighth of the points' worth of appends
 * (eight element copies per append, amortised), and the slack costs an eighth of the memory.
 */

/** The free room to aim for behind `size` live points. */
export function slackFor(size: number): number {
  return Math.max(16, Math.ceil(size / 8));
}

/**
 * The capacity the columns should have once `size` live points are moved to their start, given
 * their current `capacity`: the same (a slide) while the room left is at least the slack, larger
 * when not, and smaller when a trim left more than four times the slack unused.
 */
export function capacityFor(size: number, capacity: number): number {
  const slack = slackFor(size);
  const free = capacity - size;
  if (free >= slack && free <= 4 * slack) return capacity;
  return size + 2 * slack;
}
