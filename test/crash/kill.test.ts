/**
 * `kill -9` at any instant of a run: real `wct run` processes are killed at many points from just
 * after spawn to the end of a run, and after each kill the run must be listable, inspectable,
 * untorn, verifiable and resumable, keeping what it had completed.
 */
import { cp, mkdir, mkdtemp, readdir, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { newRunId } from "../../src/stores/keys.js";
import {
  artifactFiles,
  type Dataset,
  generateDataset,
  killLeftovers,
  type RunSummary,
  runFolders,
  sha256Hex,
  sleep,
  startWct,
  storedEvents,
  wct,
  wctJson,
} from "./fixture.js";

let dir: string;
let dataset: Dataset;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-kill-"));
  // 4 folders x 500 files of ~1 KB: 12 artifacts, a run of a few seconds on 2 cores.
  dataset = await generateDataset(dir, { name: "crash-scan" });
});
afterEach(killLeftovers);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Temp files of the durable writer: `.<name>.<pid>.<random>.tmp`. */
const TEMP_FILE = /^\..+\.tmp$/;

/**
 * Where runs are killed: at a delay after spawn (start-up, then fractions of the run's duration,
 * two of them random), or as soon as the event log records N completed artifacts (the late, fast
 * stages of the DAG, which time alone rarely hits).
 */
type KillPoint = { afterMs: number } | { ofRun: number } | { afterCompleted: number };

function killPoints(): KillPoint[] {
  // Start-up (loading, planning) takes a few hundred ms: these land before the run record exists.
  const early = [5, 150, 350].map((afterMs) => ({ afterMs }));
  const progress = [3, 6, 9, 11].map((afterCompleted) => ({ afterCompleted }));
  const spread = Array.from({ length: 7 }, (_, i) => ({ ofRun: 0.3 + (0.65 * i) / 6 }));
  const random = Array.from({ length: 2 }, () => ({ ofRun: 0.3 + Math.random() * 0.65 }));
  return [...early, ...progress, ...spread, ...random];
}

/** Stops starting kill points after this long, so that a loaded machine cannot time the test out. */
const KILL_BUDGET_MS = 65_000;
const MIN_KILL_POINTS = 9;

/** Waits until the run started after `before` has `count` completed artifacts, or has exited. */
async function untilCompleted(
  store: string,
  before: Set<string>,
  count: number,
  exited: () => boolean,
): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!exited()) {
    if (performance.now() > deadline) {
      throw new Error(`the run neither completed ${count} artifacts nor exited within 30 s`);
    }
    const runId = (await runFolders(store)).find((name) => !before.has(name));
    if (runId) {
      const events = await storedEvents(store, runId).catch(() => []);
      if (events.filter((e) => e.type === "artifact_completed").length >= count) return;
    }
    await sleep(2);
  }
}

type Outcome =
  | "no run"
  | "completed before the kill"
  | `interrupted with ${number}/12 completed${string}`;

