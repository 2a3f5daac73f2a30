/**
 * The ExecutionStore conformance suite (ARCHITECTURE §4.1): every backend runs it, through
 * `describeExecutionStore(name, factory)`.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConflictError, InputError, InvalidKeyError, RunNotFoundError } from "../../src/errors.js";
import type {
  ExecutionStore,
  LeaseOwner,
  NewRun,
  RunEvent,
} from "../../src/stores/execution/store.js";
import { newRunId } from "../../src/stores/keys.js";
import { UNSAFE_RUN_IDS } from "./artifact-store-suite.js";

export interface ExecutionStoreFactoryOptions {
  leaseTtlMs?: number;
}

type EventInput = RunEvent extends infer E
  ? E extends RunEvent
    ? Omit<E, "event_id" | "at" | "seq">
    : never
  : never;

/** An event with a fresh ID, stamped now. */
export function event(input: EventInput, at = new Date().toISOString()): RunEvent {
  return { event_id: randomUUID(), at, ...input } as RunEvent;
}

/** A NewRun for the artifacts `a`, `b`, `c`. */
export function sampleRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    run_id: newRunId(),
    runbook: {
      name: "Sample scan",
      path: "runbooks/sample.yaml",
      sha256: "0".repeat(64),
      text: "name: Sample scan\nsecret: ${DB_PASSWORD}\n",
    },
    tool_version: "0.1.0",
    user: "tester",
    host: hostname(),
    argv: ["wct", "run", "runbooks/sample.yaml"],
    artifact_ids: ["a", "b", "c"],
    plan: { runbook: { name: "Sample scan" }, aliases: {} },
    started_at: new Date().toISOString(),
    ...overrides,
  };
}

/** A lease owner for this process with a fresh token. */
export function owner(pid = process.pid): LeaseOwner {
  return { pid, host: hostname(), token: randomUUID() };
}

/** The pid of a process that has already exited. */
export async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

const schema = { name: "standard_input", version: "1.0.0" };

