// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests use ${VAR} placeholders
/**
 * Runbook reading and planning edge cases through the real `wct` binary, on a temporary store.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasStackTrace, runWct } from "../helpers/cli.js";

let dir: string;
let store: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-cli-runbook-"));
  store = join(dir, "store");
  await mkdir(join(dir, "data"));
  await writeFile(join(dir, "data", "note.txt"), "Contact alice@example.com\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const wct = (args: string[], env: Record<string, string> = {}) =>
  runWct(args, { cwd: dir, env: { WAIVERN_STORE_PATH: store, ...env } });

async function runbook(name: string, artifacts: string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(
    file,
    ["name: edge", "description: edge cases", "artifacts:", ...artifacts].join("\n"),
  );
  return file;
}

/** Every file under `folder`, as text. */
async function filesUnder(folder: string): Promise<string[]> {
  const names = await readdir(folder, { recursive: true, withFileTypes: true });
  return Promise.all(
    names
      .filter((entry) => entry.isFile())
      .map((entry) => readFile(join(entry.parentPath, entry.name), "utf8")),
  );
}

describe("runbook names that every JavaScript object has as properties", () => {
  it("reports an input naming 'constructor' as missing: exit 2, no internal error", async () => {
    const file = await runbook("constructor.yaml", [
      "  files:",
      "    source: {type: filesystem, properties: {path: data}}",
      "  found:",
      "    inputs: [files, constructor]",
      "    process: {type: personal_data}",
    ]);
    const result = await wct(["validate-runbook", file]);
    expect(result.stderr).not.toMatch(/internal error/);
    expect(hasStackTrace(result.stderr)).toBe(false);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "constructor.yaml:7:5: artifacts.found.inputs: references artifact 'constructor', which does not exist",
    );
  });

  it("runs artifacts named 'toString' and '__proto__'", async () => {
    const file = await runbook("object-names.yaml", [
      "  toString:",
      "    source: {type: filesystem, properties: {path: data}}",
      "  __proto__:",
      "    inputs: toString",
      "    process: {type: personal_data}",
      "    output: true",
    ]);
    const result = await wct(["run", file]);
    expect(result.stderr).not.toMatch(/internal error|already used/);
    expect(result.code).toBe(0);
    const runId = result.stdout.trim();
    const stored = await readdir(join(store, "runs", runId, "artifacts"));
    expect(stored.sort()).toEqual(["__proto__.json", "toString.json"]);
  });
});

describe("${VAR} substitution", () => {
  it("substitutes a placeholder inside a default, and stores neither its value", async () => {
    const file = await runbook("nested-default.yaml", [
      "  files:",
      "    source:",
      "      type: filesystem",
      "      properties: {path: '${WCT_TEST_UNSET:-${WCT_TEST_DATA}}'}",
      "  found:",
      "    inputs: files",
      "    process: {type: personal_data}",
      "    output: true",
    ]);
    const secret = join(dir, "data");
    const result = await wct(["run", file, "--json"], { WCT_TEST_DATA: secret });
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.status).toBe("completed");
    const runFolder = join(store, "runs", summary.run_id);
    for (const text of await filesUnder(runFolder)) expect(text).not.toContain(secret);
    const plan = await readFile(join(runFolder, "_system", "plan.json"), "utf8");
    expect(plan).toContain("${WCT_TEST_UNSET:-${WCT_TEST_DATA}}");
  });
});

describe("validate-runbook's summary", () => {
  it("shows control characters of the runbook's name escaped, never as terminal commands", async () => {
    const file = join(dir, "escape.yaml");
    await writeFile(
      file,
      [
        'name: "Scan \\e[2J\\e]0;owned\\a"',
        "description: d",
        "artifacts:",
        "  files: {source: {type: filesystem, properties: {path: data}}}",
      ].join("\n"),
    );
    const result = await wct(["validate-runbook", file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("valid — 'Scan \\u001b[2J\\u001b]0;owned\\u0007'");
    expect(result.stdout).not.toContain("\u001b");
  });
});
