import { promises as fs } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ArtifactNotFoundError,
  CorruptDataError,
  RunNotFoundError,
  WctError,
} from "../../src/errors.js";
import { createWorkerPool } from "../../src/execute/worker-pool.js";
import { serializeMessage, sha256 } from "../../src/message.js";
import { createFileSystemArtifactStore } from "../../src/stores/artifact/filesystem.js";
import type { ArtifactStore } from "../../src/stores/artifact/store.js";
import { createFileSystemExecutionStore } from "../../src/stores/execution/filesystem.js";
import type { ExecutionStore, RunEvent } from "../../src/stores/execution/store.js";
import { newRunId } from "../../src/stores/keys.js";
import { countingRunner } from "../helpers/workers.js";
import { describeArtifactStore, sampleMessage } from "./artifact-store-suite.js";
import {
  deadPid,
  describeExecutionStore,
  event,
  owner,
  sampleRun,
} from "./execution-store-suite.js";

const scratch = await fs.mkdtemp(path.join(tmpdir(), "wct-stores-"));
afterAll(() => fs.rm(scratch, { recursive: true, force: true }));

let roots = 0;
/** A fresh, empty store folder. */
function freshRoot(): string {
  roots += 1;
  return path.join(scratch, `store-${roots}`);
}

describeArtifactStore("filesystem", () => createFileSystemArtifactStore({ root: freshRoot() }));
describeExecutionStore("filesystem", (options) =>
  createFileSystemExecutionStore({ root: freshRoot(), ...options }),
);

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/**
 * Freezes the `nth` read of `file` through `fs.readFile` once its bytes are read, until `wake`:
 * a process stopped at that point. `reached` resolves once it is frozen (the spy then removed).
 */
function freezeAtRead(file: string, nth: number): { reached: Promise<void>; wake: () => void } {
  let wake: () => void = () => {};
  const woken = new Promise<void>((resolve) => {
    wake = resolve;
  });
  let read: () => void = () => {};
  const readIt = new Promise<void>((resolve) => {
    read = resolve;
  });
  const readFile = fs.readFile.bind(fs);
  let reads = 0;
  const spy = vi.spyOn(fs, "readFile").mockImplementation(async (...args) => {
    const bytes = await readFile(...(args as Parameters<typeof readFile>));
    if (args[0] === file && ++reads === nth) {
      read();
      await woken;
    }
    return bytes;
  });
  return { reached: readIt.then(() => spy.mockRestore()), wake: () => wake() };
}

/** Ages a run's lease lock past its TTL, as a holder frozen that long leaves it. */
async function ageLeaseLock(system: string): Promise<void> {
  const old = new Date(Date.now() - 60_000);
  await fs.utimes(path.join(system, ".lease.break"), old, old);
}