export function describeExecutionStore(
  name: string,
  factory: (options?: ExecutionStoreFactoryOptions) => ExecutionStore | Promise<ExecutionStore>,
): void {
  describe(`ExecutionStore conformance: ${name}`, () => {
    let store: ExecutionStore;
    beforeEach(async () => {
      store = await factory();
    });
    // Lets go of what the store holds open (the filesystem store keeps its held leases open).
    afterEach(() => store.close?.());

    describe("runs and events", () => {
      it("creates a run whose every artifact is not started", async () => {
        const run = sampleRun();
        const creator = owner();
        const record = await store.createRun(run, creator);
        expect(await store.getLease(run.run_id)).toMatchObject({
          lease: { run_id: run.run_id, ...creator },
          live: true,
        });
        expect(record).toMatchObject({
          run_id: run.run_id,
          tenant: null,
          status: "running",
          runbook: run.runbook,
          started_at: run.started_at,
          finished_at: null,
          artifact_ids: ["a", "b", "c"],
          attempt: 1,
          counts: { not_started: 3, running: 0, completed: 0, failed: 0, skipped: 0 },
        });
        expect(await store.getPlan(run.run_id)).toEqual(run.plan);
        expect(await store.readEvents(run.run_id)).toEqual([]);
      });

      it("refuses to create a run twice", async () => {
        const run = sampleRun();
        const creator = owner();
        await store.createRun(run, creator);
        await expect(store.createRun(run, owner())).rejects.toBeInstanceOf(ConflictError);
        // The failed attempt took nothing: the creator still holds the run.
        expect((await store.getLease(run.run_id))!.lease.token).toBe(creator.token);
      });

      it("throws RunNotFoundError for an unknown run", async () => {
        const id = newRunId();
        await expect(store.getRun(id)).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(store.getRunDetails(id)).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(store.readEvents(id)).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(store.getPlan(id)).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(
          store.appendEvents(id, [event({ type: "artifact_started", artifact_id: "a" })]),
        ).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(store.deleteRun(id)).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(store.acquireLease(id, owner())).rejects.toBeInstanceOf(RunNotFoundError);
      });

      it("appends events in order, numbering them from 1", async () => {
        const run = sampleRun();
        await store.createRun(run, owner());
        const first = [
          event({ type: "run_started", attempt: 1, resumed: false, pid: 1, host: "h" }),
          event({ type: "artifact_started", artifact_id: "a" }),
        ];
        const second = [event({ type: "artifact_started", artifact_id: "b" })];
        await store.appendEvents(run.run_id, first);
        await store.appendEvents(run.run_id, second);
        const log = await store.readEvents(run.run_id);
        expect(log.map((e) => e.event_id)).toEqual([...first, ...second].map((e) => e.event_id));
        expect(log.map((e) => e.seq)).toEqual([1, 2, 3]);
        expect(log[1]).toEqual({ ...first[1], seq: 2 });
      });

      it("ignores events whose event_id is already logged", async () => {
        const run = sampleRun();
        await store.createRun(run, owner());
        const started = event({ type: "artifact_started", artifact_id: "a" });
        await store.appendEvents(run.run_id, [started, started]);
        await store.appendEvents(run.run_id, [started]);
        const done = event({
          type: "artifact_completed",
          artifact_id: "a",
          sha256: "f".repeat(64),
          bytes: 10,
          schema,
          duration_seconds: 1,
        });
        await store.appendEvents(run.run_id, [started, done]);
        const log = await store.readEvents(run.run_id);
        expect(log.map((e) => e.type)).toEqual(["artifact_started", "artifact_completed"]);
        expect(log.map((e) => e.seq)).toEqual([1, 2]);
      });

      it("rejects malformed events", async () => {
        const run = sampleRun();
        await store.createRun(run, owner());
        const bad = [
          { type: "artifact_started", artifact_id: "a", at: "x" },
        ] as unknown as RunEvent[];
        await expect(store.appendEvents(run.run_id, bad)).rejects.toBeInstanceOf(InputError);
        const unknown = [{ ...event({ type: "artifact_started", artifact_id: "a" }), type: "x" }];
        await expect(
          store.appendEvents(run.run_id, unknown as unknown as RunEvent[]),
        ).rejects.toBeInstanceOf(InputError);
        expect(await store.readEvents(run.run_id)).toEqual([]);
      });

      it("derives artifact states, counts and the final status from the events", async () => {
        const run = sampleRun();
        const holder = owner();
        await store.createRun(run, holder);
        await store.appendEvents(run.run_id, [
          event({ type: "run_started", attempt: 1, resumed: false, pid: process.pid, host: "h" }),
          event({ type: "artifact_started", artifact_id: "a" }, "2026-01-01T00:00:01.000Z"),
          event(
            {
              type: "artifact_completed",
              artifact_id: "a",
              sha256: "a".repeat(64),
              bytes: 42,
              schema,
              duration_seconds: 1.5,
            },
            "2026-01-01T00:00:02.500Z",
          ),
          event({ type: "artifact_started", artifact_id: "b" }),
        ]);
        const running = await store.getRun(run.run_id);
        expect(running.status).toBe("running");
        expect(running.counts).toMatchObject({ completed: 1, running: 1, not_started: 1 });

        await store.appendEvents(run.run_id, [
          event({
            type: "artifact_failed",
            artifact_id: "b",
            error: "boom",
            duration_seconds: 0.2,
          }),
          event({ type: "artifact_skipped", artifact_id: "c", because: "b failed" }),
          event({ type: "run_finished", status: "failed" }, "2026-01-01T00:00:09.000Z"),
        ]);
        await store.releaseLease(run.run_id, holder);

        const details = await store.getRunDetails(run.run_id);
        expect(details.status).toBe("failed");
        expect(details.finished_at).toBe("2026-01-01T00:00:09.000Z");
        expect(details.counts).toEqual({
          not_started: 0,
          running: 0,
          completed: 1,
          failed: 1,
          skipped: 1,
        });
        expect(details.artifacts.map((a) => [a.id, a.status])).toEqual([
          ["a", "completed"],
          ["b", "failed"],
          ["c", "skipped"],
        ]);
        expect(details.artifacts[0]).toEqual({
          id: "a",
          status: "completed",
          started_at: "2026-01-01T00:00:01.000Z",
          finished_at: "2026-01-01T00:00:02.500Z",
          duration_seconds: 1.5,
          error: null,
          because: null,
          sha256: "a".repeat(64),
          bytes: 42,
          schema,
          provenance: null,
        });
        expect(details.artifacts[1]).toMatchObject({ error: "boom", duration_seconds: 0.2 });
        expect(details.artifacts[2]).toMatchObject({ because: "b failed" });
        const record = await store.getRun(run.run_id);
        expect(record.status).toBe("failed");
        expect(record.counts).toEqual(details.counts);
      });

      it("resets artifacts left running when a new attempt starts, keeping finished ones", async () => {
        const run = sampleRun();
        await store.createRun(run, owner());
        await store.appendEvents(run.run_id, [
          event({ type: "run_started", attempt: 1, resumed: false, pid: 1, host: "h" }),
          event({ type: "artifact_started", artifact_id: "a" }),
          event({
            type: "artifact_completed",
            artifact_id: "a",
            sha256: "a".repeat(64),
            bytes: 1,
            schema,
            duration_seconds: 0,
          }),
          event({ type: "artifact_started", artifact_id: "b" }),
        ]);
        const resumed = await store.beginAttempt(run.run_id, {
          plan: { replanned: true },
          runbook: run.runbook,
          argv: ["wct", "run", "--resume", run.run_id],
        });
        expect(resumed.attempt).toBe(2);
        expect(await store.getPlan(run.run_id)).toEqual({ replanned: true });
        await store.appendEvents(run.run_id, [
          event({ type: "run_started", attempt: 2, resumed: true, pid: 1, host: "h" }),
          event({
            type: "artifact_reused",
            artifact_id: "c",
            from_run: "earlier",
            from_artifact: "c0",
            source_sha256: "c".repeat(64),
            sha256: "d".repeat(64),
            bytes: 7,
            schema,
          }),
        ]);
        const details = await store.getRunDetails(run.run_id);
        expect(details.attempt).toBe(2);
        expect(details.argv).toEqual(["wct", "run", "--resume", run.run_id]);
        expect(details.artifacts.map((a) => a.status)).toEqual([
          "completed",
          "not_started",
          "completed",
        ]);
        expect(details.artifacts[1]!.started_at).toBeNull();
        expect(details.artifacts[2]).toMatchObject({
          sha256: "d".repeat(64),
          bytes: 7,
          provenance: { from_run: "earlier", from_artifact: "c0", sha256: "c".repeat(64) },
        });
      });

      /** A run whose first artifact started, then `more` events; its creator holds the lease. */
      async function runWithStartedArtifact(...more: RunEvent[]) {
        const run = sampleRun();
        const creator = owner();
        await store.createRun(run, creator);
        await store.appendEvents(run.run_id, [
          event({ type: "run_started", attempt: 1, resumed: false, pid: 1, host: "h" }),
          event({ type: "artifact_started", artifact_id: "a" }),
          ...more,
        ]);
        return { run, creator };
      }

      it("reports a running run without a live lease as interrupted, and what it ran as cut short", async () => {
        const { run, creator } = await runWithStartedArtifact();
        expect((await store.getRun(run.run_id)).status).toBe("running");
        expect((await store.getRunDetails(run.run_id)).artifacts[0]!.status).toBe("running");
        await store.releaseLease(run.run_id, creator);
        expect((await store.getRun(run.run_id)).status).toBe("interrupted");
        const stopped = await store.getRunDetails(run.run_id);
        expect(stopped.artifacts[0]).toMatchObject({
          status: "skipped",
          because: "the run was interrupted while it ran: no live process holds the run",
        });
        expect(stopped.counts).toMatchObject({ running: 0, skipped: 1, not_started: 2 });
        expect((await store.getRun(run.run_id)).counts).toEqual(stopped.counts);
        const holder = owner();
        await store.acquireLease(run.run_id, holder);
        expect((await store.getRun(run.run_id)).status).toBe("running");
        expect((await store.getRunDetails(run.run_id)).status).toBe("running");
        await store.releaseLease(run.run_id, holder);
        expect((await store.getRunDetails(run.run_id)).status).toBe("interrupted");
      });

      it("reports an artifact of a finished run whose outcome its log lost as cut short", async () => {
        const { run, creator } = await runWithStartedArtifact(
          event({ type: "run_finished", status: "completed" }),
        );
        await store.releaseLease(run.run_id, creator);
        const details = await store.getRunDetails(run.run_id);
        expect(details.status).toBe("completed");
        expect(details.artifacts[0]).toMatchObject({
          status: "skipped",
          because: "the run ended while it ran, and its log holds no outcome for it",
        });
      });

      it("hands out copies, so callers cannot change stored data", async () => {
        const run = sampleRun();
        await store.createRun(run, owner());
        const record = await store.getRun(run.run_id);
        record.artifact_ids.push("x");
        record.runbook.name = "changed";
        const plan = (await store.getPlan(run.run_id)) as { aliases: Record<string, string> };
        plan.aliases.x = "y";
        expect((await store.getRun(run.run_id)).artifact_ids).toEqual(["a", "b", "c"]);
        expect((await store.getRun(run.run_id)).runbook.name).toBe("Sample scan");
        expect(await store.getPlan(run.run_id)).toEqual(run.plan);
      });
    });

    describe("listing", () => {
      it("lists runs newest first, paginated with a cursor", async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const run = sampleRun();
          ids.push(run.run_id);
          await store.createRun(run, owner());
        }
        const newest = [...ids].reverse();
        const all = await store.listRuns();
        expect(all.runs.map((r) => r.run_id)).toEqual(newest);
        expect(all.next_cursor).toBeNull();

        const first = await store.listRuns({ limit: 2 });
        expect(first.runs.map((r) => r.run_id)).toEqual(newest.slice(0, 2));
        expect(first.next_cursor).toBe(newest[1]);
        const second = await store.listRuns({ limit: 2, cursor: first.next_cursor! });
        expect(second.runs.map((r) => r.run_id)).toEqual(newest.slice(2, 4));
        const third = await store.listRuns({ limit: 2, cursor: second.next_cursor! });
        expect(third.runs.map((r) => r.run_id)).toEqual(newest.slice(4));
        expect(third.next_cursor).toBeNull();
      });

      it("filters by status, runbook and start time", async () => {
        // Not UUIDv7 IDs: their start times are made up, so the IDs must not encode a time.
        const early = sampleRun({ run_id: "r1-early", started_at: "2026-01-01T00:00:00.000Z" });
        const late = sampleRun({
          run_id: "r2-late",
          started_at: "2026-03-01T00:00:00.000Z",
          runbook: { ...sampleRun().runbook, name: "Other" },
        });
        const done = sampleRun({ run_id: "r3-done", started_at: "2026-02-01T00:00:00.000Z" });
        const gone = owner(await deadPid());
        for (const run of [early, late, done]) await store.createRun(run, gone);
        await store.appendEvents(done.run_id, [
          event({ type: "run_finished", status: "completed" }),
        ]);

        const ids = async (filter: Parameters<ExecutionStore["listRuns"]>[0]) =>
          (await store.listRuns(filter)).runs.map((r) => r.run_id);
        expect(await ids({ status: "completed" })).toEqual([done.run_id]);
        expect(await ids({ status: "interrupted" })).toEqual([late.run_id, early.run_id]);
        expect(await ids({ runbook: "Other" })).toEqual([late.run_id]);
        expect(await ids({ since: "2026-02-01T00:00:00.000Z" })).toEqual([
          done.run_id,
          late.run_id,
        ]);
        expect(await ids({})).toEqual([done.run_id, late.run_id, early.run_id]);
        expect(await ids({ until: "2026-02-01T00:00:00.000Z" })).toEqual([early.run_id]);
        expect(await ids({ since: "2026-01-15T00:00:00Z", until: "2026-02-15T00:00:00Z" })).toEqual(
          [done.run_id],
        );
        const filtered = await store.listRuns({ status: "interrupted", limit: 1 });
        expect(filtered.runs.map((r) => r.run_id)).toEqual([late.run_id]);
        const rest = await store.listRuns({
          status: "interrupted",
          limit: 1,
          cursor: filtered.next_cursor!,
        });
        expect(rest.runs.map((r) => r.run_id)).toEqual([early.run_id]);
        // No next page is promised when no later run matches, though later runs exist.
        expect(rest.next_cursor).toBeNull();
        const last = await store.listRuns({ status: "completed", limit: 1 });
        expect(last.runs.map((r) => r.run_id)).toEqual([done.run_id]);
        expect(last.next_cursor).toBeNull();
      });

      it("rejects invalid filters", async () => {
        await expect(store.listRuns({ limit: 0 })).rejects.toBeInstanceOf(InputError);
        await expect(store.listRuns({ limit: 1.5 })).rejects.toBeInstanceOf(InputError);
        await expect(store.listRuns({ since: "yesterday-ish" })).rejects.toBeInstanceOf(InputError);
        await expect(
          store.listRuns({ status: "paused" as unknown as "running" }),
        ).rejects.toBeInstanceOf(InputError);
        await expect(store.listRuns({ cursor: "../x" })).rejects.toBeInstanceOf(InvalidKeyError);
      });

      it("resolves run ID prefixes", async () => {
        for (const id of ["run-aaa1", "run-aaa2", "run-b", "run-bc"]) {
          await store.createRun(sampleRun({ run_id: id }), owner());
        }
        expect(await store.resolveRunId("run-aaa1")).toBe("run-aaa1");
        expect(await store.resolveRunId("run-aaa2")).toBe("run-aaa2");
        expect(await store.resolveRunId("run-b")).toBe("run-b");
        expect(await store.resolveRunId("run-bc")).toBe("run-bc");
        const ambiguous = store.resolveRunId("run-a");
        await expect(ambiguous).rejects.toBeInstanceOf(InputError);
        await expect(store.resolveRunId("run-a")).rejects.toThrow(/run-aaa2, run-aaa1/);
        await expect(store.resolveRunId("run-z")).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(store.resolveRunId("../run")).rejects.toBeInstanceOf(InvalidKeyError);
      });

      it("resolves a unique prefix of a generated run ID", async () => {
        const run = sampleRun();
        await store.createRun(run, owner());
        expect(await store.resolveRunId(run.run_id.slice(0, 30))).toBe(run.run_id);
        // In upper case too (a UUID's hex digits are either case).
        expect(await store.resolveRunId(run.run_id.toUpperCase())).toBe(run.run_id);
        expect(await store.resolveRunId(run.run_id.slice(0, 30).toUpperCase())).toBe(run.run_id);
      });
    });

    describe("leases", () => {
      it("lets one owner hold a run and refuses another", async () => {
        const run = sampleRun();
        const first = owner();
        await store.createRun(run, first);
        const lease = (await store.getLease(run.run_id))!.lease;
        expect(lease).toMatchObject({ run_id: run.run_id, ...first });
        expect(await store.getLease(run.run_id)).toEqual({ lease, live: true });

        const second = owner();
        const attempt = store.acquireLease(run.run_id, second);
        await expect(attempt).rejects.toBeInstanceOf(ConflictError);
        await expect(store.acquireLease(run.run_id, second)).rejects.toThrow(
          `run ${run.run_id} is being executed by pid ${process.pid} on ${hostname()}`,
        );
        // The holder may take it again (its token matches).
        await store.acquireLease(run.run_id, first);
      });

      it("refreshes the heartbeat only for the holder", async () => {
        const run = sampleRun();
        const holder = owner();
        await store.createRun(run, holder);
        const { lease } = (await store.getLease(run.run_id))!;
        await new Promise((resolve) => setTimeout(resolve, 5));
        await store.heartbeat(run.run_id, holder);
        const after = await store.getLease(run.run_id);
        expect(after!.lease.token).toBe(holder.token);
        expect(Date.parse(after!.lease.heartbeat_at)).toBeGreaterThan(
          Date.parse(lease.heartbeat_at),
        );
        await expect(store.heartbeat(run.run_id, owner())).rejects.toBeInstanceOf(ConflictError);
      });

      it("appends for an owner only while it holds the lease, and then nothing", async () => {
        const run = sampleRun();
        const first = owner(await deadPid());
        await store.createRun(run, first);
        await store.appendEvents(
          run.run_id,
          [event({ type: "artifact_started", artifact_id: "a" })],
          first,
        );
        const next = owner();
        await store.acquireLease(run.run_id, next);
        const late = store.appendEvents(
          run.run_id,
          [event({ type: "artifact_started", artifact_id: "b" })],
          first,
        );
        await expect(late).rejects.toMatchObject({ code: "lease_lost" });
        await store.appendEvents(
          run.run_id,
          [event({ type: "artifact_started", artifact_id: "c" })],
          next,
        );
        const log = await store.readEvents(run.run_id);
        expect(log.map((e) => [e.seq, e.type === "artifact_started" && e.artifact_id])).toEqual([
          [1, "a"],
          [2, "c"],
        ]);
      });

      it("begins an attempt for an owner only while it holds the lease", async () => {
        const run = sampleRun();
        const first = owner(await deadPid());
        await store.createRun(run, first);
        const next = owner();
        await store.acquireLease(run.run_id, next);
        const update = { plan: { replanned: true }, runbook: run.runbook, argv: ["late"] };
        await expect(store.beginAttempt(run.run_id, update, first)).rejects.toMatchObject({
          code: "lease_lost",
        });
        expect((await store.getRun(run.run_id)).attempt).toBe(1);
        expect(await store.getPlan(run.run_id)).toEqual(run.plan);
        const begun = await store.beginAttempt(run.run_id, { ...update, argv: ["holder"] }, next);
        expect(begun.attempt).toBe(2);
        expect((await store.getRun(run.run_id)).argv).toEqual(["holder"]);
      });

      it("releases only the holder's lease", async () => {
        const run = sampleRun();
        const holder = owner();
        await store.createRun(run, holder);
        await store.releaseLease(run.run_id, owner());
        expect((await store.getLease(run.run_id))!.lease.token).toBe(holder.token);
        await store.releaseLease(run.run_id, holder);
        expect(await store.getLease(run.run_id)).toBeNull();
        await expect(store.heartbeat(run.run_id, holder)).rejects.toBeInstanceOf(ConflictError);
        await store.acquireLease(run.run_id, owner());
      });

      it("takes over a lease whose process has died", async () => {
        const run = sampleRun();
        await store.createRun(run, owner(await deadPid()));
        expect((await store.getLease(run.run_id))!.live).toBe(false);
        const next = owner();
        const lease = await store.acquireLease(run.run_id, next);
        expect(lease.token).toBe(next.token);
        expect(await store.getLease(run.run_id)).toEqual({ lease, live: true });
      });

      it("takes over a lease whose heartbeat is older than the TTL", async () => {
        const short = await factory({ leaseTtlMs: 1000 });
        const run = sampleRun();
        const stale = { pid: process.pid, host: "another-host", token: randomUUID() };
        await short.createRun(run, stale);
        await expect(short.acquireLease(run.run_id, owner())).rejects.toBeInstanceOf(ConflictError);
        await new Promise((resolve) => setTimeout(resolve, 1100));
        expect((await short.getLease(run.run_id))!.live).toBe(false);
        await expect(short.heartbeat(run.run_id, owner())).rejects.toBeInstanceOf(ConflictError);
        const next = owner();
        expect((await short.acquireLease(run.run_id, next)).token).toBe(next.token);
        await expect(short.heartbeat(run.run_id, stale)).rejects.toBeInstanceOf(ConflictError);
      });

      it("refuses to delete a run that holds a live lease, and deletes it otherwise", async () => {
        const run = sampleRun();
        const holder = owner();
        await store.createRun(run, holder);
        await store.appendEvents(run.run_id, [
          event({ type: "artifact_started", artifact_id: "a" }),
        ]);
        await expect(store.deleteRun(run.run_id)).rejects.toBeInstanceOf(ConflictError);
        expect((await store.getRun(run.run_id)).run_id).toBe(run.run_id);
        await store.releaseLease(run.run_id, holder);
        await store.deleteRun(run.run_id);
        await expect(store.getRun(run.run_id)).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(store.readEvents(run.run_id)).rejects.toBeInstanceOf(RunNotFoundError);
        expect((await store.listRuns()).runs).toEqual([]);
        // The ID is free again, with a fresh log.
        await store.createRun(run, holder);
        expect(await store.readEvents(run.run_id)).toEqual([]);
        await store.appendEvents(run.run_id, [
          event({ type: "artifact_started", artifact_id: "a" }),
        ]);
        expect((await store.readEvents(run.run_id)).map((e) => e.seq)).toEqual([1]);
      });

      it("names a run whose lease was taken to delete it as being deleted", async () => {
        const run = sampleRun();
        await store.createRun(run, { ...owner(), purpose: "delete" });
        const refused = await store.deleteRun(run.run_id).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(ConflictError);
        expect(refused).toMatchObject({ code: "run_deleting" });
        expect(String((refused as Error).message)).toMatch(/being deleted by pid \d+/);
        const executing = sampleRun();
        await store.createRun(executing, owner());
        await expect(store.deleteRun(executing.run_id)).rejects.toMatchObject({
          code: "lease_held",
        });
      });

      it("deletes a run whose lease holder has died", async () => {
        const run = sampleRun();
        await store.createRun(run, owner(await deadPid()));
        await store.deleteRun(run.run_id);
        await expect(store.getRun(run.run_id)).rejects.toBeInstanceOf(RunNotFoundError);
      });
    });

    it("rejects unsafe run IDs in every method with InvalidKeyError", async () => {
      const update = { plan: {}, runbook: sampleRun().runbook, argv: [] };
      for (const bad of UNSAFE_RUN_IDS) {
        const calls = [
          () => store.createRun(sampleRun({ run_id: bad }), owner()),
          () => store.appendEvents(bad, [event({ type: "artifact_started", artifact_id: "a" })]),
          () => store.readEvents(bad),
          () => store.getRun(bad),
          () => store.getRunDetails(bad),
          () => store.getPlan(bad),
          () => store.beginAttempt(bad, update),
          () => store.resolveRunId(bad),
          () => store.deleteRun(bad),
          () => store.acquireLease(bad, owner()),
          () => store.heartbeat(bad, owner()),
          () => store.checkLease(bad, owner()),
          () => store.releaseLease(bad, owner()),
          () => store.getLease(bad),
          () => store.listRuns({ cursor: bad }),
        ];
        for (const [index, call] of calls.entries()) {
          await expect(call(), `${JSON.stringify(bad)} call ${index}`).rejects.toBeInstanceOf(
            InvalidKeyError,
          );
        }
      }
    });
  });
}