describe("kill -9 at any instant of wct run", () => {
  it("leaves every run listable, inspectable, untorn and verifiable, and --resume completes it", async () => {
    const store = join(dir, "store");
    const storeArgs = ["--store-path", store];

    // The first run warms the page cache; the faster of two runs is the one kills must fall in.
    let runMs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 2; i++) {
      const startedAt = performance.now();
      const reference = await wct(["run", dataset.runbook, "--store-path", join(dir, "reference")]);
      runMs = Math.min(runMs, performance.now() - startedAt);
      expect(reference.code, reference.stderr).toBe(0);
    }

    const outcomes: Array<{ point: string; outcome: Outcome }> = [];
    const knownRuns = new Set<string>();
    const loopStarted = performance.now();
    for (const killPoint of killPoints()) {
      if (performance.now() - loopStarted > KILL_BUDGET_MS) break;
      const delayMs =
        "afterMs" in killPoint
          ? killPoint.afterMs
          : "ofRun" in killPoint
            ? Math.round(killPoint.ofRun * runMs)
            : null;
      const afterCompleted = "afterCompleted" in killPoint ? killPoint.afterCompleted : 0;
      const point =
        delayMs === null
          ? `kill after ${afterCompleted} completed artifacts`
          : `kill at ${delayMs} ms of a ${Math.round(runMs)} ms run`;
      const before = new Set(await runFolders(store));
      const victim = startWct(["run", dataset.runbook, ...storeArgs]);
      let exited = false;
      void victim.done.then(() => {
        exited = true;
      });
      if (delayMs !== null) await sleep(delayMs);
      else await untilCompleted(store, before, afterCompleted, () => exited);
      victim.child.kill("SIGKILL");
      const exit = await victim.done;
      if (exit.signal !== "SIGKILL") {
        expect(exit.code, `${point}: ${exit.stderr}`).toBe(0);
        // Load varies: a run that beat its kill shows runs are now faster than measured.
        if (delayMs !== null) runMs = Math.min(runMs, delayMs);
      }

      const created = (await runFolders(store)).filter((name) => !before.has(name));
      expect(created.length, point).toBeLessThanOrEqual(1);
      const runId = created[0];
      // Read-only commands, run side by side to keep the test short.
      const [listed, inspected, verified, files] = await Promise.all([
        wctJson<RunSummary[]>(["runs", ...storeArgs]),
        runId ? wct(["inspect", runId, "--json", ...storeArgs]) : null,
        runId ? wct(["runs", "verify", runId, ...storeArgs]) : null,
        runId ? artifactFiles(store, runId) : new Map<string, Buffer>(),
      ]);
      for (const id of knownRuns) {
        expect(listed.find((r) => r.run_id === id)?.status, `${point}: earlier run ${id}`).toBe(
          "completed",
        );
      }
      const run = runId ? listed.find((r) => r.run_id === runId) : undefined;
      if (!runId || !run) {
        // Killed before the run record existed: no run, and no half-made one in the listing.
        expect(exit.signal, `${point}: a run that finished must be listed`).toBe("SIGKILL");
        outcomes.push({ point, outcome: "no run" });
        continue;
      }
      knownRuns.add(runId);
      expect(["interrupted", "completed"], point).toContain(run.status);

      expect(inspected?.code, `${point}: inspect: ${inspected?.stderr}`).toBe(0);
      expect(verified?.code, `${point}: verify: ${verified?.stdout}${verified?.stderr}`).toBe(0);
      const details = JSON.parse(inspected!.stdout) as RunSummary;
      expect(details.status, point).toBe(run.status);
      expect(details.artifacts.map((a) => a.id).sort(), point).toEqual(
        [...dataset.artifactIds].sort(),
      );
      let temps = 0;
      for (const [name, bytes] of files) {
        if (TEMP_FILE.test(name)) {
          temps++;
          continue;
        }
        expect(
          dataset.artifactIds.map((id) => `${id}.json`),
          `${point}: ${name}`,
        ).toContain(name);
        expect(() => JSON.parse(bytes.toString("utf8")), `${point}: ${name} is torn`).not.toThrow();
      }
      const completedBefore = details.artifacts.filter((a) => a.status === "completed");
      for (const artifact of completedBefore) {
        const bytes = files.get(`${artifact.id}.json`);
        expect(bytes, `${point}: ${artifact.id} completed without a file`).toBeDefined();
        expect(sha256Hex(bytes!), `${point}: ${artifact.id}`).toBe(artifact.sha256);
      }
      outcomes.push({
        point,
        outcome:
          run.status === "completed"
            ? "completed before the kill"
            : `interrupted with ${completedBefore.length}/12 completed${temps ? `, ${temps} temp file(s) left` : ""}`,
      });

      const resumed = await wct([
        "run",
        dataset.runbook,
        "--resume",
        runId,
        "--json",
        ...storeArgs,
      ]);
      expect(resumed.code, `${point}: resume: ${resumed.stderr}`).toBe(0);
      const resumedRecord = JSON.parse(resumed.stdout) as { status: string; kept: string[] };
      expect(resumedRecord.status, point).toBe("completed");
      expect(resumedRecord.kept.sort(), point).toEqual(completedBefore.map((a) => a.id).sort());

      const [after, verifiedAfter] = await Promise.all([
        wctJson<RunSummary>(["inspect", runId, ...storeArgs]),
        wct(["runs", "verify", runId, ...storeArgs]),
      ]);
      expect(verifiedAfter.code, `${point}: verify after resume: ${verifiedAfter.stdout}`).toBe(0);
      expect(after.status, point).toBe("completed");
      expect(
        after.artifacts.every((a) => a.status === "completed"),
        point,
      ).toBe(true);
      for (const artifact of completedBefore) {
        expect(
          after.artifacts.find((a) => a.id === artifact.id)?.sha256,
          `${point}: ${artifact.id} was kept`,
        ).toBe(artifact.sha256);
      }
    }

    console.info(outcomes.map((o) => `${o.point}: ${o.outcome}`).join("\n"));
    expect(outcomes.length).toBeGreaterThanOrEqual(MIN_KILL_POINTS);
    // The points must really have cut runs in the middle, not only before or after them.
    const midRun = outcomes.filter((o) => /interrupted with ([1-9]|1[01])\//.test(o.outcome));
    expect(midRun.length).toBeGreaterThanOrEqual(3);
  }, 110_000);
});

describe("a run a kill cut off while it was being created", () => {
  it("is never listed, and `wct runs prune` removes what it left", async () => {
    const store = join(dir, "ghost-store");
    const storeArgs = ["--store-path", store];
    const real = (await wct(["run", dataset.runbook, ...storeArgs])).stdout.trim();
    // `createRun` builds the run in a hidden staging folder and renames it into place: a kill
    // before the rename leaves only this, with part of the run's files.
    const ghost = newRunId();
    const staging = join(store, "runs", `.${ghost}.creating-0123456789ab`);
    await mkdir(join(staging, "_system"), { recursive: true });
    await cp(
      join(store, "runs", real, "_system", "plan.json"),
      join(staging, "_system", "plan.json"),
    );
    const listed = await wctJson<RunSummary[]>(["runs", ...storeArgs]);
    expect(listed.map((r) => r.run_id)).toEqual([real]);
    expect((await wct(["inspect", ghost, ...storeArgs])).code).toBe(2);

    // Old enough to be a leftover, not a creation in progress.
    const old = new Date(Date.now() - 3_600_000);
    await utimes(staging, old, old);
    const pruned = await wctJson<{ deleted: string[]; swept: number }>([
      "runs",
      "prune",
      "--status",
      "failed",
      "--json",
      ...storeArgs,
    ]);
    expect(pruned).toEqual({ dry_run: false, deleted: [], kept: [], swept: 1 });
    expect(await readdir(join(store, "runs"))).toEqual([real]);
  }, 30_000);
});
