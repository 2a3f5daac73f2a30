/**
 * The lease of a run executing in another process: while that process is alive (frozen with
 * SIGSTOP: pid alive, heartbeat recent) nobody may resume, delete or prune the run; once it is
 * dead the run is `interrupted` and resumable; a frozen process whose lease was taken over must
 * not write into the run when it wakes.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { hasStackTrace } from "../helpers/cli.js";
import {
  type Dataset,
  generateDataset,
  killLeftovers,
  leaseFile,
  type RunSummary,
  runFolders,
  sleep,
  startWct,
  storedEvents,
  type WctProcess,
  waitFor,
  wct,
  wctJson,
} from "./fixture.js";

let dir: string;
let dataset: Dataset;
let storeCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-lease-"));
  dataset = await generateDataset(dir, { name: "slow-scan", sources: 4, filesPerSource: 400 });
});
afterEach(async () => {
  // A stopped process ignores everything but SIGKILL, which killLeftovers sends.
  await killLeftovers();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts a run in a fresh store and freezes it (SIGSTOP) as soon as it holds its lease. */
async function frozenRun(): Promise<{
  store: string;
  storeArgs: string[];
  runId: string;
  victim: WctProcess;
}> {
  const store = join(dir, `store-${++storeCount}`);
  const victim = startWct(["run", dataset.runbook, "--store-path", store]);
  const runId = await waitFor("the run's lease", async () => {
    const [runId] = await runFolders(store);
    return runId && existsSync(leaseFile(store, runId)) ? runId : null;
  });
  victim.child.kill("SIGSTOP");
  expect(existsSync(leaseFile(store, runId)), "the run ended before it could be frozen").toBe(true);
  return { store, storeArgs: ["--store-path", store], runId, victim };
}

describe("a run alive in another process", () => {
  it("cannot be resumed, deleted or pruned, and is listed as running", async () => {
    const { store, storeArgs, runId, victim } = await frozenRun();
    const named = new RegExp(`run ${runId} is being executed by pid ${victim.pid}\\b`);

    const resumed = await wct(["run", dataset.runbook, "--resume", runId, ...storeArgs]);
    expect(resumed.code, resumed.stderr).toBe(2);
    expect(resumed.stderr).toMatch(named);
    expect(hasStackTrace(resumed.stderr)).toBe(false);

    const deleted = await wct(["runs", "delete", runId, ...storeArgs]);
    expect(deleted.code, deleted.stderr).toBe(2);
    expect(deleted.stderr).toMatch(named);
    expect(await runFolders(store)).toEqual([runId]);

    const pruned = await wctJson<{ deleted: string[]; kept: Array<{ run_id: string }> }>([
      "runs",
      "prune",
      "--keep-last",
      "0",
      ...storeArgs,
    ]);
    expect(pruned).toMatchObject({
      deleted: [],
      kept: [{ run_id: runId, reason: "still running" }],
    });
    expect(await runFolders(store)).toEqual([runId]);

    const listed = await wctJson<RunSummary[]>(["runs", ...storeArgs]);
    expect(listed.map((r) => [r.run_id, r.status])).toEqual([[runId, "running"]]);
    expect((await wctJson<RunSummary>(["inspect", runId, ...storeArgs])).status).toBe("running");

    // Woken up, it finishes its run as if nothing happened.
    victim.child.kill("SIGCONT");
    const finished = await victim.done;
    expect(finished.code, finished.stderr).toBe(0);
    const after = await wctJson<RunSummary>(["inspect", runId, ...storeArgs]);
    expect(after).toMatchObject({ status: "completed", attempt: 1 });
    expect((await wct(["runs", "verify", runId, ...storeArgs])).code).toBe(0);
  }, 60_000);

  it("turns interrupted the moment its process dies, and can then be resumed", async () => {
    const { storeArgs, runId, victim } = await frozenRun();
    expect((await wctJson<RunSummary[]>(["runs", ...storeArgs]))[0]?.status).toBe("running");
    victim.child.kill("SIGKILL");
    await victim.done;

    const listed = await wctJson<RunSummary[]>(["runs", ...storeArgs]);
    expect(listed.map((r) => [r.run_id, r.status])).toEqual([[runId, "interrupted"]]);
    const resumed = await wct(["run", dataset.runbook, "--resume", runId, "--json", ...storeArgs]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      run_id: runId,
      status: "completed",
      attempt: 2,
    });
    expect((await wct(["runs", "verify", runId, ...storeArgs])).code).toBe(0);
  }, 60_000);
});

describe("a process frozen past the lease TTL", () => {
  it("loses the run to a resumer and writes nothing into it when it wakes", async () => {
    const { store, storeArgs, runId, victim } = await frozenRun();
    // As if it had been frozen for six minutes: on its own host a living holder keeps its run
    // for ten TTLs (5 min) without heartbeats; past that the lease is stale.
    const file = leaseFile(store, runId);
    const lease = JSON.parse(await readFile(file, "utf8"));
    lease.heartbeat_at = new Date(Date.now() - 6 * 60_000).toISOString();
    await writeFile(file, JSON.stringify(lease));
    expect((await wctJson<RunSummary[]>(["runs", ...storeArgs]))[0]?.status).toBe("interrupted");

    const resumed = await wct(["run", dataset.runbook, "--resume", runId, "--json", ...storeArgs]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: "completed", attempt: 2 });
    const settled = await storedEvents(store, runId);

    victim.child.kill("SIGCONT");
    // Its next write finds the lease taken: it stops at once, says so, and exits 1.
    const woke = await Promise.race([victim.done, sleep(15_000).then(() => null)]);
    victim.child.kill("SIGKILL");
    await victim.done;
    expect(woke, "the woken process did not stop by itself").not.toBeNull();
    expect(woke!.code, woke!.stderr).toBe(1);
    expect(woke!.stderr).toMatch(new RegExp(`run ${runId}: .*another process took the run over`));
    expect(hasStackTrace(woke!.stderr)).toBe(false);

    const verified = await wct(["runs", "verify", runId, ...storeArgs]);
    const written = (await storedEvents(store, runId))
      .slice(settled.length)
      .map((e) => `seq ${e.seq} ${e.type} ${e.artifact_id ?? ""}`.trim());
    expect(written, "events the woken process appended after losing its lease").toEqual([]);
    expect(verified.code, verified.stdout).toBe(0);
    expect((await wctJson<RunSummary>(["inspect", runId, ...storeArgs])).status).toBe("completed");
  }, 60_000);
});
