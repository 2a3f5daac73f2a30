import path from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { resolveStores } from "./config.js";

describe("resolveStores", () => {
  it("defaults to the filesystem store in ./.waivern", () => {
    const stores = resolveStores({}, {});
    expect(stores.artifacts.kind).toBe("filesystem");
    expect(stores.executions.kind).toBe("filesystem");
    expect(stores.describe).toBe(`filesystem store at ${path.resolve(".waivern")}`);
  });

  it("reads the environment, and flags override it", () => {
    const env = { WAIVERN_STORE_TYPE: "filesystem", WAIVERN_STORE_PATH: "from-env" };
    expect(resolveStores({}, env).describe).toContain(path.resolve("from-env"));
    expect(resolveStores({ path: "/tmp/flag" }, env).describe).toContain(path.resolve("/tmp/flag"));
    const memory = resolveStores({ type: "memory" }, env);
    expect(memory.artifacts.kind).toBe("memory");
    expect(memory.executions.kind).toBe("memory");
    expect(resolveStores({}, { WAIVERN_STORE_TYPE: "memory" }).artifacts.kind).toBe("memory");
  });

  it("treats empty values as unset", () => {
    expect(resolveStores({}, { WAIVERN_STORE_TYPE: "" }).artifacts.kind).toBe("filesystem");
  });

  it("rejects unknown and unavailable types", () => {
    expect(() => resolveStores({ type: "s3" }, {})).toThrow(
      "Unknown store type 's3' (from --store-type): expected one of filesystem, memory, remote.",
    );
    expect(() => resolveStores({}, { WAIVERN_STORE_TYPE: "nope" })).toThrow(/WAIVERN_STORE_TYPE/);
    expect(() => resolveStores({ type: "remote" }, {})).toThrow(InputError);
    expect(() => resolveStores({ type: "remote" }, {})).toThrow(
      "the remote store is not available yet",
    );
  });
});
