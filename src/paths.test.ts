import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { FROM_SOURCES, moduleUrl, PACKAGE_ROOT, packageFile } from "./paths.js";

describe("package paths", () => {
  it("find wct's own package root, whatever the working folder", () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as {
      name: string;
    };
    expect(manifest.name).toBe("wct");
    expect(existsSync(packageFile("rulesets"))).toBe(true);
    expect(existsSync(packageFile("schemas"))).toBe(true);
  });

  it("name worker modules by their path under src/: the TypeScript source when run from sources", () => {
    expect(FROM_SOURCES).toBe(true);
    const url = moduleUrl("execute/worker-entry");
    expect(url).toBe(new URL("./execute/worker-entry.ts", import.meta.url).href);
    expect(existsSync(fileURLToPath(url))).toBe(true);
  });
});
