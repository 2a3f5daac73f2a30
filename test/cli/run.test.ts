/**
 * `wct run` and friends in a subprocess, exactly as a user types them, on a temporary store.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { chmod, link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BIN, hasStackTrace, ROOT, runWct } from "../helpers/cli.js";

const EXAMPLE = join(ROOT, "examples/personal-data-scan.yaml");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let dir: string;
let store: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-cli-"));
  store = join(dir, "store");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const wct = (args: string[], env: Record<string, string> = {}) =>
  runWct(args, { cwd: dir, env: { WAIVERN_STORE_PATH: store, ...env } });

async function runbook(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

describe("wct run", () => {
  it("runs the example, prints the run ID and persists every artifact as a Message", async () => {
    const result = await wct(["run", EXAMPLE, "-o", "export.json"]);
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.code).toBe(0);
    const runId = result.stdout.trim();
    expect(runId).toMatch(UUID);
    const runDir = join(store, "runs", runId);
    const files = (await readdir(join(runDir, "artifacts"))).sort();
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const message = JSON.parse(await readFile(join(runDir, "artifacts", file), "utf8"));
      expect(message.run_id).toBe(runId);
      expect(message.schema.name).toBeTruthy();
    }
    for (const f of ["metadata.json", "events.jsonl", "plan.json", "state.json"]) {
      expect(existsSync(join(runDir, "_system", f))).toBe(true);
    }
    const exported = JSON.parse(await readFile(join(dir, "export.json"), "utf8"));
    expect(exported.format_version).toBe("2.0.0");
    expect(exported.run).toMatchObject({ id: runId, status: "completed" });
    expect(exported.outputs.length).toBeGreaterThan(0);
    const gdpr = exported.outputs.find(
      (o: { output_schema: { name: string } }) => o.output_schema.name === "gdpr_personal_data",
    );
    expect(gdpr.content.findings.length).toBeGreaterThan(0);
  });

  it("prints the run record with --json", async () => {
    const result = await wct(["run", EXAMPLE, "--json"]);
    expect(result.code).toBe(0);
    const record = JSON.parse(result.stdout);
    expect(record).toMatchObject({ status: "completed", runbook: expect.any(String) });
    expect(record.run_id).toMatch(UUID);
    expect(record.counts.completed).toBe(record.artifact_ids.length);
  });

  it("rejects a cyclic runbook with exit 2, naming the file and the cycle, without a stack trace", async () => {
    const file = await runbook(
      "cycle.yaml",
      "name: cyc\ndescription: cycle\nartifacts:\n  s: {source: {type: filesystem, properties: {path: .}}}\n" +
        "  a: {inputs: [s, b], process: {type: personal_data}}\n  b: {inputs: a, process: {type: personal_data}}\n",
    );
    const ownStore = join(dir, "cycle-store");
    const result = await wct(["run", file], { WAIVERN_STORE_PATH: ownStore });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("cycle.yaml:5:");
    expect(result.stderr).toContain("a -> b -> a");
    expect(hasStackTrace(result.stderr)).toBe(false);
    // Nothing half-written: an invalid runbook never becomes a run.
    const runs = existsSync(join(ownStore, "runs")) ? await readdir(join(ownStore, "runs")) : [];
    expect(runs).toEqual([]);
  });

  it("rejects malformed YAML, a missing file and an unknown processor with exit 2", async () => {
    const bad = await runbook("bad.yaml", "name: x\ndescription: [unclosed\nartifacts: {}\n");
    const malformed = await wct(["run", bad]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/bad\.yaml:\d+:\d+/);
    expect(hasStackTrace(malformed.stderr)).toBe(false);

    const missing = await wct(["run", join(dir, "nope.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.yaml");

    const unknown = await runbook(
      "unknown.yaml",
      "name: x\ndescription: y\nartifacts:\n  s: {source: {type: filesystem, properties: {path: .}}}\n  p: {inputs: s, process: {type: personal_dat}}\n",
    );
    const result = await wct(["run", unknown]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown.yaml:5:");
    expect(result.stderr).toContain("did you mean 'personal_data'");
    expect(result.stderr).toContain("gdpr_personal_data_classifier");
  });

  it("exits 1 when an artifact fails, keeping the independent branch", async () => {
    const file = await runbook(
      "partial.yaml",
      "name: partial\ndescription: one branch fails\nartifacts:\n" +
        "  missing: {source: {type: filesystem, properties: {path: does-not-exist}}}\n" +
        `  files: {source: {type: filesystem, properties: {path: '${join(ROOT, "examples/data/files")}'}}}\n` +
        "  findings: {inputs: files, process: {type: personal_data}}\n" +
        "  lost: {inputs: missing, process: {type: personal_data}}\n",
    );
    const result = await wct(["run", file, "--json"]);
    expect(result.code).toBe(1);
    const record = JSON.parse(result.stdout);
    expect(record.status).toBe("failed");
    const inspect = await wct(["inspect", record.run_id, "--json"]);
    const states = Object.fromEntries(
      JSON.parse(inspect.stdout).artifacts.map((a: { id: string; status: string }) => [
        a.id,
        a.status,
      ]),
    );
    expect(states).toEqual({
      missing: "failed",
      files: "completed",
      findings: "completed",
      lost: "skipped",
    });
    const exported = JSON.parse((await wct(["export", record.run_id])).stdout);
    expect(exported.run.status).toBe("failed");
    expect(exported.summary).toEqual({ total: 4, succeeded: 2, failed: 1, skipped: 1, pending: 0 });
  });

  it("exports a completed run whose optional artifact failed as partial, not failed", async () => {
    const file = await runbook(
      "optional.yaml",
      "name: optional\ndescription: an optional branch fails\nartifacts:\n" +
        "  missing: {source: {type: filesystem, properties: {path: does-not-exist}}, optional: true}\n" +
        `  files: {source: {type: filesystem, properties: {path: '${join(ROOT, "examples/data/files")}'}}}\n`,
    );
    const result = await wct(["run", file, "--json"]);
    expect(result.code).toBe(0);
    const record = JSON.parse(result.stdout);
    expect(record.status).toBe("completed");
    const exported = JSON.parse((await wct(["export", record.run_id])).stdout);
    expect(exported.run.status).toBe("partial");
    expect(exported.errors).toEqual([
      { artifact_id: "missing", error: expect.stringContaining("does not exist") },
    ]);
  });

  it("resolves a child runbook's relative paths in the child's own folder", async () => {
    await mkdir(join(dir, "family", "data"), { recursive: true });
    await mkdir(join(dir, "family", "child", "data"), { recursive: true });
    await writeFile(join(dir, "family", "data", "a.txt"), "parent: root@example.com\n");
    await writeFile(join(dir, "family", "child", "data", "a.txt"), "child: kid@example.com\n");
    await writeFile(
      join(dir, "family", "child", "scan.yaml"),
      "name: child\ndescription: reads its own data\noutputs:\n  found: {artifact: pd}\n" +
        "artifacts:\n  own: {source: {type: filesystem, properties: {path: data}}}\n" +
        "  pd: {inputs: own, process: {type: personal_data}}\n",
    );
    const parent = await runbook(
      "family/parent.yaml",
      "name: parent\ndescription: d\nartifacts:\n  files: {source: {type: filesystem, properties: {path: data}}}\n" +
        "  scan: {inputs: files, child_runbook: {path: child/scan.yaml, input_mapping: {}, output: found}}\n",
    );
    const result = await wct(["run", parent, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const runId = JSON.parse(result.stdout).run_id;
    const read = async (id: string) =>
      JSON.stringify(
        JSON.parse(await readFile(join(store, "runs", runId, "artifacts", `${id}.json`), "utf8"))
          .content,
      );
    expect(await read("files")).toContain("root@example.com");
    expect(await read("scan__own")).toContain("kid@example.com");
    expect(await read("scan__own")).not.toContain("root@example.com");
  });

  it("rejects an output file in a missing folder before running anything", async () => {
    const ownStore = join(dir, "output-store");
    const result = await wct(["run", EXAMPLE, "-o", "no/such/folder/x.json"], {
      WAIVERN_STORE_PATH: ownStore,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("cannot write 'no/such/folder/x.json'");
    expect(existsSync(join(ownStore, "runs"))).toBe(false);
    // A folder is no output file either, for run, export and generate-schema alike.
    const folder = await wct(["run", EXAMPLE, "-o", "."], { WAIVERN_STORE_PATH: ownStore });
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain("cannot write '.': it is a folder; name a file");
    expect(existsSync(join(ownStore, "runs"))).toBe(false);
    const schema = await wct(["generate-schema", "-o", "no/such/folder/s.json"]);
    expect(schema.code).toBe(2);
    expect(schema.stderr).toContain("cannot write 'no/such/folder/s.json': folder");
    // `-o ""` (an unset variable in a script) names no file: refused, not printed to stdout.
    const empty = await wct(["generate-schema", "-o", ""]);
    expect(empty).toMatchObject({ code: 2, stdout: "" });
    expect(empty.stderr).toBe("wct: -o is empty: name the file to write\n");
  });

  it("rejects an unknown exporter before running anything", async () => {
    const result = await wct(["run", EXAMPLE, "--exporter", "pdf", "-o", "x.pdf"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown exporter 'pdf'");
  });

  it("lists the installed components, exporters and rulesets", async () => {
    const connectors = await wct(["connectors"]);
    expect(connectors.code).toBe(0);
    expect(connectors.stdout).toMatch(/filesystem[\s\S]*sqlite/);
    const processors = JSON.parse((await wct(["processors", "--json"])).stdout);
    expect(processors.map((p: { type: string }) => p.type)).toEqual([
      "personal_data",
      "gdpr_personal_data_classifier",
    ]);
    expect((await wct(["exporters"])).stdout).toContain("json");
    expect((await wct(["rulesets"])).stdout).toContain("local/personal_data_indicator/1.0.0");
  });

  it("validates a runbook and writes the editor schema", async () => {
    const valid = await wct(["validate-runbook", EXAMPLE]);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain("valid");
    const broken = await runbook(
      "broken.yaml",
      "name: b\ndescription: d\nartifacts:\n  x: {inputs: nothere, process: {type: personal_data}}\n",
    );
    const invalid = await wct(["validate-runbook", broken, "--json"]);
    expect(invalid.code).toBe(2);
    expect(JSON.parse(invalid.stdout)).toEqual({
      valid: false,
      problems: [expect.objectContaining({ file: broken, line: 4, path: "artifacts.x.inputs" })],
    });
    // A runbook that cannot be read at all is a problem of the file, as data too.
    const missing = join(dir, "nowhere.yaml");
    const unread = await wct(["validate-runbook", missing, "--json"]);
    expect(unread.code).toBe(2);
    expect(JSON.parse(unread.stdout)).toEqual({
      valid: false,
      problems: [
        expect.objectContaining({ file: missing, message: expect.stringContaining("not found") }),
      ],
    });
    // The summary of a valid runbook, as the README gives it: {valid, name, artifacts}.
    const summary = await wct(["validate-runbook", EXAMPLE, "--json"]);
    expect(summary.code).toBe(0);
    expect(JSON.parse(summary.stdout)).toEqual({
      valid: true,
      name: "Example personal data scan",
      artifacts: expect.arrayContaining([
        {
          id: "files_gdpr",
          produces: "gdpr_personal_data/1.0.0",
          inputs: ["files_personal_data"],
          component: "gdpr_personal_data_classifier",
          output: true,
        },
      ]),
    });
    const schema = await wct(["generate-schema", "-o", "schema.json"]);
    expect(schema.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, "schema.json"), "utf8")).$schema).toContain(
      "json-schema.org",
    );
  });

  it("names the store it read when it holds no runs (a mistyped path is not an empty history)", async () => {
    const empty = await wct(["runs", "--store-path", "typo"]);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toBe(
      `No runs recorded in the filesystem store at ${join(dir, "typo")}.\n`,
    );
  });

  it("warns about a runbook without artifacts, which is valid but scans nothing", async () => {
    const empty = await runbook(
      "empty.yaml",
      "name: empty\ndescription: nothing yet\nartifacts: {}\n",
    );
    for (const command of ["validate-runbook", "run"]) {
      const result = await wct([command, empty]);
      expect(result.code, command).toBe(0);
      expect(result.stderr, command).toContain("warning: the runbook has no artifacts");
    }
  });

  it("warns that a child runbook's config is not used, and runs with the root's", async () => {
    await mkdir(join(dir, "child-config-data"), { recursive: true });
    await writeFile(join(dir, "child-config-data", "note.txt"), "mail jane.doe@example.com\n");
    await runbook(
      "config-child.yaml",
      "name: child\ndescription: sets config\nconfig:\n  timeout: 1\ninputs:\n  data: {input_schema: standard_input}\noutputs:\n  found: {artifact: scan}\nartifacts:\n  scan: {inputs: data, process: {type: personal_data}}\n",
    );
    const root = await runbook(
      "config-root.yaml",
      "name: root\ndescription: uses the child\nartifacts:\n  files: {source: {type: filesystem, properties: {path: child-config-data}}}\n  found:\n    inputs: files\n    child_runbook: {path: config-child.yaml, input_mapping: {data: files}, output: found}\n",
    );
    const warning = `warning: ${join(dir, "config-child.yaml")}:3:1: config: a child runbook's config is not used`;
    for (const command of ["validate-runbook", "run"]) {
      const result = await wct([command, root]);
      expect(result.code, command).toBe(0);
      expect(result.stderr, command).toContain(warning);
    }
  });

  it("on a TERM=dumb terminal prints plain lines, without colour or cursor movement", async () => {
    // Emacs' shell and some CI consoles are terminals that show escape sequences as text.
    await mkdir(join(dir, "dumb-data"), { recursive: true });
    await writeFile(join(dir, "dumb-data/a.txt"), "jane@example.com\n");
    const file = await runbook(
      "dumb.yaml",
      "name: dumb\ndescription: d\nartifacts:\n" +
        "  files: {source: {type: filesystem, properties: {path: dumb-data}}}\n",
    );
    let text = "";
    const stderr = Object.assign(
      new Writable({
        write(chunk, _encoding, done) {
          text += String(chunk);
          done();
        },
      }),
      { isTTY: true, columns: 80, rows: 24 },
    );
    const stdout = new Writable({ write: (_chunk, _encoding, done) => done() });
    const code = await main(["run", file], {
      cwd: dir,
      env: { WAIVERN_STORE_PATH: store, TERM: "dumb" },
      stdout,
      stderr,
      signal: new AbortController().signal,
    });
    expect(code, text).toBe(0);
    expect(text).not.toContain("\x1b");
    expect(text).toMatch(/^✓ files .*\ncompleted: 1 completed, 0 failed, 0 skipped in /);
  });

  it("writes -o /dev/stdout into the file stdout is redirected to, and keeps hard links", async () => {
    const runId = (await wct(["run", EXAMPLE])).stdout.trim();
    const redirected = join(dir, "redirected.json");
    const fd = openSync(redirected, "w");
    try {
      const result = spawnSync(process.execPath, [BIN, "export", runId, "-o", "/dev/stdout"], {
        cwd: dir,
        env: { ...process.env, WAIVERN_STORE_PATH: store },
        stdio: ["ignore", fd, "pipe"],
      });
      expect(result.status, String(result.stderr)).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(JSON.parse(await readFile(redirected, "utf8")).run.id).toBe(runId);
    // A report with a second name: both names see the new export.
    const report = join(dir, "linked.json");
    await writeFile(report, "old");
    await link(report, join(dir, "linked-too.json"));
    expect((await wct(["export", runId, "-o", report])).code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, "linked-too.json"), "utf8")).run.id).toBe(runId);
  });

  it("says once what stdout could not take, and never stops a run for what stderr cannot", () => {
    const full = openSync("/dev/full", "w");
    const own = join(dir, "full-store");
    const spawnWith = (args: string[], stdio: ["ignore", number | "pipe", number | "pipe"]) =>
      spawnSync(process.execPath, [BIN, ...args], { cwd: dir, stdio });
    try {
      const listing = spawnWith(["connectors"], ["ignore", full, "pipe"]);
      expect(listing.status).toBe(1);
      expect(String(listing.stderr)).toBe(
        "wct: could not write to stdout (ENOSPC: no space left on device)\n",
      );
      const ran = spawnWith(
        ["run", EXAMPLE, "--json", "--store-path", own],
        ["ignore", full, "pipe"],
      );
      expect(ran.status).toBe(1);
      const runId = /run (\S+) is stored/.exec(String(ran.stderr))?.[1];
      expect(runId, String(ran.stderr)).toMatch(UUID);
      expect(hasStackTrace(String(ran.stderr))).toBe(false);
      expect(existsSync(join(own, "runs", runId!, "artifacts"))).toBe(true);
      const quiet = spawnWith(["run", EXAMPLE, "--store-path", own], ["ignore", "pipe", full]);
      expect(quiet.status).toBe(0);
      expect(String(quiet.stdout).trim()).toMatch(UUID);
    } finally {
      closeSync(full);
    }
  });

  it("refuses an -o on a read-only file system before running anything", async () => {
    // Root writes through file modes: a read-only mount is what stops it.
    const readOnly = join(dir, "read-only");
    await mkdir(readOnly);
    const root = process.getuid?.() === 0;
    if (root) execFileSync("mount", ["-t", "tmpfs", "-o", "ro", "tmpfs", readOnly]);
    else await chmod(readOnly, 0o555);
    try {
      const own = join(dir, "ro-store");
      const result = await wct([
        "run",
        EXAMPLE,
        "-o",
        join(readOnly, "x.json"),
        "--store-path",
        own,
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `wct: cannot write '${join(readOnly, "x.json")}': ${root ? "the file system is read-only" : `folder '${readOnly}' is not writable (EACCES)`}\n`,
      );
      expect(existsSync(join(own, "runs"))).toBe(false);
    } finally {
      if (root) execFileSync("umount", [readOnly]);
      else await chmod(readOnly, 0o755);
    }
  });

  it("refuses a store path that is a file, naming where it came from", async () => {
    await writeFile(join(dir, "afile"), "x");
    const flag = await wct(["runs", "--store-path", "afile"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe("wct: store path 'afile' (--store-path) is a file; name a folder\n");
    const variable = await wct(["run", EXAMPLE], { WAIVERN_STORE_PATH: join(dir, "afile") });
    expect(variable.code).toBe(2);
    expect(variable.stderr).toContain("(WAIVERN_STORE_PATH) is a file; name a folder");
    const device = await wct(["runs", "--store-path", "/dev/null"]);
    expect(device.code).toBe(2);
    expect(device.stderr).toBe(
      "wct: store path '/dev/null' (--store-path) is not a folder; name a folder\n",
    );
  });

  it("refuses a store path inside another store's runs, naming that store", async () => {
    const outer = join(dir, "outer-store");
    const ran = await wct(["run", EXAMPLE, "--store-path", outer]);
    expect(ran.code).toBe(0);
    const runId = ran.stdout.trim();
    const cases: Array<[string, string]> = [
      ["outer-store/runs", "is the runs folder of the store at 'outer-store'"],
      [`outer-store/runs/${runId}`, `is inside run ${runId} of the store at 'outer-store'`],
      // Not there yet, and it would be made inside the run.
      [
        `outer-store/runs/${runId}/artifacts/new`,
        `is inside run ${runId} of the store at 'outer-store'`,
      ],
    ];
    for (const [path, says] of cases) {
      const result = await wct(["run", EXAMPLE, "--store-path", path]);
      expect(result.code, path).toBe(2);
      expect(result.stderr).toBe(
        `wct: store path '${path}' (--store-path) ${says}: name that store's folder\n`,
      );
    }
    expect(await readdir(join(outer, "runs"))).toEqual([runId]);
    expect(existsSync(join(outer, "runs", runId, "artifacts", "new"))).toBe(false);
    // The default store, from inside a run's folder.
    const inside = await runWct(["runs"], { cwd: join(outer, "runs", runId, "artifacts") });
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain("store path '.waivern' (the default) is inside run");
    // A store that is itself named `runs` is a store like any other.
    const named = await wct(["run", EXAMPLE, "--store-path", join(dir, "scans", "runs")]);
    expect(named.code, named.stderr).toBe(0);
    expect((await wct(["runs", "--store-path", join(dir, "scans", "runs")])).code).toBe(0);
  });

  it("refuses an empty -o (an unset variable in a script) before running anything", async () => {
    const store = join(dir, "empty-o-store");
    const result = await wct(["run", EXAMPLE, "-o", "", "--store-path", store]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("wct: -o is empty: name the file to write\n");
    expect(existsSync(join(store, "runs"))).toBe(false);
  });

  it("answers bad arguments with exit 2 and usage help with exit 0", async () => {
    expect((await wct(["run"])).code).toBe(2);
    expect((await wct(["frobnicate"])).code).toBe(2);
    const help = await wct(["--help"]);
    expect(help.code).toBe(0);
    // Exit 1 is not only a failed run: a damaged run or a store failure (README, Exit codes).
    expect(help.stdout).toMatch(/1 run failed or interrupted, or a store or integrity failure/);
    expect(help.stdout).toContain("--store-type");
    expect((await wct(["run", "--help"])).stdout).toContain("--resume");
  });
});
