import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundleCli } from "./bundle.js";

describe("the CLI bundle", () => {
  const out = mkdtempSync(join(tmpdir(), "wct-bundle-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("is one CommonJS script holding every command, mapped back to the TypeScript sources", () => {
    const file = join(out, "wct.cjs");
    bundleCli(file);
    const code = readFileSync(file, "utf8");
    // A script (a code cache needs one): no ES module syntax at its top level.
    expect(code).not.toMatch(/^(import|export) /m);
    expect(code).toContain("module.exports");
    // Modules that ask where they are get the bundle's URL.
    expect(code).not.toContain("import.meta");
    const map = JSON.parse(readFileSync(`${file}.map`, "utf8")) as { sources: string[] };
    for (const command of ["run", "history", "catalog", "export"]) {
      expect(map.sources.some((s) => s.endsWith(`src/cli/commands/${command}.ts`))).toBe(true);
    }
  });
});
