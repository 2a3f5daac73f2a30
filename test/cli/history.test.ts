/**
 * Run history from the stores, as a user meets it: `wct runs`, `inspect`, `runs verify`,
 * `runs delete`, `runs prune`, `--resume` — in a subprocess, on a temporary filesystem store.
 */
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFileSystemExecutionStore } from "../../src/stores/execution/filesystem.js";
import { hasStackTrace, runWct, startWct } from "../helpers/cli.js";
import { StoreSandbox, scanRunbook } from "../helpers/history.js";
import { deadPid, sampleRun } from "../stores/execution-store-suite.js";

const sandbox = new StoreSandbox();
const { wct, write, run } = sandbox;
let dir: string;
let store: string;
const rb = (name: string, extra = "") => scanRunbook(name, "history test", extra);

let first: string;
let second: string;
let failed: string;
beforeAll(async () => {
  await sandbox.open("wct-history-");
  ({ dir, store } = sandbox);
  first = await run(await write("alpha.yaml", rb("alpha")));
  second = await run(await write("beta.yaml", rb("beta")));
  failed = await run(
    await write(
      "gamma.yaml",
      rb("gamma", "  broken: {source: {type: filesystem, properties: {path: '${GAMMA_DIR}'}}}\n"),
    ),
    { GAMMA_DIR: join(dir, "not-there-yet") },
  );
});
afterAll(() => sandbox.close());

describe("wct runs", () => {
  it("lists runs newest first with full run IDs, filtered by status and runbook", async () => {
    const all = JSON.parse((await wct(["runs", "--json"])).stdout);
    expect(all.map((r: { run_id: string }) => r.run_id)).toEqual([failed, second, first]);
    expect(all[0]).toMatchObject({ status: "failed", runbook: "gamma", counts: { failed: 1 } });
    expect(all[2].finished_at).toBeTruthy();
    const completed = JSON.parse((await wct(["runs", "--json", "--status", "completed"])).stdout);
    expect(completed.map((r: { run_id: string }) => r.run_id)).toEqual([second, first]);
    const beta = JSON.parse((await wct(["runs", "--json", "--runbook", "beta"])).stdout);
    expect(beta.map((r: { run_id: string }) => r.run_id)).toEqual([second]);
    const limited = JSON.parse((await wct(["runs", "--json", "--limit", "1"])).stdout);
    expect(limited).toHaveLength(1);
    const table = (await wct(["runs"])).stdout;
    expect(table).toContain(first);
    expect((await wct(["runs", "--status", "bogus"])).code).toBe(2);
  });
});