describe("filesystem stores on disk", () => {
  let root: string;
  let artifacts: ArtifactStore;
  let executions: ExecutionStore;
  beforeEach(() => {
    root = freshRoot();
    artifacts = createFileSystemArtifactStore({ root });
    executions = createFileSystemExecutionStore({ root });
  });
  afterEach(async () => {
    await executions.close?.();
    await artifacts.close?.();
  });

  it("lays a run out exactly as ARCHITECTURE §4.2 says", async () => {
    const run = sampleRun({ artifact_ids: ["scan", "child/found"] });
    const id = run.run_id;
    const holder = owner();
    await executions.createRun(run, holder);
    const message = sampleMessage("scan");
    await artifacts.save(id, "scan", message);
    await artifacts.save(id, "child/found", sampleMessage("found"));
    await executions.appendEvents(id, [
      event({ type: "run_started", attempt: 1, resumed: false, pid: process.pid, host: "h" }),
      event({ type: "artifact_started", artifact_id: "scan" }),
    ]);

    const runDir = path.join(root, "runs", id);
    expect(await listFiles(runDir)).toEqual([
      "_system/events.jsonl",
      "_system/lease.json",
      "_system/metadata.json",
      "_system/plan.json",
      "_system/state.json",
      "artifacts/child/found.json",
      "artifacts/scan.json",
    ]);
    expect(await fs.readFile(path.join(runDir, "artifacts/scan.json"))).toEqual(
      serializeMessage(message),
    );

    const metadata = JSON.parse(
      await fs.readFile(path.join(runDir, "_system/metadata.json"), "utf8"),
    );
    // A superset of upstream's metadata.json, upstream's fields first.
    expect(Object.keys(metadata).slice(0, 5)).toEqual([
      "run_id",
      "runbook_path",
      "started_at",
      "completed_at",
      "status",
    ]);
    expect(metadata).toMatchObject({
      run_id: id,
      runbook_path: "runbooks/sample.yaml",
      started_at: run.started_at,
      completed_at: null,
      status: "running",
      runbook: run.runbook,
    });

    const lines = (await fs.readFile(path.join(runDir, "_system/events.jsonl"), "utf8")).split(
      "\n",
    );
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    expect(JSON.parse(lines[1]!)).toMatchObject({ type: "artifact_started", seq: 2 });

    await executions.appendEvents(id, [
      event({ type: "artifact_failed", artifact_id: "scan", error: "x", duration_seconds: 1 }),
      event({ type: "artifact_skipped", artifact_id: "child/found", because: "scan failed" }),
      event({ type: "run_finished", status: "failed" }, "2026-11-25T10:00:00.000Z"),
    ]);
    const finished = JSON.parse(
      await fs.readFile(path.join(runDir, "_system/metadata.json"), "utf8"),
    );
    expect(finished).toMatchObject({
      status: "failed",
      completed_at: "2026-11-25T10:00:00.000Z",
      finished_at: "2026-11-25T10:00:00.000Z",
      counts: { failed: 1, skipped: 1, completed: 0, not_started: 0, running: 0 },
    });
    const state = JSON.parse(await fs.readFile(path.join(runDir, "_system/state.json"), "utf8"));
    expect(state).toEqual({
      run_id: id,
      completed: [],
      not_started: [],
      pending: [],
      failed: ["scan"],
      skipped: ["child/found"],
      last_checkpoint: "2026-11-25T10:00:00.000Z",
    });
    expect(await executions.getPlan(id)).toEqual(run.plan);
    await executions.releaseLease(id, holder);
    expect(await listFiles(path.join(runDir, "_system"))).not.toContain("lease.json");
  });

  it("never lists temp files", async () => {
    const id = newRunId();
    await artifacts.save(id, "a", sampleMessage("a"));
    await artifacts.save(id, "n/b", sampleMessage("b"));
    const dir = path.join(root, "runs", id, "artifacts");
    await fs.writeFile(path.join(dir, ".a.json.123.abcdef.tmp"), "{");
    await fs.writeFile(path.join(dir, "n", ".b.json.9.ff.tmp"), "");
    await fs.writeFile(path.join(dir, "notes.txt"), "not an artifact");
    expect(await artifacts.listKeys(id)).toEqual(["a", "n/b"]);
    expect((await fs.readdir(dir)).filter((name) => name.endsWith(".tmp"))).toHaveLength(1);
  });

  it("reports a truncated artifact file as corrupt, naming the file", async () => {
    const id = newRunId();
    await artifacts.save(id, "nested/scan", sampleMessage("scan"));
    const file = path.join(root, "runs", id, "artifacts", "nested", "scan.json");
    const bytes = await fs.readFile(file);
    await fs.writeFile(file, bytes.subarray(0, bytes.length - 10));
    const error = await artifacts.get(id, "nested/scan").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect((error as CorruptDataError).location).toBe(file);
    expect((error as Error).message).toContain(file);

    await fs.writeFile(file, JSON.stringify({ hello: "world" }));
    await expect(artifacts.get(id, "nested/scan")).rejects.toThrow(`${file}: not a Message`);
  });

  it("digests the file as it is on disk, on the worker threads it was given", async () => {
    const workers = createWorkerPool(1);
    const shared = createFileSystemArtifactStore({ root, workers });
    const id = newRunId();
    await shared.save(id, "scan", sampleMessage("scan"));
    const file = path.join(root, "runs", id, "artifacts", "scan.json");
    await fs.writeFile(file, "changed behind the store's back");
    expect(await shared.digest(id, "scan")).toEqual({
      sha256: sha256("changed behind the store's back"),
      bytes: 31,
    });
    await fs.rm(file);
    await fs.mkdir(file);
    await expect(shared.digest(id, "scan")).rejects.toBeInstanceOf(ArtifactNotFoundError);
    // The threads belong to the caller: closing the store leaves them running.
    await shared.close?.();
    await shared.save(id, "again", sampleMessage("again"));
    expect((await shared.digest(id, "again")).bytes).toBe(
      serializeMessage(sampleMessage("again")).length,
    );
    // Threads that cannot run the task are not a bad file: that error is not a store error.
    await workers.close();
    const refused = await shared.digest(id, "again").catch((e: unknown) => e);
    expect((refused as Error).message).toBe("The worker pool is closed.");
    expect(refused).not.toBeInstanceOf(WctError);
    // A store's own thread, once closed, is not started again behind the caller's back.
    await artifacts.save(id, "own", sampleMessage("own"));
    expect((await artifacts.digest(id, "own")).bytes).toBeGreaterThan(0);
    await artifacts.close?.();
    await expect(artifacts.digest(id, "own")).rejects.toThrow("The worker pool is closed.");
  });

  it("hashes the digests asked for at once in one task per worker thread", async () => {
    const pool = createWorkerPool(2);
    const counted = countingRunner(pool);
    const shared = createFileSystemArtifactStore({ root, workers: counted });
    const id = newRunId();
    const keys = Array.from({ length: 9 }, (_, i) => `k${i}`);
    const stored = await Promise.all(keys.map((k) => shared.save(id, k, sampleMessage(k))));
    await fs.rm(path.join(root, "runs", id, "artifacts", "k4.json"));
    try {
      const outcomes = await Promise.allSettled(keys.map((k) => shared.digest(id, k)));
      expect(counted.tasks).toBe(2);
      outcomes.forEach((outcome, i) => {
        if (i === 4) {
          expect(outcome.status).toBe("rejected");
          expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(ArtifactNotFoundError);
        } else {
          expect(outcome).toEqual({ status: "fulfilled", value: stored[i] });
        }
      });
      // A later call is a batch of its own.
      expect(await shared.digest(id, "k0")).toEqual(stored[0]);
      expect(counted.tasks).toBe(3);
    } finally {
      await pool.close();
    }
  });

  it("ignores a torn last line of the event log and appends cleanly after it", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner(await deadPid()));
    await executions.appendEvents(run.run_id, [
      event({ type: "artifact_started", artifact_id: "a" }),
      event({ type: "artifact_started", artifact_id: "b" }),
    ]);
    const file = path.join(root, "runs", run.run_id, "_system", "events.jsonl");
    await fs.appendFile(file, '{"event_id":"torn","at":"2026-');
    expect((await executions.readEvents(run.run_id)).map((e) => e.seq)).toEqual([1, 2]);

    // A new process (new store instance) resumes writing the log.
    const resumed = createFileSystemExecutionStore({ root });
    expect((await resumed.readEvents(run.run_id)).map((e) => e.seq)).toEqual([1, 2]);
    await resumed.acquireLease(run.run_id, owner());
    await resumed.appendEvents(run.run_id, [event({ type: "artifact_started", artifact_id: "c" })]);
    const text = await fs.readFile(file, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    const parsed = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as RunEvent);
    expect(parsed.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("never lets a process that lost the lease cut the log it no longer owns", async () => {
    const run = sampleRun();
    const gone = owner(await deadPid());
    await executions.createRun(run, gone);
    const next = owner();
    await createFileSystemExecutionStore({ root }).acquireLease(run.run_id, next);
    // The new holder is in the middle of writing a line.
    const file = path.join(root, "runs", run.run_id, "_system", "events.jsonl");
    await fs.appendFile(file, '{"event_id":"half-written","at":"2026-');
    const late = createFileSystemExecutionStore({ root }).appendEvents(
      run.run_id,
      [event({ type: "artifact_started", artifact_id: "a" })],
      gone,
    );
    await expect(late).rejects.toMatchObject({ code: "lease_lost" });
    expect(await fs.readFile(file, "utf8")).toBe('{"event_id":"half-written","at":"2026-');
  });

  it("sees at its next check that another process took its lease, or that the file was edited", async () => {
    const run = sampleRun();
    const frozen = owner(await deadPid());
    await executions.createRun(run, frozen);
    const append = (id: string) =>
      executions.appendEvents(
        run.run_id,
        [event({ type: "artifact_started", artifact_id: id })],
        frozen,
      );
    await append("a");
    await executions.checkLease(run.run_id, frozen);
    // Another process breaks the lease (its pid is gone) and takes it.
    const next = owner();
    await createFileSystemExecutionStore({ root }).acquireLease(run.run_id, next);
    await expect(executions.checkLease(run.run_id, frozen)).rejects.toMatchObject({
      code: "lease_lost",
    });
    await expect(append("b")).rejects.toMatchObject({ code: "lease_lost" });

    // The same file rewritten in place (same inode) with another token is seen as well.
    const second = sampleRun();
    const holder = owner();
    await executions.createRun(second, holder);
    await executions.checkLease(second.run_id, holder);
    const file = path.join(root, "runs", second.run_id, "_system", "lease.json");
    const text = await fs.readFile(file, "utf8");
    await fs.writeFile(file, text.replace(holder.token, next.token));
    await expect(executions.checkLease(second.run_id, holder)).rejects.toMatchObject({
      code: "lease_lost",
    });
    // Put back, it is the holder's again.
    await fs.writeFile(file, text);
    await executions.checkLease(second.run_id, holder);
    await executions.checkLease(second.run_id, holder);
    // A replacement of the same size and mtime is another file all the same.
    const when = new Date("2026-01-01T00:00:00Z");
    await fs.utimes(file, when, when);
    await executions.checkLease(second.run_id, holder);
    const other = `${file}.other`;
    await fs.writeFile(other, text.replace(holder.token, next.token));
    await fs.utimes(other, when, when);
    await fs.rename(other, file);
    await expect(executions.checkLease(second.run_id, holder)).rejects.toMatchObject({
      code: "lease_lost",
    });
  });

  it("reports a damaged line inside the event log, naming file and line", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner());
    await executions.appendEvents(run.run_id, [
      event({ type: "artifact_started", artifact_id: "a" }),
    ]);
    const file = path.join(root, "runs", run.run_id, "_system", "events.jsonl");
    await fs.appendFile(file, "garbage\n");
    await expect(executions.readEvents(run.run_id)).rejects.toThrow(`${file}:2`);
    await expect(executions.readEvents(run.run_id)).rejects.toBeInstanceOf(CorruptDataError);
  });

  it("reports a corrupt metadata.json on read and still lists the run", async () => {
    const good = sampleRun();
    const bad = sampleRun();
    const gone = owner(await deadPid());
    await executions.createRun(good, gone);
    await executions.createRun(bad, gone);
    const file = path.join(root, "runs", bad.run_id, "_system", "metadata.json");
    await fs.writeFile(file, '{"run_id": "');
    const error = await executions.getRun(bad.run_id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect((error as CorruptDataError).location).toBe(file);
    await expect(executions.getRunDetails(bad.run_id)).rejects.toThrow(file);

    const page = await executions.listRuns();
    expect(page.runs.map((r) => r.run_id)).toEqual([bad.run_id, good.run_id]);
    expect(page.runs[0]).toMatchObject({ status: "interrupted", runbook: { name: "?" } });
    expect(page.runs[0]!.problem).toContain(file);
    expect(page.runs[1]!.problem).toBeUndefined();

    // Filters select by what the record says: an unreadable one says nothing.
    const interrupted = (await executions.listRuns({ status: "interrupted" })).runs;
    expect(interrupted.map((r) => r.run_id)).toEqual([good.run_id]);
    expect((await executions.listRuns({ runbook: "?" })).runs).toEqual([]);
    // A record of unknown age is no run record: `prune --older-than` must not judge it.
    const record = JSON.parse(
      await fs.readFile(path.join(root, "runs", good.run_id, "_system", "metadata.json"), "utf8"),
    );
    await fs.writeFile(
      file,
      JSON.stringify({ ...record, run_id: bad.run_id, started_at: "garbage" }),
    );
    await expect(executions.getRun(bad.run_id)).rejects.toThrow(/not a run record/);

    await fs.rm(file);
    await expect(executions.getRun(bad.run_id)).rejects.toThrow(/missing/);
    expect((await executions.listRuns()).runs[0]!.problem).toContain("missing");
    // A damaged run can still be removed.
    await executions.deleteRun(bad.run_id);
    expect((await executions.listRuns()).runs.map((r) => r.run_id)).toEqual([good.run_id]);
  });

  it("deletes a run whose lease file was replaced by a folder, which no one holds", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner(await deadPid()));
    const lease = path.join(root, "runs", run.run_id, "_system", "lease.json");
    await fs.rm(lease);
    await fs.mkdir(lease);
    expect((await executions.getRun(run.run_id)).status).toBe("interrupted");
    await executions.deleteRun(run.run_id);
    await expect(executions.getRun(run.run_id)).rejects.toThrow(/not found/i);
  });

  it("takes over the lease of a process that died, from another store instance", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner(await deadPid()));
    await executions.appendEvents(run.run_id, [
      event({ type: "run_started", attempt: 1, resumed: false, pid: 1, host: "h" }),
    ]);
    const other = createFileSystemExecutionStore({ root });
    expect((await other.getRun(run.run_id)).status).toBe("interrupted");
    const next = owner();
    await other.acquireLease(run.run_id, next);
    expect((await executions.getLease(run.run_id))!.lease.token).toBe(next.token);
    expect((await executions.getRun(run.run_id)).status).toBe("running");
    const leftovers = await fs.readdir(path.join(root, "runs", run.run_id, "_system"));
    expect(leftovers.filter((name) => name.startsWith("."))).toEqual([]);
  });

  it("breaks a lease lock left by a crashed process, and leaves nothing behind", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner(await deadPid()));
    const system = path.join(root, "runs", run.run_id, "_system");
    const lock = path.join(system, ".lease.break");
    await fs.writeFile(lock, "token-of-a-crashed-process");
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lock, old, old);
    const next = owner();
    const lease = await executions.acquireLease(run.run_id, next);
    expect(lease.token).toBe(next.token);
    expect((await fs.readdir(system)).filter((name) => name.startsWith("."))).toEqual([]);
  });

  it("breaks at once a lease lock whose taker on this host has died", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner(await deadPid()));
    const system = path.join(root, "runs", run.run_id, "_system");
    await fs.writeFile(path.join(system, ".lease.break"), `t ${await deadPid()} ${hostname()}`);
    const started = performance.now();
    await executions.acquireLease(run.run_id, owner());
    // Far sooner than the 10 s after which a lock of an unknown taker expires.
    expect(performance.now() - started).toBeLessThan(2000);
    expect((await fs.readdir(system)).filter((name) => name.startsWith("."))).toEqual([]);
  });

  it("leaves a fresh lease lock of another process alone until it expires", async () => {
    const run = sampleRun();
    const holder = owner();
    await executions.createRun(run, holder);
    const lock = path.join(root, "runs", run.run_id, "_system", ".lease.break");
    // Its taker is alive (this very process, under another token).
    const busy = `token-of-a-busy-taker ${process.pid} ${hostname()}`;
    await fs.writeFile(lock, busy);
    const heartbeat = executions.heartbeat(run.run_id, holder);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await fs.readFile(lock, "utf8")).toBe(busy);
    await fs.rm(lock);
    await heartbeat;
    await expect(fs.stat(lock)).rejects.toThrow();
  });

  it("never puts back the lease of a holder frozen inside its heartbeat once another took it", async () => {
    const run = sampleRun();
    // Its pid is gone: to every other store its lease is stale, as after a long freeze.
    const frozen = owner(await deadPid());
    await executions.createRun(run, frozen);
    const system = path.join(root, "runs", run.run_id, "_system");
    const leaseFile = path.join(system, "lease.json");
    // The heartbeat reads its lease, then freezes (until `wake`) before it writes the new one.
    const freeze = freezeAtRead(leaseFile, 1);
    const heartbeat = executions.heartbeat(run.run_id, frozen);
    await freeze.reached;
    // Frozen past the lock's TTL: a resumer breaks the lock, then the stale lease, and takes it.
    await ageLeaseLock(system);
    const resumer = createFileSystemExecutionStore({ root });
    const next = owner();
    await resumer.acquireLease(run.run_id, next);
    freeze.wake();
    await expect(heartbeat).rejects.toMatchObject({ code: "lease_lost" });
    await resumer.checkLease(run.run_id, next);
    expect((await executions.getLease(run.run_id))!.lease.token).toBe(next.token);
    await resumer.close?.();
  });

  it("never removes a lease taken while a breaker of the corrupt one before it was frozen", async () => {
    const run = sampleRun();
    const first = owner();
    await executions.createRun(run, first);
    await executions.releaseLease(run.run_id, first);
    const system = path.join(root, "runs", run.run_id, "_system");
    const leaseFile = path.join(system, "lease.json");
    await fs.writeFile(leaseFile, "{damaged");
    // The breaker reads the corrupt lease under the lock, then freezes (until `wake`) before it
    // removes it: the first read judges it corrupt; the second, under the lock, freezes.
    const freeze = freezeAtRead(leaseFile, 2);
    const frozen = owner();
    const breaking = executions.acquireLease(run.run_id, frozen);
    await freeze.reached;
    // Frozen past the lock's TTL: another breaks the lock, then the corrupt lease, and takes it.
    await ageLeaseLock(system);
    const other = createFileSystemExecutionStore({ root });
    const next = owner();
    await other.acquireLease(run.run_id, next);
    freeze.wake();
    await expect(breaking).rejects.toMatchObject({ code: "lease_held" });
    await other.checkLease(run.run_id, next);
    await other.close?.();
  });

  it("lets only one of several racers take a stale lease", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner(await deadPid()));
    const racers = Array.from({ length: 6 }, () => createFileSystemExecutionStore({ root }));
    const results = await Promise.allSettled(
      racers.map((racer) => racer.acquireLease(run.run_id, owner())),
    );
    const winners = results.filter((r) => r.status === "fulfilled");
    expect(winners).toHaveLength(1);
    const lease = await executions.getLease(run.run_id);
    expect(lease!.lease.token).toBe(
      (winners[0] as PromiseFulfilledResult<{ token: string }>).value.token,
    );
  });

  it("keeps concurrent appends durable and in one consistent order", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner());
    const batches = Array.from({ length: 8 }, (_, b) =>
      Array.from({ length: 5 }, (_, i) =>
        event({ type: "artifact_started", artifact_id: `b${b}-${i}` }),
      ),
    );
    await Promise.all(batches.map((batch) => executions.appendEvents(run.run_id, batch)));
    const fromDisk = await createFileSystemExecutionStore({ root }).readEvents(run.run_id);
    expect(fromDisk.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(new Set(fromDisk.map((e) => e.event_id)).size).toBe(40);
    // Each call's events stay together and in order; calls land in the order they were made.
    expect(fromDisk.map((e) => e.event_id)).toEqual(batches.flat().map((e) => e.event_id));
  });

  it("deletes the whole run folder, artifacts included", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner(await deadPid()));
    await artifacts.save(run.run_id, "a", sampleMessage("a"));
    await executions.deleteRun(run.run_id);
    await expect(fs.stat(path.join(root, "runs", run.run_id))).rejects.toThrow();
    expect(await artifacts.listKeys(run.run_id)).toEqual([]);
    expect(await fs.readdir(path.join(root, "runs"))).toEqual([]);
  });

  it("resolves a run ID written in upper case to the folder of exactly that name first", async () => {
    // A folder copied by hand under the upper-case name: each name still names its own folder.
    const run = sampleRun();
    await executions.createRun(run, owner(await deadPid()));
    const upper = run.run_id.toUpperCase();
    await fs.cp(path.join(root, "runs", run.run_id), path.join(root, "runs", upper), {
      recursive: true,
    });
    expect(await executions.resolveRunId(upper)).toBe(upper);
    expect(await executions.resolveRunId(run.run_id)).toBe(run.run_id);
    await executions.deleteRun(await executions.resolveRunId(upper));
    expect(await fs.readdir(path.join(root, "runs"))).toEqual([run.run_id]);
  });

  it("clears artifacts without touching the run's system data", async () => {
    const run = sampleRun();
    await executions.createRun(run, owner());
    await artifacts.save(run.run_id, "a", sampleMessage("a"));
    await artifacts.clear(run.run_id);
    expect(await listFiles(path.join(root, "runs", run.run_id))).toEqual([
      "_system/events.jsonl",
      "_system/lease.json",
      "_system/metadata.json",
      "_system/plan.json",
      "_system/state.json",
    ]);
  });

  it("lists the newest page of 2000 runs without reading the older ones", async () => {
    // Old runs get a corrupt metadata.json: listing them would show up as `problem` records.
    const runsDir = path.join(root, "runs");
    const ids = Array.from({ length: 2000 }, () => newRunId());
    await fs.mkdir(runsDir, { recursive: true });
    const valid = ids.slice(-10);
    await Promise.all(
      ids.slice(0, -10).map(async (id) => {
        await fs.mkdir(path.join(runsDir, id, "_system"), { recursive: true });
        await fs.writeFile(path.join(runsDir, id, "_system", "metadata.json"), "{corrupt");
      }),
    );
    for (const id of valid) await executions.createRun(sampleRun({ run_id: id }), owner());

    const page = await executions.listRuns({ limit: 10 });
    expect(page.runs.map((r) => r.run_id)).toEqual([...valid].reverse());
    expect(page.runs.every((r) => r.problem === undefined)).toBe(true);
    expect(page.next_cursor).toBe(valid[0]);
    const next = await executions.listRuns({ limit: 3, cursor: page.next_cursor! });
    expect(next.runs.map((r) => r.problem !== undefined)).toEqual([true, true, true]);
    expect(next.runs[0]!.run_id).toBe(ids[ids.length - 11]);
  });

  it("ignores entries of runs/ that are not run folders", async () => {
    await fs.mkdir(path.join(root, "runs", ".hidden-temp"), { recursive: true });
    await fs.writeFile(path.join(root, "runs", "stray-file"), "");
    expect((await executions.listRuns()).runs).toEqual([]);
    await expect(executions.resolveRunId("stray")).rejects.toBeInstanceOf(RunNotFoundError);
  });
});
