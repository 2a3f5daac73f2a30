import { describe, expect, it } from "vitest";
import { dependentsOf, findCycle, topologicalOrder, transitiveDependents } from "./dag.js";

const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

describe("dag", () => {
  it("names a cycle as a closed path", () => {
    expect(findCycle(graph({ s: [], a: ["s", "b"], b: ["a"] }))).toEqual(["a", "b", "a"]);
    expect(findCycle(graph({ a: ["a"] }))).toEqual(["a", "a"]);
    expect(findCycle(graph({ a: [], b: ["a"], c: ["a", "b"] }))).toBeNull();
  });

  it("orders dependencies first and otherwise keeps file order", () => {
    expect(topologicalOrder(graph({ c: ["b"], a: [], b: ["a"], d: [] }))).toEqual([
      "a",
      "b",
      "c",
      "d",
    ]);
  });

  it("finds every artifact downstream, once", () => {
    const dependents = dependentsOf(graph({ a: [], b: ["a"], c: ["a", "b"], d: ["c"], e: [] }));
    expect(dependents.get("a")).toEqual(["b", "c"]);
    expect(transitiveDependents(dependents, "a").sort()).toEqual(["b", "c", "d"]);
    expect(transitiveDependents(dependents, "e")).toEqual([]);
  });
});
