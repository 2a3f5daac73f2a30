/**
 * Many `wct` processes on one store at once: concurrent runs never interfere, and concurrent
 * resumes of one interrupted run never execute it twice at the same time.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { hasStackTrace } from "../helpers/cli.js";
import {
  artifactFiles,
  type Dataset,
  generateDataset,
  killLeftovers,
  type RunSummary,
  runFolders,
  type StoredEvent,
  startWct,
  storedEvents,
  waitFor,
  wct,
  wctJson,
} from "./fixture.js";

let dir: string;
let alpha: Dataset;
let beta: Dataset;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-concurrency-"));
  alpha = await generateDataset(join(dir, "alpha"), {
    name: "alpha",
    sources: 2,
    filesPerSource: 150,
  });
  beta = await generateDataset(join(dir, "beta"), { name: "beta", sources: 3, filesPerSource: 80 });
});
afterEach(killLeftovers);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Event log invariants of one run: seq is 1, 2, 3... in file order. */
function expectSequential(events: StoredEvent[], runId: string): void {
  expect(
    events.map((e) => e.seq),
    runId,
  ).toEqual(events.map((_, i) => i + 1));
}

describe("concurrent wct run processes on one store", () => {
  it("8 runs of two runbooks started at once all complete, each in its own run", async () => {
    const store = join(dir, "store-runs");
    const storeArgs = ["--store-path", store];
    const runbooks = [alpha, beta, alpha, beta, alpha, beta, alpha, beta];
    const results = await Promise.all(
      runbooks.map((d) => startWct(["run", d.runbook, "--json", ...storeArgs]).done),
    );
    const runIds: string[] = [];
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      runIds.push((JSON.parse(result.stdout) as RunSummary).run_id);
    }
    expect(new Set(runIds).size).toBe(8);

    const listed = await wctJson<Array<RunSummary & { runbook: string }>>(["runs", ...storeArgs]);
    expect(listed.map((r) => r.run_id).sort()).toEqual([...runIds].sort());
    for (const run of listed) expect(run.status, run.run_id).toBe("completed");

    await Promise.all(
      runIds.map(async (runId, index) => {
        const dataset = runbooks[index]!;
        const verified = await wct(["runs", "verify", runId, ...storeArgs]);
        expect(verified.code, `${runId}: ${verified.stdout}`).toBe(0);
        expect(listed.find((r) => r.run_id === runId)?.runbook).toBe(
          dataset === alpha ? "alpha" : "beta",
        );

        const events = await storedEvents(store, runId);
        expectSequential(events, runId);
        expect(events.filter((e) => e.type === "run_started")).toHaveLength(1);
        expect(events.filter((e) => e.type === "run_finished")).toHaveLength(1);
        expect(events.at(-1)).toMatchObject({ type: "run_finished", status: "completed" });
        const completed = events.filter((e) => e.type === "artifact_completed");
        expect(completed.map((e) => e.artifact_id).sort()).toEqual([...dataset.artifactIds].sort());

        // Each artifact file belongs to this run: no process wrote into another's folder.
        const files = await artifactFiles(store, runId);
        expect([...files.keys()].sort()).toEqual(
          dataset.artifactIds.map((id) => `${id}.json`).sort(),
        );
        for (const [name, bytes] of files) {
          expect(JSON.parse(bytes.toString("utf8")).run_id, `${runId}/${name}`).toBe(runId);
        }
      }),
    );
  }, 90_000);
});

describe("concurrent --resume of one interrupted run", () => {
  it("8 resumers: one executes at a time, the others wait their turn or are refused by pid", async () => {
    const store = join(dir, "store-resume");
    const storeArgs = ["--store-path", store];
    const victim = startWct(["run", alpha.runbook, ...storeArgs]);
    // Killed once the first artifact is durably completed: the run is cut in the middle.
    const runId = await waitFor("a completed artifact", async () => {
      const folders = await runFolders(store);
      if (folders.length !== 1) return null;
      try {
        const events = await storedEvents(store, folders[0]!);
        return events.some((e) => e.type === "artifact_completed") ? folders[0]! : null;
      } catch {
        return null;
      }
    });
    victim.child.kill("SIGKILL");
    const killed = await victim.done;
    expect(killed.signal, killed.stderr).toBe("SIGKILL");

    const before = await wctJson<RunSummary>(["inspect", runId, ...storeArgs]);
    expect(before.status).toBe("interrupted");
    const completedBefore = before.artifacts.filter((a) => a.status === "completed");
    expect(completedBefore.length).toBeGreaterThan(0);
    expect(completedBefore.length).toBeLessThan(alpha.artifactIds.length);

    const results = await Promise.all(
      Array.from(
        { length: 8 },
        () => startWct(["run", alpha.runbook, "--resume", runId, "--json", ...storeArgs]).done,
      ),
    );
    const winners = results.filter((r) => r.code === 0);
    console.info(`8 concurrent resumes exited ${results.map((r) => r.code).join(", ")}`);
    for (const result of results) {
      if (result.code === 0) continue;
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`run ${runId} is being executed by pid \\d+`));
      expect(hasStackTrace(result.stderr)).toBe(false);
    }
    expect(winners.length).toBeGreaterThanOrEqual(1);
    const kept = winners.map((r) => (JSON.parse(r.stdout) as { kept: string[] }).kept.sort());
    // The first to execute kept what the killed attempt completed; any later one found all done.
    const firstKept = completedBefore.map((a) => a.id).sort();
    expect(kept).toContainEqual(firstKept);
    for (const k of kept) {
      expect([firstKept, [...alpha.artifactIds].sort()]).toContainEqual(k);
    }

    const events = await storedEvents(store, runId);
    expectSequential(events, runId);
    // The killed attempt started and never finished; every later attempt finished before the
    // next one started: never two executing at once.
    const lifecycle = events
      .filter((e) => e.type === "run_started" || e.type === "run_finished")
      .map((e) => (e.type === "run_started" ? `start ${e.attempt}` : "finish"));
    const expected = ["start 1"];
    for (let attempt = 2; attempt <= winners.length + 1; attempt++) {
      expected.push(`start ${attempt}`, "finish");
    }
    expect(lifecycle).toEqual(expected);
    // Each artifact was completed exactly once over all attempts.
    expect(
      events
        .filter((e) => e.type === "artifact_completed")
        .map((e) => e.artifact_id)
        .sort(),
    ).toEqual([...alpha.artifactIds].sort());

    const after = await wctJson<RunSummary>(["inspect", runId, ...storeArgs]);
    expect(after).toMatchObject({ status: "completed", attempt: winners.length + 1 });
    expect(after.artifacts.every((a) => a.status === "completed")).toBe(true);
    for (const artifact of completedBefore) {
      expect(after.artifacts.find((a) => a.id === artifact.id)?.sha256).toBe(artifact.sha256);
    }
    const verified = await wct(["runs", "verify", runId, ...storeArgs]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(
      await readFile(join(store, "runs", runId, "_system", "lease.json")).catch(() => null),
    ).toBe(null);
  }, 60_000);
});
