/**
 * `kill -9` at any instant of a run: real `wct run` processes are killed at many points from just
 * after spawn to the end of a run, and after each kill the run must be listable, inspectable,
 * untorn, verifiable and resumable, keeping what it had completed.
 */
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
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

/** Kill delays in ms after spawn: process start-up, then spread over the run, plus two at random. */
function killPoints(runMs: number): number[] {
  const early = [5, 60, 150];
  const spread = Array.from({ length: 9 }, (_, i) => Math.round(runMs * (0.1 + (0.85 * i) / 8)));
  const random = Array.from({ length: 2 }, () => Math.round(Math.random() * runMs * 0.95));
  return [...early, ...spread, ...random];
}

type Outcome = "no run" | "completed before the kill" | `interrupted with ${number}/12 completed`;

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

    const outcomes: Array<{ delayMs: number; outcome: Outcome }> = [];
    const knownRuns = new Set<string>();
    for (const delayMs of killPoints(runMs)) {
      const point = `kill at ${delayMs} ms of a ${Math.round(runMs)} ms run`;
      const before = new Set(await runFolders(store));
      const victim = startWct(["run", dataset.runbook, ...storeArgs]);
      await sleep(delayMs);
      victim.child.kill("SIGKILL");
      const exit = await victim.done;
      if (exit.signal !== "SIGKILL") expect(exit.code, `${point}: ${exit.stderr}`).toBe(0);

      const created = (await runFolders(store)).filter((name) => !before.has(name));
      expect(created.length, point).toBeLessThanOrEqual(1);
      const listed = await wctJson<RunSummary[]>(["runs", ...storeArgs]);
      for (const id of knownRuns) {
        expect(listed.find((r) => r.run_id === id)?.status, `${point}: earlier run ${id}`).toBe(
          "completed",
        );
      }
      const runId = created[0];
      const run = runId ? listed.find((r) => r.run_id === runId) : undefined;
      if (!runId || !run) {
        // Killed before the run record existed: no run, and no half-made one in the listing.
        expect(exit.signal, `${point}: a run that finished must be listed`).toBe("SIGKILL");
        outcomes.push({ delayMs, outcome: "no run" });
        continue;
      }
      knownRuns.add(runId);
      expect(["interrupted", "completed"], point).toContain(run.status);

      const [inspected, verified, files] = await Promise.all([
        wct(["inspect", runId, "--json", ...storeArgs]),
        wct(["runs", "verify", runId, ...storeArgs]),
        artifactFiles(store, runId),
      ]);
      expect(inspected.code, `${point}: inspect: ${inspected.stderr}`).toBe(0);
      expect(verified.code, `${point}: verify: ${verified.stdout}${verified.stderr}`).toBe(0);
      const details = JSON.parse(inspected.stdout) as RunSummary;
      expect(details.status, point).toBe(run.status);
      expect(details.artifacts.map((a) => a.id).sort(), point).toEqual(
        [...dataset.artifactIds].sort(),
      );
      for (const [name, bytes] of files) {
        if (TEMP_FILE.test(name)) continue;
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
        delayMs,
        outcome:
          run.status === "completed"
            ? "completed before the kill"
            : `interrupted with ${completedBefore.length}/12 completed`,
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

    console.info(
      `kill points over a ${Math.round(runMs)} ms run:\n${outcomes
        .map((o) => `  ${String(o.delayMs).padStart(6)} ms: ${o.outcome}`)
        .join("\n")}`,
    );
    // The points must really have cut runs in the middle, not only before or after them.
    const midRun = outcomes.filter((o) => /interrupted with ([1-9]|1[01])\//.test(o.outcome));
    expect(midRun.length).toBeGreaterThanOrEqual(3);
  }, 110_000);
});

describe("a run folder a kill left without its run record", () => {
  it("is not listed as a run that cannot then be inspected", async () => {
    const store = join(dir, "ghost-store");
    const storeArgs = ["--store-path", store];
    const real = (await wct(["run", dataset.runbook, ...storeArgs])).stdout.trim();
    // `createRun` writes plan.json, then metadata.json: a kill between the two leaves this.
    const ghost = newRunId();
    await mkdir(join(store, "runs", ghost, "_system"), { recursive: true });
    await cp(
      join(store, "runs", real, "_system", "plan.json"),
      join(store, "runs", ghost, "_system", "plan.json"),
    );
    const listed = await wctJson<RunSummary[]>(["runs", ...storeArgs]);
    expect(listed.map((r) => r.run_id)).toContain(real);
    for (const run of listed) {
      const inspected = await wct(["inspect", run.run_id, ...storeArgs]);
      expect(inspected.code, `listed run ${run.run_id}: ${inspected.stderr}`).toBe(0);
    }
  }, 30_000);
});
