import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundleCli } from "./bundle.js";

describe("the CLI bundle", () => {
  const out = mkdtempSync(join(tmpdir(), "wct-bundle-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("keeps each command a chunk of its own, mapped back to the TypeScript sources", () => {
    bundleCli(out);
    const files = readdirSync(out);
    expect(files).toContain("main.js");
    // The run command is loaded only when it runs.
    const run = files.find((f) => /^run-.*\.js$/.test(f));
    expect(run).toBeDefined();
    expect(readFileSync(join(out, "main.js"), "utf8")).toContain(`./${run}`);
    const map = JSON.parse(readFileSync(join(out, `${run}.map`), "utf8")) as { sources: string[] };
    expect(map.sources.some((source) => source.endsWith("src/cli/commands/run.ts"))).toBe(true);
    // Built again, it leaves no chunks of an earlier build behind.
    writeFileSync(join(out, "chunk-EARLIER.js"), "export {};\n");
    bundleCli(out);
    expect(readdirSync(out).sort()).toEqual(files.sort());
  });
});
