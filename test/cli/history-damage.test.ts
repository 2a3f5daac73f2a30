// biome-ignore-all lint/suspicious/noTemplateCurlyInString: runbooks here use ${VAR} placeholders
/**
 * Past runs whose files were damaged or removed by hand, and the edges of the history commands'
 * arguments, as a user meets them: every case is one clear message and the right exit code.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { cp, mkdir, readFile, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, hasStackTrace, runWct } from "../helpers/cli.js";
import { EXAMPLE_FILES, StoreSandbox, scanRunbook } from "../helpers/history.js";

const sandbox = new StoreSandbox();
const { wct, write, run } = sandbox;
let dir: string;
let store: string;
const runbook = (name: string, extra = "") => scanRunbook(name, "damage test", extra);

const runFile = (runId: string, ...parts: string[]) => join(store, "runs", runId, ...parts);
const listed = async (args: string[] = []) =>
  JSON.parse((await wct(["runs", "--json", ...args])).stdout) as {
    run_id: string;
    problem?: string;
  }[];

let plain: string;
beforeAll(async () => {
  await sandbox.open("wct-damage-");
  ({ dir, store } = sandbox);
  plain = await write("plain.yaml", runbook("plain"));
});
afterAll(() => sandbox.close());

describe("prune", () => {
  it("keeps the newest N finished runs however many others are executing", async () => {
    const env = { WAIVERN_STORE_PATH: join(dir, "prune-store") };
    const other = (...parts: string[]) => join(dir, "prune-store", "runs", ...parts);
    const older = await run(plain, env);
    const newer = await run(plain, env);
    const executing = await run(plain, env);
    // Made to look executing: recorded running, its log without its end, a fresh lease of a live
    // process (this one).
    const metadata = other(executing, "_system", "metadata.json");
    const record = JSON.parse(await readFile(metadata, "utf8"));
    await writeFile(metadata, JSON.stringify({ ...record, status: "running", finished_at: null }));
    const log = other(executing, "_system", "events.jsonl");
    const events = (await readFile(log, "utf8")).split("\n").filter((line) => line !== "");
    await writeFile(log, `${events.filter((e) => !e.includes('"run_finished"')).join("\n")}\n`);
    await rm(other(executing, "_system", "state.json"), { force: true });
    const now = new Date().toISOString();
    const lease = { run_id: executing, pid: process.pid, host: hostname(), token: "test" };
    await writeFile(
      other(executing, "_system", "lease.json"),
      JSON.stringify({ ...lease, acquired_at: now, heartbeat_at: now }),
    );
    const runs = JSON.parse((await wct(["runs", "--json"], env)).stdout);
    expect(runs.find((r: { run_id: string }) => r.run_id === executing)?.status).toBe("running");

    const pruned = await wct(["runs", "prune", "--keep-last", "1", "--json"], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    const outcome = JSON.parse(pruned.stdout);
    expect(outcome.deleted).toEqual([older]);
    expect(outcome.kept).toEqual([{ run_id: executing, reason: "still running" }]);
    expect(existsSync(other(newer))).toBe(true);
  });
});

describe("output files", () => {
  it("never writes an export or a run's report over the store's own files", async () => {
    const runId = await run(plain);
    const metadata = runFile(runId, "_system", "metadata.json");
    const before = await readFile(metadata, "utf8");
    await symlink(runFile(runId, "artifacts", "files.json"), join(dir, "into-store.json"));
    for (const args of [
      ["export", runId, "-o", metadata],
      ["export", runId, "-o", join(dir, "into-store.json")],
      ["run", plain, "-o", join(store, "runs", "report.json")],
    ]) {
      const refused = await wct(args);
      expect(refused.code, args.join(" ")).toBe(2);
      expect(refused.stderr).toContain("inside the store's folder");
      expect(hasStackTrace(refused.stderr)).toBe(false);
    }
    expect(await readFile(metadata, "utf8")).toBe(before);
    expect(existsSync(join(store, "runs", "report.json"))).toBe(false);
    // Beside the store is fine.
    expect((await wct(["export", runId, "-o", join(dir, "report.json")])).code).toBe(0);
  });

  it("never writes over another store's runs, nor over the runbook it runs", async () => {
    const runId = await run(plain);
    const otherStore = join(dir, "another-store");
    await cp(store, otherStore, { recursive: true });
    const metadata = join(otherStore, "runs", runId, "_system", "metadata.json");
    const before = await readFile(metadata, "utf8");
    const runbookBefore = await readFile(plain, "utf8");
    for (const [args, says] of [
      [["export", runId, "-o", metadata], `is inside run ${runId} of the store at`],
      [["run", plain, "-o", join(otherStore, "runs", "x.json")], "is the runs folder of the store"],
      [["run", plain, "-o", plain], "is the runbook"],
    ] as const) {
      const refused = await wct([...args]);
      expect(refused.code, args.join(" ")).toBe(2);
      expect(refused.stderr).toContain(says);
    }
    expect(await readFile(metadata, "utf8")).toBe(before);
    expect(existsSync(join(otherStore, "runs", "x.json"))).toBe(false);
    expect(await readFile(plain, "utf8")).toBe(runbookBefore);
  });
});

describe("damaged runs", () => {
  it("reports a record whose ending the event log contradicts, either way", async () => {
    const edited = await run(plain);
    const record = runFile(edited, "_system", "metadata.json");
    const text = await readFile(record, "utf8");
    await writeFile(record, text.replace('"status": "completed"', '"status": "failed"'));
    for (const args of [
      ["inspect", edited],
      ["export", edited],
      ["runs", "verify", edited],
    ]) {
      const refused = await wct(args);
      expect(refused.code, args.join(" ")).toBe(1);
      expect(refused.stderr).toContain(
        `${record}: says the run ended failed, but its event log says completed`,
      );
    }
    // The log edited instead: the record no longer matches it either.
    await writeFile(record, text);
    const log = runFile(edited, "_system", "events.jsonl");
    const events = await readFile(log, "utf8");
    await writeFile(log, events.replace('"status":"completed"', '"status":"failed"'));
    const verify = await wct(["runs", "verify", edited]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain("says the run ended completed, but its event log says failed");
  });

  it("reports a lost or emptied event log instead of an intact run or an empty export", async () => {
    const lost = await run(plain);
    const emptied = await run(plain);
    await rm(runFile(lost, "_system", "events.jsonl"));
    await writeFile(runFile(emptied, "_system", "events.jsonl"), "");

    const verify = await wct(["runs", "verify", lost]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain(`runs/${lost}/_system/events.jsonl: missing`);
    const exported = await wct(["export", emptied, "-o", join(dir, "out.json")]);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toContain(`runs/${emptied}/_system/events.jsonl`);
    expect(exported.stderr).toContain("holds no run_finished event");
    expect(existsSync(join(dir, "out.json"))).toBe(false);
    expect(hasStackTrace(verify.stderr + exported.stderr)).toBe(false);
    // The audit trail of a log that lost its end is shown, said to be incomplete, and fails.
    const torn = await run(plain);
    const log = runFile(torn, "_system", "events.jsonl");
    const lines = (await readFile(log, "utf8")).split("\n");
    await writeFile(log, lines.slice(0, -3).join("\n"));
    const trail = await wct(["inspect", torn, "--events"]);
    expect(trail.code).toBe(1);
    expect(trail.stdout).toContain("run_started");
    expect(trail.stderr).toContain("the audit trail is incomplete");
    expect(trail.stderr).toContain("holds no run_finished event");
    // The plan is part of the run: export and resume need it.
    const unplanned = await run(plain);
    await rm(runFile(unplanned, "_system", "plan.json"));
    const planless = await wct(["runs", "verify", unplanned]);
    expect(planless.code).toBe(1);
    expect(planless.stderr).toContain(`runs/${unplanned}/_system/plan.json: missing`);
  });

  it("calls a recorded artifact whose file is gone damage (exit 1), naming the file once", async () => {
    const runId = await run(plain);
    await rm(runFile(runId, "artifacts", "findings.json"));
    const inspect = await wct(["inspect", runId, "findings"]);
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toContain(
      `runs/${runId}/artifacts/findings.json: missing, though the run recorded the artifact completed`,
    );
    const verify = await wct(["runs", "verify", runId]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain("  artifacts/findings.json: missing, though");
    expect(verify.stdout).not.toContain("artifacts/findings.json: runs/");
  });

  it("flags a run whose record cannot be read, and prune leaves it to 'runs delete'", async () => {
    const broken = await run(plain);
    await writeFile(runFile(broken, "_system", "metadata.json"), "{garbage");
    const table = await wct(["runs"]);
    expect(table.stdout, table.stderr).toMatch(new RegExp(`${broken}\\s+unreadable`));
    expect(table.stderr).toContain(`warning: run ${broken} cannot be read:`);
    expect(table.stderr).toContain("metadata.json: not valid JSON");

    const listed = JSON.parse((await wct(["runs", "--json"])).stdout) as {
      run_id: string;
      status: string;
    }[];
    expect(listed.find((r) => r.run_id === broken)?.status).toBe("unreadable");
    // It has no status to select it by: a script resuming interrupted runs does not get it.
    const interrupted = JSON.parse(
      (await wct(["runs", "--status", "interrupted", "--json"])).stdout,
    ) as { run_id: string; status: string }[];
    expect(interrupted.map((r) => r.run_id)).not.toContain(broken);
    // A real prune of interrupted runs leaves it alone.
    const real = JSON.parse(
      (await wct(["runs", "prune", "--status", "interrupted", "--json"])).stdout,
    );
    expect(real.deleted).not.toContain(broken);
    expect(existsSync(runFile(broken))).toBe(true);

    const pruned = JSON.parse(
      (await wct(["runs", "prune", "--older-than", "0s", "--dry-run", "--json"])).stdout,
    );
    expect(pruned.deleted).not.toContain(broken);
    expect(pruned.kept).toContainEqual({
      run_id: broken,
      reason: expect.stringMatching(/^cannot be read: .*metadata\.json/),
    });
    expect(existsSync(runFile(broken))).toBe(true);
    expect((await wct(["runs", "delete", broken])).code).toBe(0);
    expect(existsSync(runFile(broken))).toBe(false);
  });

  it("does not list a run folder copied by hand as a second copy of the run", async () => {
    const original = await run(plain);
    await cp(runFile(original), join(store, "runs", "zcopy"), { recursive: true });
    const runs = await listed();
    expect(runs.filter((r) => r.run_id === original)).toHaveLength(1);
    expect(runs.find((r) => r.run_id === "zcopy")?.problem).toContain(
      `records run ${original}, not zcopy`,
    );
    await rm(join(store, "runs", "zcopy"), { recursive: true });
  });

  it("shows a run that never got to its first event and has no log as interrupted", async () => {
    // Earlier builds made the log with the first event: a crash before it left none.
    const runId = await run(plain);
    const metadata = runFile(runId, "_system", "metadata.json");
    const record = JSON.parse(await readFile(metadata, "utf8"));
    await writeFile(metadata, JSON.stringify({ ...record, status: "running", finished_at: null }));
    await rm(runFile(runId, "_system", "events.jsonl"));
    await rm(runFile(runId, "_system", "lease.json"), { force: true });
    const inspect = await wct(["inspect", runId, "--json"]);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout).status).toBe("interrupted");
  });

  it("calls fields of the wrong type in the log, record or plan damage, not an internal error", async () => {
    const edit = async (runId: string, name: string, change: (text: string) => string) => {
      const file = runFile(runId, "_system", name);
      await writeFile(file, change(await readFile(file, "utf8")));
    };
    const editJson = (
      runId: string,
      name: string,
      change: (value: Record<string, Record<string, unknown>>) => void,
    ) =>
      edit(runId, name, (text) => {
        const value = JSON.parse(text);
        change(value);
        return JSON.stringify(value);
      });
    const damaged: Array<[string, string]> = [];
    const log = await run(plain);
    await edit(log, "events.jsonl", (t) => t.replace(/"sha256":"[0-9a-f]+"/, '"sha256":5'));
    damaged.push([log, "events.jsonl:"]);
    const ids = await run(plain);
    await edit(ids, "events.jsonl", (t) => t.replace('"artifact_id":"files"', '"artifact_id":{}'));
    damaged.push([ids, "events.jsonl:"]);
    // An id no store would take as a key names no artifact of the run: `../files` is damage.
    const traversal = await run(plain);
    await edit(traversal, "events.jsonl", (t) =>
      t.replaceAll('"artifact_id":"files"', '"artifact_id":"../files"'),
    );
    damaged.push([traversal, "events.jsonl:"]);
    const record = await run(plain);
    await editJson(record, "metadata.json", (m) => {
      delete m.runbook?.sha256;
    });
    damaged.push([record, "metadata.json: not a run record"]);
    const plan = await run(plain);
    await editJson(plan, "plan.json", (p) => {
      delete p.runbook;
    });

    for (const [runId, where] of damaged) {
      for (const args of [
        ["inspect", runId],
        ["runs", "verify", runId],
        ["export", runId],
      ]) {
        const result = await wct(args);
        expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(1);
        expect(result.stderr).toContain(`wct: corrupt data: ${runFile(runId, "_system", where)}`);
        expect(result.stderr).not.toContain("internal error");
      }
    }
    // A damaged plan fails the check of the run, and export and resume name it.
    for (const args of [
      ["runs", "verify", plan],
      ["export", plan],
      ["run", plain, "--resume", plan],
    ]) {
      const result = await wct(args);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(1);
      expect(result.stderr).toContain(
        `wct: corrupt data: runs/${plan}/_system/plan.json: not an execution plan`,
      );
    }
  });

  it("deletes a run whose _system is a file, which no process can hold", async () => {
    const runId = await run(plain);
    await rm(runFile(runId, "_system"), { recursive: true });
    await writeFile(runFile(runId, "_system"), "");
    const deleted = await wct(["runs", "delete", runId]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(existsSync(runFile(runId))).toBe(false);
  });

  it("treats a symbolic link in a run folder's place as damage: listed, refused, deleted alone", async () => {
    const linked = await run(plain);
    const moved = join(dir, "moved-run");
    await rename(join(store, "runs", linked), moved);
    await symlink(moved, join(store, "runs", linked));
    const says = `${join(store, "runs", linked)}: a symbolic link, not a run folder`;
    const runs = await listed();
    expect(runs.find((r) => r.run_id === linked)?.problem).toContain(says);
    for (const args of [
      ["inspect", linked],
      ["export", linked],
      ["runs", "verify", linked],
    ]) {
      const refused = await wct(args);
      expect(refused.code, args.join(" ")).toBe(1);
      expect(refused.stderr).toContain(says);
    }
    const resumed = await wct(["run", plain, "--resume", linked]);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toContain(says);
    const before = readdirSync(moved, { recursive: true }).sort();
    expect((await wct(["runs", "delete", linked])).code).toBe(0);
    expect(existsSync(join(store, "runs", linked))).toBe(false);
    // Where it led is untouched: no lease written there, nothing removed.
    expect(readdirSync(moved, { recursive: true }).sort()).toEqual(before);
  });

  it("lists a run whose record is a folder as unreadable instead of failing the whole listing", async () => {
    const intact = await run(plain);
    const broken = await run(plain);
    await rm(runFile(broken, "_system", "metadata.json"));
    await mkdir(runFile(broken, "_system", "metadata.json"));
    const table = await wct(["runs"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`${broken}\\s+unreadable`));
    expect(table.stdout).toMatch(new RegExp(`${intact}\\s+completed`));
    expect(table.stderr).toContain("metadata.json: a folder, not a file");
    // Prune goes on with the other runs and leaves this one to 'runs delete'.
    const pruned = await wct(["runs", "prune", "--older-than", "0s", "--dry-run", "--json"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout).deleted).toContain(intact);
    const inspect = await wct(["inspect", broken]);
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toContain(
      `wct: corrupt data: ${runFile(broken, "_system", "metadata.json")}: a folder, not a file`,
    );
    // A log that is a folder is damage too, even for a run recorded running.
    const record = JSON.parse(await readFile(runFile(intact, "_system", "metadata.json"), "utf8"));
    await writeFile(
      runFile(intact, "_system", "metadata.json"),
      JSON.stringify({ ...record, status: "running", finished_at: null }),
    );
    await rm(runFile(intact, "_system", "events.jsonl"));
    await mkdir(runFile(intact, "_system", "events.jsonl"));
    const trail = await wct(["inspect", intact, "--events"]);
    expect(trail.code).toBe(1);
    expect(trail.stderr).toContain("events.jsonl: a folder, not a file");
    for (const runId of [broken, intact]) {
      expect((await wct(["runs", "delete", runId])).code).toBe(0);
    }
  });

  it("never sweeps an artifact folder that merely has a leftover's name", async () => {
    // Only a run folder holds `.artifacts.<hex>.deleting` leftovers; deeper, it is part of an id.
    const id = "nested/.artifacts.0a.deleting/copy";
    const file = await write(
      "leftover-name.yaml",
      runbook("leftover-name", `  ${id}: {inputs: files, process: {type: personal_data}}\n`),
    );
    const runId = await run(file);
    const folder = runFile(runId, "artifacts", "nested", ".artifacts.0a.deleting");
    const old = new Date(Date.now() - 3600_000);
    await utimes(folder, old, old);
    const pruned = await wct(["runs", "prune", "--status", "failed", "--json"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(JSON.parse(pruned.stdout).swept).toBe(0);
    const verify = await wct(["runs", "verify", runId]);
    expect(verify.code, verify.stdout).toBe(0);
    expect(existsSync(join(folder, "copy.json"))).toBe(true);
  });

  it("previews with --dry-run the leftovers that prune sweeps", async () => {
    const leftover = join(store, "runs", `.${"0".repeat(8)}-dead.creating-1234`);
    await mkdir(join(leftover, "_system"), { recursive: true });
    const old = new Date(Date.now() - 3600_000);
    await utimes(leftover, old, old);
    const dry = await wct(["runs", "prune", "--older-than", "3650d", "--dry-run", "--json"]);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, swept: 1 });
    expect(existsSync(leftover)).toBe(true);
    const real = await wct(["runs", "prune", "--older-than", "3650d", "--json"]);
    expect(JSON.parse(real.stdout).swept).toBe(1);
    expect(existsSync(leftover)).toBe(false);
  });
});

describe("arguments of the history commands", () => {
  it("refuses an empty --resume instead of starting a new run", async () => {
    const before = readdirSync(join(store, "runs")).length;
    const result = await wct(["run", plain, "--resume", ""]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Invalid run ID: it is empty");
    expect(readdirSync(join(store, "runs"))).toHaveLength(before);
  });

  it("refuses run ID prefixes shorter than 4 characters", async () => {
    const runId = await run(plain);
    const result = await wct(["runs", "delete", runId.slice(0, 1)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Run ID prefix '${runId.slice(0, 1)}' is too short`);
    expect(existsSync(runFile(runId))).toBe(true);
  });

  it("takes numbers in decimal digits, real calendar dates, a known cursor and a store path", async () => {
    for (const args of [
      ["runs", "--limit", "0x2"],
      ["runs", "--limit", "1e1"],
      ["runs", "--limit", " 5"],
      ["runs", "prune", "--keep-last", "0b1"],
      ["runs", "--since", "2026-02-30"],
      ["runs", "--cursor", "bogus"],
      ["runs", "--cursor", ""],
      ["runs", "--store-path", ""],
    ]) {
      const result = await wct(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(hasStackTrace(result.stderr)).toBe(false);
    }
    expect((await wct(["runs", "--limit", "2", "--since", "2026-02-28"])).code).toBe(0);
    // An age further back than dates go: every run is younger.
    const all = await wct(["runs", "--json", "--since", "99999999999d"]);
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).length).toBeGreaterThan(0);
    const big = await wct(["runs", "--limit", "99999999999999999999"]);
    expect(big.stderr).toBe(
      "wct: --limit must be at most 10000 (page on with --cursor), got '99999999999999999999'\n",
    );
    // More than there are runs: all are kept.
    const keepAll = await wct(["runs", "prune", "--keep-last", "99999999999999999999", "--json"]);
    expect(keepAll.code, keepAll.stderr).toBe(0);
    expect(JSON.parse(keepAll.stdout).deleted).toEqual([]);
    // A misspelt subcommand is named, with the one meant.
    const misspelt = await wct(["runs", "verfy", "0123"]);
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr).toBe(
      "wct: unknown subcommand 'verfy' of 'wct runs' (did you mean verify?); its subcommands: verify, delete, prune\n",
    );
    // Past the largest page: the flag is named, with how to see more.
    const over = await wct(["runs", "--limit", "10001"]);
    expect(over.code).toBe(2);
    expect(over.stderr).toBe(
      "wct: --limit must be at most 10000 (page on with --cursor), got '10001'\n",
    );
    // `--runbook "$NAME"` with NAME unset names no runbook: refused, not read as no filter.
    const unnamed = await wct(["runs", "--runbook", ""]);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stdout).toBe("");
    expect(unnamed.stderr).toBe(
      "wct: --runbook is empty: give the runbook's name as `wct runs` shows it\n",
    );
  });

  it("reads a --since date-time without a zone as UTC, the zone `wct runs` shows", async () => {
    const runId = await run(plain);
    const [record] = await listed(["--limit", "1"]);
    expect(record?.run_id).toBe(runId);
    const started = (record as unknown as { started_at: string }).started_at;
    // As the table shows it: `2026-12-03 12:09:39`, one second before the run started.
    const shown = new Date(Date.parse(started) - 1000).toISOString().replace("T", " ").slice(0, 19);
    const east = await wct(["runs", "--json", "--since", shown], { TZ: "Asia/Tokyo" });
    expect(JSON.parse(east.stdout).map((r: { run_id: string }) => r.run_id)).toContain(runId);
    const west = await wct(["runs", "--json", "--since", shown.replace(" ", "T")], {
      TZ: "America/New_York",
    });
    expect(JSON.parse(west.stdout).map((r: { run_id: string }) => r.run_id)).toContain(runId);
    expect((await wct(["runs"])).stdout).toContain("STARTED (UTC)");
  });

  it("pages on from a cursor whose run was deleted since", async () => {
    const runs = await listed();
    expect(runs.length).toBeGreaterThan(2);
    const cursor = runs[0]!.run_id;
    expect((await wct(["runs", "delete", cursor])).code).toBe(0);
    const page = await listed(["--cursor", cursor]);
    expect(page.map((r) => r.run_id)).toEqual(runs.slice(1).map((r) => r.run_id));
    // Past the oldest run: nothing more, which is not "no runs recorded".
    const oldest = runs.at(-1)!.run_id;
    const last = await wct(["runs", "--cursor", oldest]);
    expect(last.code).toBe(0);
    expect(last.stderr).toBe(`No more runs after ${oldest}.\n`);
  });

  it("refuses the listing's options before a subcommand instead of ignoring them", async () => {
    const failing = await write(
      "failing.yaml",
      runbook("failing", "  db: {source: {type: sqlite, properties: {database_path: nope.db}}}\n"),
    );
    const failed = await run(failing);
    const before = await listed(["--limit", "10000"]);
    expect(before.length).toBeGreaterThan(1);
    // Read as `prune --keep-last 0` alone, it would delete every run, not only the failed ones.
    for (const args of [
      ["runs", "--status", "failed", "prune", "--keep-last", "0"],
      ["runs", "--json", "verify", failed],
      ["runs", "--limit", "1", "delete", failed],
    ]) {
      const result = await wct(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toContain(`wct: ${args[1]}`);
      expect(result.stderr).toContain("an option of 'wct runs' (the listing)");
    }
    expect(await listed(["--limit", "10000"])).toEqual(before);
    // The store's options may stand on either side.
    const verify = await wct(["runs", "--store-path", store, "verify", failed]);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it("explains in --help how each history command exits, and how prune combines its criteria", async () => {
    for (const command of [
      ["runs"],
      ["inspect"],
      ["export"],
      ["runs", "verify"],
      ["runs", "delete"],
      ["runs", "prune"],
    ]) {
      const help = await wct([...command, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout, command.join(" ")).toMatch(/Exit codes: 0 .*; 1 .*; 2 /s);
    }
    const prune = (await wct(["runs", "prune", "--help"])).stdout;
    expect(prune).toContain("matches every criterion given");
    expect(prune).toMatch(/this status: running, completed, failed,\s+interrupted/);
    // As `wct runs` reads --since: a date-time without a zone is UTC, the table's zone.
    expect((await wct(["runs", "--help"])).stdout).toMatch(/--since.*date-time.*UTC/s);
  });

  it("refuses --events together with an artifact id", async () => {
    const runId = await run(plain);
    const result = await wct(["inspect", runId, "files", "--events"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--events prints the whole run's audit trail");
  });

  it("finishes quietly when the reader of its output goes away", async () => {
    const runId = await run(plain);
    // The reader closes its end at once: every write of wct meets a closed pipe (EPIPE).
    const piped = spawnSync(
      "bash",
      [
        "-c",
        `"${process.execPath}" "${BIN}" inspect ${runId} --events | (exec 0<&-; sleep 1); echo "rc=\${PIPESTATUS[0]}"`,
      ],
      { cwd: dir, env: { ...process.env, WAIVERN_STORE_PATH: store }, encoding: "utf8" },
    );
    expect(piped.stdout).toBe("rc=0\n");
    expect(piped.stderr).toBe("");
  });

  it("finishes quietly when the reader of -o /dev/stdout goes away", async () => {
    const runId = await run(plain);
    // `-o /dev/stdout` writes to the pipe as to a file: a reader that stops early is no failure
    // of the export, nor of a run that completed.
    for (const args of [`export ${runId}`, `run '${plain}'`]) {
      const piped = spawnSync(
        "bash",
        [
          "-c",
          `"${process.execPath}" "${BIN}" ${args} -o /dev/stdout | (exec 0<&-; sleep 1); echo "rc=\${PIPESTATUS[0]}"`,
        ],
        { cwd: dir, env: { ...process.env, WAIVERN_STORE_PATH: store }, encoding: "utf8" },
      );
      expect(piped.stdout, args).toBe("rc=0\n");
      expect(piped.stderr, args).not.toContain("cannot write");
    }
  });
});

describe("hints and messages", () => {
  it("prints resume and next-page hints that keep the store path and the filters", async () => {
    const elsewhere = join(dir, "elsewhere");
    const failing = await write(
      "failing.yaml",
      runbook(
        "failing",
        "  late: {source: {type: filesystem, properties: {path: '${LATE_DIR}'}}}\n",
      ),
    );
    const env = { LATE_DIR: join(dir, "not-there") };
    for (let i = 0; i < 2; i++)
      await runWct(["run", failing, "--store-path", elsewhere], { cwd: dir, env });
    const failed = await runWct(["run", failing, "--store-path", elsewhere], { cwd: dir, env });
    expect(failed.code).toBe(1);
    const runId = failed.stdout.trim();
    expect(failed.stderr).toContain(
      `resume with: wct run ${failing} --store-path ${elsewhere} --resume ${runId}`,
    );
    const page = await runWct(
      ["runs", "--store-path", elsewhere, "--status", "failed", "--limit", "1"],
      { cwd: dir },
    );
    expect(page.stderr).toContain(
      `more runs: wct runs --store-path ${elsewhere} --status failed --limit 1 --cursor ${runId}`,
    );
    // The record names the runbook by its absolute path, however it was typed.
    const typed = await runWct(["run", "failing.yaml", "--store-path", elsewhere], {
      cwd: dir,
      env,
    });
    const record = JSON.parse(
      (
        await runWct(["inspect", typed.stdout.trim(), "--json", "--store-path", elsewhere], {
          cwd: "/",
        })
      ).stdout,
    );
    expect(record.runbook_path).toBe(failing);
    // A memory store keeps nothing: no resume command that could never work.
    const forgotten = await runWct(["run", failing, "--store-type", "memory"], { cwd: dir, env });
    expect(forgotten.code).toBe(1);
    expect(forgotten.stderr).not.toContain("resume with:");
    expect(forgotten.stderr).toContain("not resumable: the memory store keeps nothing");
  });

  it("shows control characters of a runbook name escaped, never as terminal commands", async () => {
    const file = await write("evil.yaml", runbook('"Evil\\e[2J\\e[31mRED"'));
    await run(file);
    const table = await wct(["runs", "--runbook", "Evil\x1b[2J\x1b[31mRED"]);
    expect(table.stdout).toContain("Evil\\u001b[2J\\u001b[31mRED");
    expect(table.stdout).not.toContain("\x1b");
  });

  it("does not quote a substituted value in a property's validation error", async () => {
    const file = await write(
      "secret-property.yaml",
      "name: secret\ndescription: d\nartifacts:\n" +
        `  files: {source: {type: filesystem, properties: {path: '${EXAMPLE_FILES}', include_patterns: '\${PATTERN_SECRET}'}}}\n`,
    );
    const result = await wct(["run", file], { PATTERN_SECRET: "Qz9-secret-pattern" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("include_patterns");
    expect(result.stderr).toContain("${PATTERN_SECRET}");
    expect(result.stderr).not.toContain("Qz9-secret-pattern");
  });

  it("refuses to resume a run of a runbook under another name, naming the run's runbook", async () => {
    const failing = await write(
      "named.yaml",
      runbook(
        "first name",
        "  late: {source: {type: filesystem, properties: {path: '${LATE_DIR}'}}}\n",
      ),
    );
    const env = { LATE_DIR: join(dir, "still-not-there") };
    const runId = await run(failing, env);
    const renamed = await write(
      "renamed.yaml",
      runbook(
        "second name",
        "  late: {source: {type: filesystem, properties: {path: '${LATE_DIR}'}}}\n",
      ),
    );
    const result = await wct(["run", renamed, "--resume", runId], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `it is a run of the runbook named 'first name' (${failing}), not 'second name'`,
    );
  });

  it("refuses to resume with a copy of the runbook in another folder, whose relative paths read other data", async () => {
    const text = runbook(
      "moved",
      "  late: {source: {type: filesystem, properties: {path: '${LATE_DIR}'}}}\n",
    );
    const original = await write("moved.yaml", text);
    const env = { LATE_DIR: join(dir, "never-there") };
    const runId = await run(original, env);
    await mkdir(join(dir, "elsewhere"), { recursive: true });
    const copy = await write("elsewhere/moved.yaml", text);
    const result = await wct(["run", copy, "--resume", runId], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `it ran the runbook in ${dir}, not in ${join(dir, "elsewhere")}`,
    );
  });

  it("resumes with the same runbook reached through a symlinked folder", async () => {
    await mkdir(join(dir, "real"), { recursive: true });
    const original = await write(
      "real/linked.yaml",
      runbook(
        "linked",
        "  late: {source: {type: filesystem, properties: {path: '${LATE_DIR}'}}}\n",
      ),
    );
    const late = join(dir, "linked-late");
    const env = { LATE_DIR: late };
    const runId = await run(original, env);
    await symlink(join(dir, "real"), join(dir, "alias"));
    await mkdir(late, { recursive: true });
    await writeFile(join(late, "contacts.txt"), "Write to jane.doe@example.org\n");
    const result = await wct(["run", join(dir, "alias", "linked.yaml"), "--resume", runId], env);
    expect(result.stderr).toContain("completed:");
    expect(result.code).toBe(0);
  });
});