describe("wct inspect", () => {
  it("shows every artifact's status, hash and schema, accepting a unique prefix", async () => {
    const result = await wct(["inspect", first.slice(0, 20), "--json"]);
    expect(result.code).toBe(0);
    const record = JSON.parse(result.stdout);
    expect(record.run_id).toBe(first);
    expect(record.artifacts.map((a: { id: string }) => a.id)).toEqual(["files", "findings"]);
    for (const a of record.artifacts) {
      expect(a).toMatchObject({
        status: "completed",
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(a.bytes).toBeGreaterThan(0);
    }
    expect((await wct(["inspect", first])).stdout).toContain("personal_data_indicator/1.0.0");
  });

  it("prints one stored artifact and the audit trail", async () => {
    const content = JSON.parse((await wct(["inspect", first, "findings"])).stdout);
    expect(content.summary.total_findings).toBeGreaterThan(0);
    const events = JSON.parse((await wct(["inspect", first, "--events", "--json"])).stdout);
    expect(events[0].type).toBe("run_started");
    expect(events.at(-1)).toMatchObject({ type: "run_finished", status: "completed" });
    const completedEvent = events.find(
      (e: { type: string; artifact_id?: string }) =>
        e.type === "artifact_completed" && e.artifact_id === "files",
    );
    expect(completedEvent).toMatchObject({
      sha256: expect.any(String),
      bytes: expect.any(Number),
      schema: { name: "standard_input" },
    });
  });

  it("exports a past run from the stores without re-executing it", async () => {
    const eventsBefore = (
      await readFile(join(store, "runs", first, "_system", "events.jsonl"), "utf8")
    ).length;
    const exported = JSON.parse((await wct(["export", first])).stdout);
    expect(exported).toMatchObject({
      format_version: "2.0.0",
      run: { id: first, status: "completed" },
    });
    expect(exported.outputs.map((o: { artifact_id: string }) => o.artifact_id)).toEqual([
      "findings",
    ]);
    expect(
      (await readFile(join(store, "runs", first, "_system", "events.jsonl"), "utf8")).length,
    ).toBe(eventsBefore);
    const unknown = await wct(["export", first, "--format", "pdf"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("available: json");
  });

  it("refuses an empty -o (an unset variable in a script) instead of printing the export", async () => {
    const result = await wct(["export", first, "-o", ""]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("-o is empty");
  });

  it("rejects traversal attempts in every place a run ID or key enters, with exit 2 and no file access", async () => {
    for (const args of [
      ["inspect", "../../etc"],
      ["inspect", "/etc/passwd"],
      ["inspect", first, "../../../etc/passwd"],
      ["inspect", first, "a\\b"],
      ["runs", "verify", "../x"],
      ["runs", "delete", ".."],
      ["export", "../../etc"],
      ["run", join(dir, "alpha.yaml"), "--resume", "../../x"],
    ]) {
      const result = await wct(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(hasStackTrace(result.stderr)).toBe(false);
    }
    const reuse = await write(
      "reuse.yaml",
      "name: r\ndescription: r\nartifacts:\n  x: {reuse: {from_run: '../../etc', artifact: passwd}}\n",
    );
    const result = await wct(["run", reuse]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("reuse.yaml:4:");
  });

  it("resumes a run whose reused copy is kept, though the run it was copied from is deleted", async () => {
    const source = await run(await write("source.yaml", rb("source")));
    const copier = await write(
      "copier.yaml",
      "name: copier\ndescription: reuses and fails once\nartifacts:\n" +
        `  copy: {reuse: {from_run: '${source}', artifact: files}}\n` +
        "  late: {source: {type: filesystem, properties: {path: '${LATE_DIR}'}}}\n",
    );
    const failed = await run(copier, { LATE_DIR: join(dir, "not-yet") });
    expect((await wct(["runs", "delete", source])).code).toBe(0);
    await mkdir(join(dir, "not-yet"), { recursive: true });
    await writeFile(join(dir, "not-yet", "note.txt"), "call +44 20 7946 0123\n");
    const resumed = await wct(["run", copier, "--resume", failed, "--json"], {
      LATE_DIR: join(dir, "not-yet"),
    });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: "completed", kept: ["copy"] });
    // A new run still needs the source.
    const fresh = await wct(["run", copier], { LATE_DIR: join(dir, "not-yet") });
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toContain(`Run '${source}' not found`);
  });

  /** A run that copies `files` from a new run, named by `fromRun(source)`, and fails once. */
  async function failedCopier(name: string, fromRun: (source: string) => string) {
    const source = await run(await write(`${name}-source.yaml`, rb(`${name}-source`)));
    const later = join(dir, `${name}-later`);
    const copier = await write(
      `${name}.yaml`,
      `name: ${name}\ndescription: reuses by prefix and fails once\nartifacts:\n` +
        `  copy: {reuse: {from_run: '${fromRun(source)}', artifact: files}}\n` +
        `  late: {source: {type: filesystem, properties: {path: '${later}'}}}\n`,
    );
    const failed = await run(copier);
    await mkdir(later);
    await writeFile(join(later, "note.txt"), "call +44 20 7946 0123\n");
    return { source, copier, failed };
  }

  it("resumes a run that reused by a prefix which another run now shares", async () => {
    const { source, copier, failed } = await failedCopier("prefixed", (id) => id.slice(0, 13));
    // A run started since in the same minute has the same first characters.
    const sibling = `${source.slice(0, -1)}${source.endsWith("0") ? "1" : "0"}`;
    await cp(join(store, "runs", source), join(store, "runs", sibling), { recursive: true });
    const resumed = await wct(["run", copier, "--resume", failed, "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: "completed", kept: ["copy"] });
    // A new run must say which one it means.
    const fresh = await wct(["run", copier]);
    expect(fresh.code).toBe(2);
    expect(fresh.stderr).toContain("ambiguous");
    await rm(join(store, "runs", sibling), { recursive: true });
  });

  it("resumes a run that reused by an upper-case prefix, though the run it was copied from is deleted", async () => {
    const { source, copier, failed } = await failedCopier("upper", (id) =>
      id.slice(0, 18).toUpperCase(),
    );
    expect((await wct(["runs", "delete", source])).code).toBe(0);
    const resumed = await wct(["run", copier, "--resume", failed, "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: "completed", kept: ["copy"] });
    const inspected = JSON.parse((await wct(["inspect", failed, "--json"])).stdout);
    const copy = inspected.artifacts.find((a: { id: string }) => a.id === "copy");
    expect(copy.provenance).toMatchObject({ from_run: source, from_artifact: "files" });
  });

  it("says clearly when a run does not exist", async () => {
    const result = await wct(["inspect", "0190a0b0-0000-7000-8000-000000000000"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not found/);
  });
});

describe("wct run --resume", () => {
  it("completes a failed run without re-running what completed", async () => {
    await mkdir(join(dir, "not-there-yet"));
    await write("not-there-yet/hello.txt", "contact: jane.doe@example.com\n");
    const result = await wct(["run", join(dir, "gamma.yaml"), "--resume", failed, "--json"], {
      GAMMA_DIR: join(dir, "not-there-yet"),
    });
    expect(result.code).toBe(0);
    const record = JSON.parse(result.stdout);
    expect(record).toMatchObject({ run_id: failed, status: "completed", attempt: 2 });
    expect(record.kept.sort()).toEqual(["files", "findings"]);
    // Each attempt's trail names the runbook it ran.
    const events = JSON.parse((await wct(["inspect", failed, "--events", "--json"])).stdout);
    const started = events.filter((e: { type: string }) => e.type === "run_started");
    const text = await readFile(join(dir, "gamma.yaml"));
    const digest = createHash("sha256").update(text).digest("hex");
    expect(
      started.map((e: { attempt: number; runbook_sha256: string }) => [
        e.attempt,
        e.runbook_sha256,
      ]),
    ).toEqual([
      [1, digest],
      [2, digest],
    ]);
  });

  it("refuses a changed runbook, naming the changed artifacts", async () => {
    const file = await write(
      "delta.yaml",
      rb("delta", "  broken: {source: {type: filesystem, properties: {path: nowhere}}}\n"),
    );
    const runId = await run(file);
    await write(
      "delta.yaml",
      rb("delta", "  broken: {source: {type: filesystem, properties: {path: elsewhere}}}\n"),
    );
    const result = await wct(["run", file, "--resume", runId]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("broken");
  });
});

describe("integrity and retention", () => {
  it("verifies hashes and names a corrupted artifact file", async () => {
    expect((await wct(["runs", "verify", second])).code).toBe(0);
    // The store flag may stand before the subcommand too, and then wins over the environment.
    const elsewhere = await runWct(["runs", "--store-path", store, "verify", second], {
      cwd: dir,
      env: { WAIVERN_STORE_PATH: join(dir, "empty") },
    });
    expect(elsewhere.code).toBe(0);
    const file = join(store, "runs", second, "artifacts", "findings.json");
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace(/"total_findings":\d+/, '"total_findings":0'));
    const result = await wct(["runs", "verify", second]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("findings");
    await writeFile(file, text.slice(0, text.length / 2));
    const torn = await wct(["inspect", second, "findings"]);
    expect(torn.code).toBe(1);
    expect(torn.stderr).toContain(`runs/${second}/artifacts/findings.json`);
    expect(hasStackTrace(torn.stderr)).toBe(false);
  });

  it("deletes a run and prunes by age and count, with a dry run first", async () => {
    const before = JSON.parse((await wct(["runs", "--json"])).stdout).map(
      (r: { run_id: string }) => r.run_id,
    );
    const dry = JSON.parse(
      (await wct(["runs", "prune", "--keep-last", "2", "--dry-run", "--json"])).stdout,
    );
    expect(dry.deleted).toEqual(before.slice(2));
    expect(JSON.parse((await wct(["runs", "--json"])).stdout)).toHaveLength(before.length);
    expect((await wct(["runs", "prune", "--older-than", "30d", "--json"])).stdout).toContain(
      '"deleted": []',
    );
    expect((await wct(["runs", "prune"])).code).toBe(2);

    expect((await wct(["runs", "delete", first])).code).toBe(0);
    expect(readdirSync(join(store, "runs"))).not.toContain(first);
    expect((await wct(["inspect", first])).code).toBe(2);

    const pruned = JSON.parse((await wct(["runs", "prune", "--keep-last", "1", "--json"])).stdout);
    expect(pruned.deleted.length).toBe(before.length - 2);
    expect(JSON.parse((await wct(["runs", "--json"])).stdout)).toHaveLength(1);
  });
});

describe("secrets", () => {
  it("never writes a value substituted from the environment into the store", async () => {
    const secret = "s3cr3t-value-that-must-not-leak";
    const file = await write(
      "secret.yaml",
      "name: secret\ndescription: '${DESCRIPTION_SECRET}'\nartifacts:\n" +
        "  broken: {source: {type: filesystem, properties: {path: '/no/such/${DESCRIPTION_SECRET}'}}}\n" +
        "  scanned: {source: {type: filesystem, properties: {path: '${SECRET_DIR}'}}}\n" +
        "  found: {inputs: scanned, process: {type: personal_data}}\n" +
        "  one_file: {source: {type: filesystem, properties: {path: 'named/${DESCRIPTION_SECRET}.txt'}}}\n",
    );
    // The folder's own name is the secret: it must not be echoed into stored artifacts either,
    // nor the name of a file that `path` names.
    await mkdir(join(dir, secret));
    await writeFile(join(dir, secret, "note.txt"), "email: john.smith@example.com\n");
    await mkdir(join(dir, "named"), { recursive: true });
    await writeFile(join(dir, "named", `${secret}.txt`), "email: jane.roe@example.com\n");
    const runId = await run(file, { DESCRIPTION_SECRET: secret, SECRET_DIR: join(dir, secret) });
    expect(readdirSync(join(store, "runs", runId, "artifacts")).sort()).toEqual([
      "found.json",
      "one_file.json",
      "scanned.json",
    ]);
    const files = readdirSync(join(store, "runs", runId), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
    expect(files.length).toBeGreaterThan(3);
    let placeholders = 0;
    for (const f of files) {
      const text = await readFile(f, "utf8");
      expect(text, f).not.toContain(secret);
      if (text.includes("${DESCRIPTION_SECRET}")) placeholders++;
    }
    expect(placeholders).toBeGreaterThan(0);
  });

  it("keeps short values, the runbook name and echoed patterns out of the store too", async () => {
    const file = await write(
      "short-secret.yaml",
      "name: 'Scan ${TEAM}'\ndescription: d\nartifacts:\n" +
        "  missing: {source: {type: filesystem, properties: {path: 'data/${DIR}'}}}\n" +
        "  scanned: {source: {type: filesystem, properties: {path: '.', include_patterns: ['*.${EXT}'], exclude_patterns: ['${SKIP}']}}}\n",
    );
    const values = { TEAM: "TeamQz81", DIR: "xq7", EXT: "zqj", SKIP: "skipQz55" };
    const runId = await run(file, values);
    const files = readdirSync(join(store, "runs", runId), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
    for (const f of files) {
      const text = await readFile(f, "utf8");
      for (const value of Object.values(values)) expect(text, f).not.toContain(value);
    }
    const listed = JSON.parse((await wct(["runs", "--json", "--runbook", "Scan ${TEAM}"])).stdout);
    expect(listed.map((r: { run_id: string }) => r.run_id)).toContain(runId);
  });

  it("keeps a path value out once it is normalised (./x/, x//), and a timeout out of its reason", async () => {
    const file = await write(
      "normalised-secret.yaml",
      "name: normalised\ndescription: d\nconfig: {timeout: '${LIMIT}'}\nartifacts:\n" +
        "  dotted: {source: {type: filesystem, properties: {path: '${DOTTED}'}}}\n" +
        "  doubled: {source: {type: filesystem, properties: {path: '${DOUBLED}'}}}\n",
    );
    const values = { DOTTED: "./acme_exports_qz/", DOUBLED: "payroll_qz//2026//", LIMIT: "1" };
    const result = await wct(["run", file, "--json", "-o", join(dir, "normalised.json")], values);
    expect(result.code).toBe(1);
    const runId = JSON.parse(result.stdout).run_id;
    const files = readdirSync(join(store, "runs", runId), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
    for (const f of [...files, join(dir, "normalised.json")]) {
      const text = await readFile(f, "utf8");
      for (const form of ["acme_exports_qz", "payroll_qz/2026"])
        expect(text, f).not.toContain(form);
    }
    expect(result.stderr).not.toContain("acme_exports_qz");
  });
});

describe("inspect --events as text", () => {
  it("shows C1 control characters of an error escaped (JSON leaves them raw)", async () => {
    // U+009B is CSI: a terminal may read `\u009b2J` as "clear the screen".
    const own = join(dir, "store-c1");
    const file = await write(
      "c1.yaml",
      'name: c1\ndescription: d\nartifacts:\n  gone: {source: {type: filesystem, properties: {path: "missing\\u009b2J"}}}\n',
    );
    const ran = await runWct(["run", file, "--store-path", own]);
    expect(ran.code).toBe(1);
    const events = await runWct(["inspect", ran.stdout.trim(), "--events", "--store-path", own]);
    expect(events.code).toBe(0);
    expect(events.stdout).toContain("missing\\u009b2J");
    expect(events.stdout).not.toContain("\u009b");
  });
});

/** `count` runs whose process is gone (a pid that has exited): `interrupted`, deletable. */
async function interruptedRuns(root: string, count: number): Promise<string[]> {
  const executions = createFileSystemExecutionStore({ root });
  const gone = { pid: await deadPid(), host: hostname(), token: "gone" };
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await executions.createRun(sampleRun(), gone)).run_id);
  await executions.close?.();
  return ids;
}

describe("wct runs prune, stopped or twice at once", () => {
  it("stops at Ctrl-C between two runs and reports what it deleted", async () => {
    const own = join(dir, "store-prune-stopped");
    const ids = await interruptedRuns(own, 300);
    const { child, result } = startWct([
      "runs",
      "prune",
      "--status",
      "interrupted",
      "--store-path",
      own,
    ]);
    // Once it has begun deleting.
    while (readdirSync(join(own, "runs")).filter((n) => !n.startsWith(".")).length === ids.length) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill("SIGINT");
    const stopped = await result;
    expect(stopped.code, stopped.stderr).toBe(130);
    const deleted = stopped.stdout.split("\n").filter(Boolean);
    expect(deleted.length).toBeGreaterThan(0);
    expect(deleted.length).toBeLessThan(ids.length);
    const left = readdirSync(join(own, "runs")).filter((n) => !n.startsWith("."));
    expect(deleted.map((line) => line.replace("deleted ", "")).sort()).toEqual(
      ids.filter((id) => !left.includes(id)).sort(),
    );
    expect(stopped.stderr).toContain("stopping: after the run being deleted");
    expect(stopped.stderr).toContain(
      `stopped: ${left.length} run(s) that matched were not deleted`,
    );
  });

  it("splits the runs between the two: each run deleted once, none reported kept", async () => {
    const own = join(dir, "store-prune-race");
    const ids = await interruptedRuns(own, 150);
    const prune = () =>
      runWct(["runs", "prune", "--status", "interrupted", "--json", "--store-path", own]);
    const results = await Promise.all([prune(), prune()]);
    const outcomes = results.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { deleted: string[]; kept: unknown[] };
    });
    expect(outcomes.flatMap((o) => o.kept)).toEqual([]);
    const deleted = outcomes.flatMap((o) => o.deleted);
    expect(deleted.sort()).toEqual([...ids].sort());
    expect(readdirSync(join(own, "runs"))).toEqual([]);
  });
});
