/**
 * NodeIds with a namespace URI (`nsu=urn:acme:plc;s=Filler.State`, OPC UA Part 6 §5.3.1.10):
 * written against the server's NamespaceArray, read at each connect, as the index form the
 * services take. A server may renumber its namespaces on restart; the URI stays.
 */

/** The namespace URI of a NodeId text, or null when it has none. */
export function namespaceUriOf(nodeId: string): string | null {
  const m = /^nsu=([^;]+);/.exec(nodeId);
  if (m === null) return null;
  const uri = m[1] as string;
  // Part 6 escapes reserved characters of the URI (%3B for ";"); most URIs carry none.
  try {
    return uri.includes('%') ? decodeURIComponent(uri) : uri;
  } catch {
    return uri;
  }
}

/**
 * The NodeId text with `nsu=<uri>;` replaced by `ns=<index>;` (nothing for index 0). Throws an
 * Error naming the URI and what the server has when the server does not know it.
 */
export function withNamespaceIndex(nodeId: string, namespaces: readonly string[]): string {
  const uri = namespaceUriOf(nodeId);
  if (uri === null) return nodeId;
  const rest = nodeId.slice(nodeId.indexOf(';') + 1);
  const index = namespaces.indexOf(uri);
  if (index < 0) {
    throw new Error(
      `namespace ${uri} of node ${nodeId} is not on the server (its namespaces: ${namespaces.join(', ')})`,
    );
  }
  return index === 0 ? rest : `ns=${index};${rest}`;
}
