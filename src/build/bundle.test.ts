import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import type { TaskRequest, TaskResponse } from "../execute/worker-tasks.js";
import { moduleUrl, packageFile } from "../paths.js";
import { bundleCli, bundleWorker } from "./bundle.js";

const out = mkdtempSync(join(tmpdir(), "wct-bundle-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** A script (a code cache needs one) whose modules get the bundle's URL for their own. */
function expectScript(code: string): void {
  expect(code).not.toMatch(/^(import|export) /m);
  expect(code).not.toContain("import.meta");
}

describe("the CLI bundle", () => {
  it("is one CommonJS script holding every command, mapped back to the TypeScript sources", () => {
    const file = join(out, "wct.cjs");
    bundleCli(file);
    const code = readFileSync(file, "utf8");
    expectScript(code);
    expect(code).toContain("module.exports");
    const map = JSON.parse(readFileSync(`${file}.map`, "utf8")) as { sources: string[] };
    for (const command of ["run", "history", "catalog", "export"]) {
      expect(map.sources.some((s) => s.endsWith(`src/cli/commands/${command}.ts`))).toBe(true);
    }
  });
});

describe("the worker bundle", () => {
  // Inside the package, where it finds the package's files (and tsc's modules) from itself.
  const file = packageFile("dist", "bundle", `worker.test-${process.pid}.cjs`);
  afterAll(() => {
    rmSync(file, { force: true });
    rmSync(`${file}.map`, { force: true });
  });
  const built = (modulePath: string) => pathToFileURL(packageFile("dist", `${modulePath}.js`)).href;

  // The threads' own entry, and the ruleset loader that a thread imports only if it needs it.
  const NOT_TASK_MODULES = ["execute/worker-entry", "rulesets/loader"];

  it("bundles every module that components hand to the worker threads", async () => {
    const { BUNDLED_TASK_MODULES } = await import("../execute/worker-bundle.js");
    const sources = readdirSync(packageFile("src"), { recursive: true, encoding: "utf8" }).filter(
      (name) => name.endsWith(".ts") && !name.endsWith(".test.ts"),
    );
    const asked = new Set<string>();
    for (const name of sources) {
      const code = readFileSync(packageFile("src", name), "utf8");
      for (const [, modulePath] of code.matchAll(/moduleUrl\("([^"]+)"\)/g)) {
        if (!NOT_TASK_MODULES.includes(modulePath!)) asked.add(moduleUrl(modulePath!));
      }
    }
    expect(new Set(BUNDLED_TASK_MODULES.keys())).toEqual(asked);
  });

  it("serves the bundled task modules and imports any other, one task at a time", async () => {
    bundleWorker(file);
    expectScript(readFileSync(file, "utf8"));
    const text = join(out, "note.txt");
    writeFileSync(text, "call me on 020 7946 0018");
    const worker = new Worker(file);
    // It says it has booted before it answers anything.
    const booted = new Promise((resolve) => worker.once("message", resolve));
    const ask = (request: TaskRequest) =>
      new Promise<TaskResponse>((resolve) => {
        worker.once("message", resolve);
        worker.postMessage(request);
      });
    const list = (items: string[]) => ({ items, next: new Int32Array(new SharedArrayBuffer(4)) });
    try {
      expect(await booted).toEqual({ ready: true });
      expect(
        await ask({
          moduleUrl: built("stores/artifact/digest-worker"),
          task: "digestFiles",
          payload: list([text]),
        }),
      ).toEqual({
        ok: true,
        result: [
          [0, { sha256: createHash("sha256").update(readFileSync(text)).digest("hex"), bytes: 24 }],
        ],
      });
      const read = await ask({
        moduleUrl: built("connectors/file-reader"),
        task: "readFiles",
        payload: { maxFileSize: 1000, encoding: "utf-8", errors: "replace", ...list([text]) },
      });
      expect(read).toEqual({
        ok: true,
        result: [[0, { kind: "text", text: "call me on 020 7946 0018", size: 24 }]],
      });
      // A thread that was not prepared imports the ruleset loader (left out of the bundle).
      const scan = await ask({
        moduleUrl: built("processors/personal-data-worker"),
        task: "scanTexts",
        payload: {
          ruleset: "local/personal_data_indicator/1.0.0",
          texts: ["write to jane.doe@example.com"],
          options: { contextSize: "small", maximumEvidenceCount: 1, proximityThreshold: 200 },
        },
      });
      expect(scan).toMatchObject({
        ok: true,
        result: [[{ evidence: [expect.stringContaining("jane.doe@example.com")] }]],
      });
      // Not bundled: imported from tsc's output.
      expect(
        await ask({ moduleUrl: built("stores/keys"), task: "validateRunId", payload: "abc" }),
      ).toEqual({ ok: true, result: "abc" });
      expect(
        await ask({ moduleUrl: built("connectors/file-reader"), task: "missing", payload: null }),
      ).toMatchObject({ ok: false, message: expect.stringContaining("has no task 'missing'") });
    } finally {
      await worker.terminate();
    }
  });
});
