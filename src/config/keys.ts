/** The key a node goes by in maps across the pipeline: its cluster and name, which are unique together. */
export function nodeKey(cluster: string, node: string): string {
  return `${cluster}\u0000${node}`;
}
