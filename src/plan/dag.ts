/**
 * @module The artifact dependency graph: edges come from `inputs`. Finds cycles (named as
 * `a -> b -> a`) and gives a deterministic topological order that follows file order.
 */

/** `deps`: artifact id -> the ids it reads. Every id must be a key. */
export type DependencyMap = ReadonlyMap<string, readonly string[]>;

/** The first cycle found, as a closed path (`[a, b, a]`), or null. */
export function findCycle(deps: DependencyMap): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    const seen = state.get(id);
    if (seen === "done") return null;
    if (seen === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      if (!deps.has(dep)) continue;
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, "done");
    return null;
  };
  for (const id of deps.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return null;
}

/** Topological order (dependencies first); among ready artifacts, file order wins. Assumes no cycle. */
export function topologicalOrder(deps: DependencyMap): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const place = (id: string): void => {
    if (placed.has(id)) return;
    placed.add(id);
    for (const dep of deps.get(id) ?? []) place(dep);
    order.push(id);
  };
  for (const id of deps.keys()) place(id);
  return order;
}

/** Inverse edges: artifact id -> the ids that read it. */
export function dependentsOf(deps: DependencyMap): Map<string, string[]> {
  const dependents = new Map<string, string[]>([...deps.keys()].map((id) => [id, []]));
  for (const [id, inputs] of deps) {
    for (const input of new Set(inputs)) dependents.get(input)?.push(id);
  }
  return dependents;
}

/** Every artifact downstream of `id` (not including it). */
export function transitiveDependents(
  dependents: ReadonlyMap<string, string[]>,
  id: string,
): string[] {
  const found = new Set<string>();
  const walk = (from: string): void => {
    for (const next of dependents.get(from) ?? []) {
      if (found.has(next)) continue;
      found.add(next);
      walk(next);
    }
  };
  walk(id);
  return [...found];
}
