/**
 * The executor against real memory and filesystem stores, with small test components whose timing
 * and failures the tests control.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ComponentRegistry, Connector, Processor } from "../../src/components/types.js";
import { ConflictError, RunbookError, StoreError } from "../../src/errors.js";
import type { EngineEvent } from "../../src/execute/events.js";
import { type ExecuteOptions, executePlan, startKeptChecks } from "../../src/execute/executor.js";
import { createWorkerPool, type WorkerPool } from "../../src/execute/worker-pool.js";
import { sha256 } from "../../src/message.js";
import { prepareRunbook } from "../../src/plan/prepare.js";
import { createMemoryArtifactStore } from "../../src/stores/artifact/memory.js";
import type { ArtifactStore } from "../../src/stores/artifact/store.js";
import { createMemoryExecutionStore } from "../../src/stores/execution/memory.js";
import type { ExecutionStore } from "../../src/stores/execution/store.js";

const STANDARD = { name: "standard_input", version: "1.0.0" };
const timeline: Array<{ id: string; at: "start" | "end"; t: number }> = [];

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

const item = (content: string) => ({ content, metadata: { source: content } });

/** Emits one item after `delay_ms`; fails when `fail` is set. */
const emit: Connector = {
  kind: "connector",
  type: "emit",
  description: "test connector",
  properties: [],
  outputSchemas: [STANDARD],
  validateProperties: () => [],
  async extract(properties, schema, context) {
    const id = String(properties.value);
    timeline.push({ id, at: "start", t: performance.now() });
    await sleep(Number(properties.delay_ms ?? 0), context.signal);
    timeline.push({ id, at: "end", t: performance.now() });
    if (properties.fail && properties.fail !== "no") throw new Error(String(properties.fail));
    if (properties.warn) context.warn(String(properties.warn));
    return { schema, content: { schemaVersion: "1.0.0", name: id, data: [item(id)] } };
  },
};

/** Concatenates the items of its inputs. */
const concat: Processor = {
  kind: "processor",
  type: "concat",
  description: "test processor",
  properties: [],
  outputSchemas: [STANDARD],
  inputRequirements: [[STANDARD]],
  validateProperties: () => [],
  async process(inputs, properties, schema, context) {
    const id = String(properties.label ?? "concat");
    timeline.push({ id, at: "start", t: performance.now() });
    await sleep(Number(properties.delay_ms ?? 0), context.signal);
    timeline.push({ id, at: "end", t: performance.now() });
    if (properties.fail && properties.fail !== "no") throw new Error(String(properties.fail));
    const data = inputs.flatMap((m) => (m.content.data as unknown[]) ?? []);
    if (properties.invalid) return { schema, content: { data: "not a list" } };
    return { schema, content: { schemaVersion: "1.0.0", name: id, data } };
  },
  async prepare(properties) {
    prepared.push(String(properties.label ?? "concat"));
  },
};
/** Labels of the `concat` properties that `prepare` was called with. */
const prepared: string[] = [];

const registry: ComponentRegistry = {
  connectors: new Map([["emit", emit]]),
  processors: new Map([["concat", concat]]),
};

let dir: string;
let workers: WorkerPool;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-executor-"));
  workers = createWorkerPool(1);
});
afterAll(async () => {
  await workers.close();
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function setup(
  yaml: string,
  stores = { artifacts: createMemoryArtifactStore(), executions: createMemoryExecutionStore() },
  env: Record<string, string> = {},
) {
  const file = join(dir, `runbook-${counter++}.yaml`);
  await writeFile(file, yaml);
  const prepared = await prepareRunbook(file, registry, stores.executions, env);
  const events: EngineEvent[] = [];
  const options: ExecuteOptions = {
    plan: prepared.plan,
    planJson: prepared.planJson,
    runbook: {
      name: prepared.loaded.runbook.name,
      path: file,
      sha256: "x",
      text: prepared.loaded.text,
    },
    registry,
    ...stores,
    workers,
    substitutions: prepared.substitutions,
    origin: { tool_version: "test", user: "tester", host: "localhost", argv: [] },
    onEvent: (e) => events.push(e),
  };
  return { options, events, stores, prepared };
}

/** When the component of `id` started or ended, from the timeline. */
const at = (id: string, kind: "start" | "end") =>
  timeline.find((e) => e.id === id && e.at === kind)!.t;

/** The most components the timeline shows running at once. */
function peakRunning(): number {
  let running = 0;
  let peak = 0;
  for (const e of [...timeline].sort((x, y) => x.t - y.t)) {
    running += e.at === "start" ? 1 : -1;
    peak = Math.max(peak, running);
  }
  return peak;
}

const src = (id: string, extra = "") =>
  `  ${id}: {source: {type: emit, properties: {value: ${id}${extra}}}}\n`;
const head = (config = "") => `name: t\ndescription: test\n${config}artifacts:\n`;

describe("executor", () => {
  it("persists every artifact and a completed run record", async () => {
    const { options, stores } = await setup(
      `${head()}${src("a")}  b: {inputs: a, process: {type: concat}, output: true}\n`,
    );
    const result = await executePlan(options);
    expect(result.status).toBe("completed");
    const b = await stores.artifacts.get(result.runId, "b");
    expect(b.run_id).toBe(result.runId);
    expect(b.source).toBe("processor:concat");
    expect(b.content.data).toEqual([item("a")]);
    const details = await stores.executions.getRunDetails(result.runId);
    expect(details.status).toBe("completed");
    expect(details.counts.completed).toBe(2);
    expect(details.artifacts.every((a) => a.sha256 && a.bytes && a.schema)).toBe(true);
  });

  it("starts an artifact as soon as its own inputs are done, not level by level", async () => {
    timeline.length = 0;
    const { options } = await setup(
      `${head()}${src("fast", ", delay_ms: 10")}${src("slow", ", delay_ms: 400")}` +
        "  after_fast: {inputs: fast, process: {type: concat, properties: {label: after_fast}}}\n",
    );
    await executePlan(options);
    expect(at("after_fast", "start")).toBeLessThan(at("slow", "end"));
  });

  it("never runs more than max_concurrency artifacts at once", async () => {
    timeline.length = 0;
    const sources = Array.from({ length: 8 }, (_, i) => src(`s${i}`, ", delay_ms: 30")).join("");
    const { options } = await setup(`${head("config: {max_concurrency: 3}\n")}${sources}`);
    await executePlan(options);
    expect(peakRunning()).toBe(3);
  });

  it("starts the next components while finished ones are still being written", async () => {
    timeline.length = 0;
    // A memory store whose saves take 100 ms, as a slow disk would.
    const memory = createMemoryArtifactStore();
    let saving = 0;
    let peakSaving = 0;
    const slow: ArtifactStore = Object.assign(Object.create(memory) as ArtifactStore, {
      async save(...args: Parameters<ArtifactStore["save"]>) {
        peakSaving = Math.max(peakSaving, ++saving);
        await new Promise((resolve) => setTimeout(resolve, 100));
        saving--;
        return memory.save(...args);
      },
    });
    const sources = Array.from({ length: 12 }, (_, i) => src(`s${i}`, ", delay_ms: 5")).join("");
    const { options } = await setup(`${head("config: {max_concurrency: 2}\n")}${sources}`, {
      artifacts: slow,
      executions: createMemoryExecutionStore(),
    });
    const result = await executePlan(options);
    expect(result.status).toBe("completed");
    // s2 and s3 took the slots s0 and s1 let go of when their components ended, long before
    // their 100 ms saves were over.
    expect(at("s2", "start") - at("s0", "end")).toBeLessThan(60);
    expect(at("s3", "start") - at("s1", "end")).toBeLessThan(60);
    // Components still never exceed max_concurrency; artifacts in flight (producing or being
    // written) never exceed twice that.
    expect(peakRunning()).toBe(2);
    expect(peakSaving).toBeGreaterThan(2);
    expect(peakSaving).toBeLessThanOrEqual(4);
    // Each was stored before its completion was recorded.
    const details = await options.executions.getRunDetails(result.runId);
    expect(details.artifacts.every((a) => a.status === "completed")).toBe(true);
    for (const a of details.artifacts) {
      expect(sha256(await slow.getBytes(result.runId, a.id))).toBe(a.sha256);
    }
  });

  /** A memory store whose save of `key` takes `ms` and then, if `error` is given, fails. */
  function slowSaveOf(key: string, ms: number, error?: Error) {
    const memory = createMemoryArtifactStore();
    let savedAt = 0;
    const store: ArtifactStore = Object.assign(Object.create(memory) as ArtifactStore, {
      async save(...args: Parameters<ArtifactStore["save"]>) {
        if (args[1] === key) {
          await new Promise((resolve) => setTimeout(resolve, ms));
          savedAt = performance.now();
          if (error) throw error;
        }
        return memory.save(...args);
      },
    });
    return { store, savedAt: () => savedAt };
  }

  it("starts a reader on its input's output while the input is still being stored", async () => {
    timeline.length = 0;
    const slow = slowSaveOf("a", 200);
    const { options, events } = await setup(
      `${head()}${src("a")}  b: {inputs: a, process: {type: concat, properties: {label: b}}}\n`,
      { artifacts: slow.store, executions: createMemoryExecutionStore() },
    );
    const result = await executePlan(options);
    expect(result.status).toBe("completed");
    expect(at("b", "start")).toBeLessThan(slow.savedAt() - 100);
    // b is recorded only once a is: the log never shows a completed artifact whose input is not.
    const completed = events.filter((e) => e.type === "artifact_completed");
    expect(completed.map((e) => e.artifact_id)).toEqual(["a", "b"]);
    const b = await slow.store.get(result.runId, "b");
    expect(b.content.data).toEqual([item("a")]);
  });

  it("stores nothing when the run is taken over while an artifact is being written", async () => {
    const executions = createMemoryExecutionStore();
    const memory = createMemoryArtifactStore();
    const lost = new ConflictError("another process took the run over", { code: "lease_lost" });
    let takenOver = false;
    const owned: ExecutionStore = Object.assign(Object.create(executions) as ExecutionStore, {
      async checkLease(...args: Parameters<ExecutionStore["checkLease"]>) {
        if (takenOver) throw lost;
        return executions.checkLease(...args);
      },
    });
    const artifacts: ArtifactStore = Object.assign(Object.create(memory) as ArtifactStore, {
      save(...args: Parameters<ArtifactStore["save"]>) {
        // As if another process took the run over while this one serialised and wrote.
        takenOver = true;
        return memory.save(...args);
      },
    });
    const { options, events } = await setup(`${head()}${src("a")}`, {
      artifacts,
      executions: owned,
    });
    await expect(executePlan(options)).rejects.toBe(lost);
    const runId = events.find((e) => e.type === "run_started")!.run_id;
    expect(await memory.exists(runId, "a")).toBe(false);
    const recorded = await executions.readEvents(runId);
    expect(recorded.filter((e) => e.type === "artifact_completed")).toEqual([]);
  });

  it("hands a reader its input before the input is serialised for the store", async () => {
    timeline.length = 0;
    const memory = createMemoryArtifactStore();
    const saveCalled = new Map<string, number>();
    // Records when the executor asks to store each artifact: serialising starts right there.
    const store: ArtifactStore = Object.assign(Object.create(memory) as ArtifactStore, {
      save(...args: Parameters<ArtifactStore["save"]>) {
        saveCalled.set(args[1], performance.now());
        return memory.save(...args);
      },
    });
    const { options } = await setup(
      `${head()}${src("a")}  b: {inputs: a, process: {type: concat, properties: {label: b}}}\n`,
      { artifacts: store, executions: createMemoryExecutionStore() },
    );
    const result = await executePlan(options);
    expect(result.status).toBe("completed");
    expect(at("b", "start")).toBeLessThan(saveCalled.get("a")!);
  });

  // b ends before a's storing fails (and waits for it), or after it.
  it.each([0, 300])(
    "skips a reader that started on an input whose storing then failed (reader takes %i ms)",
    async (delay) => {
      timeline.length = 0;
      const broken = new StoreError("Cannot write artifact a.json: EIO: i/o error");
      const slow = slowSaveOf("a", 150, broken);
      const { options } = await setup(
        `${head()}${src("a")}  b: {inputs: a, process: {type: concat, properties: {label: b, delay_ms: ${delay}}}}\n` +
          "  c: {inputs: b, process: {type: concat, properties: {label: c}}}\n",
        { artifacts: slow.store, executions: createMemoryExecutionStore() },
      );
      const result = await executePlan(options);
      expect(result.status).toBe("failed");
      expect(at("b", "start")).toBeLessThan(slow.savedAt());
      const details = await options.executions.getRunDetails(result.runId);
      const status = Object.fromEntries(details.artifacts.map((x) => [x.id, x.status]));
      expect(status).toEqual({ a: "failed", b: "skipped", c: "skipped" });
      const events = await options.executions.readEvents(result.runId);
      expect(events.filter((e) => e.type === "artifact_completed")).toEqual([]);
      expect(await slow.store.exists(result.runId, "b")).toBe(false);
    },
  );

  it("stops the run once its events cannot be recorded, and raises the store's error", async () => {
    timeline.length = 0;
    // An event log that refuses a's completion, as a full disk would.
    const memory = createMemoryExecutionStore();
    const full = new StoreError("Cannot append to events.jsonl: ENOSPC: no space left on device");
    const executions: ExecutionStore = Object.assign(Object.create(memory) as ExecutionStore, {
      async appendEvents(...args: Parameters<ExecutionStore["appendEvents"]>) {
        const [, events] = args;
        if (events.some((e) => e.type === "artifact_completed" && e.artifact_id === "a")) {
          throw full;
        }
        return memory.appendEvents(...args);
      },
    });
    const { options } = await setup(
      `${head("config: {max_concurrency: 1}\n")}${src("a")}${src("b", ", delay_ms: 50")}${src("c")}`,
      { artifacts: createMemoryArtifactStore(), executions },
    );
    await expect(executePlan(options)).rejects.toBe(full);
    // b had started (a's slot was free once a was stored) and was cut short; c never started.
    expect(timeline.some((e) => e.id === "b" && e.at === "end")).toBe(false);
    expect(timeline.some((e) => e.id === "c")).toBe(false);
  });

  it("lets many components listen to the run's abort signal without a warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const sources = Array.from({ length: 15 }, (_, i) => src(`w${i}`, ", delay_ms: 20")).join("");
      const { options } = await setup(`${head("config: {max_concurrency: 15}\n")}${sources}`);
      expect((await executePlan(options)).status).toBe("completed");
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
  });

  it("skips the dependents of a failed artifact while independent branches complete", async () => {
    const { options, stores } = await setup(
      `${head()}${src("bad", ", fail: boom")}${src("good")}` +
        "  child: {inputs: bad, process: {type: concat}}\n  grandchild: {inputs: child, process: {type: concat}}\n" +
        "  fine: {inputs: good, process: {type: concat}}\n",
    );
    const result = await executePlan(options);
    expect(result.status).toBe("failed");
    const states = Object.fromEntries(
      (await stores.executions.getRunDetails(result.runId)).artifacts.map((a) => [a.id, a]),
    );
    expect(states.bad!.status).toBe("failed");
    expect(states.bad!.error).toContain("boom");
    expect(states.child!.status).toBe("skipped");
    expect(states.grandchild!.status).toBe("skipped");
    expect(states.child!.because).toBe("bad failed");
    expect(states.fine!.status).toBe("completed");
  });

  it("does not fail the run for an optional artifact", async () => {
    const { options } = await setup(
      `${head()}  bad: {source: {type: emit, properties: {value: bad, fail: boom}}, optional: true}\n${src("good")}`,
    );
    expect((await executePlan(options)).status).toBe("completed");
  });

  it("fails an artifact whose output does not match its schema, before storing it", async () => {
    const { options, stores } = await setup(
      `${head()}${src("a")}  b: {inputs: a, process: {type: concat, properties: {invalid: true}}}\n`,
    );
    const result = await executePlan(options);
    expect(result.status).toBe("failed");
    const b = (await stores.executions.getRunDetails(result.runId)).artifacts.find(
      (a) => a.id === "b",
    )!;
    expect(b.error).toMatch(/does not match schema standard_input\/1\.0\.0/);
    expect(await stores.artifacts.exists(result.runId, "b")).toBe(false);
  });

  it("ends a timed-out run interrupted, never completed", async () => {
    const { options, stores } = await setup(
      `${head("config: {timeout: '${LIMIT}'}\n")}${src("slow", ", delay_ms: 5000")}${src("quick")}  after: {inputs: slow, process: {type: concat}}\n`,
      undefined,
      { LIMIT: "1" },
    );
    const result = await executePlan(options);
    expect(result.status).toBe("interrupted");
    // The limit came from the environment: the reason names its placeholder, not its value.
    expect(result.reason).toBe("timed out after ${LIMIT} s");
    const details = await stores.executions.getRunDetails(result.runId);
    expect(details.status).toBe("interrupted");
    const byId = Object.fromEntries(details.artifacts.map((a) => [a.id, a.status]));
    expect(byId).toEqual({ slow: "skipped", quick: "completed", after: "skipped" });
    const because = Object.fromEntries(details.artifacts.map((a) => [a.id, a.because]));
    expect(because).toMatchObject({
      slow: "timed out after ${LIMIT} s while it ran",
      after: "timed out after ${LIMIT} s",
    });
  });

  it("stops on an abort signal (SIGINT) and records the run interrupted", async () => {
    const controller = new AbortController();
    const { options } = await setup(`${head()}${src("slow", ", delay_ms: 5000")}`);
    setTimeout(() => controller.abort("stopped by the test"), 100);
    const result = await executePlan({ ...options, signal: controller.signal });
    expect(result.status).toBe("interrupted");
    expect(result.reason).toBe("stopped by the test");
    expect(result.durationSeconds).toBeLessThan(3);
  });

  it("prepares each processor once per distinct properties when the run starts", async () => {
    const { options } = await setup(
      `${head()}${src("a")}${src("b")}` +
        "  x: {inputs: a, process: {type: concat, properties: {label: one}}}\n" +
        "  y: {inputs: b, process: {type: concat, properties: {label: one}}}\n" +
        "  z: {inputs: b, process: {type: concat, properties: {label: two}}}\n",
    );
    prepared.length = 0;
    expect((await executePlan(options)).status).toBe("completed");
    expect(prepared.sort()).toEqual(["one", "two"]);
  });

  it("emits events in order with warnings from components", async () => {
    const { options, events } = await setup(`${head()}${src("a", ", warn: careful")}`);
    await executePlan(options);
    expect(events.map((e) => e.type)).toEqual([
      "run_started",
      "artifact_started",
      "artifact_warning",
      "artifact_completed",
      "run_finished",
    ]);
  });

  it("resumes a failed run: re-executes failed and skipped artifacts, keeps completed ones", async () => {
    timeline.length = 0;
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const yaml = (fail: boolean) =>
      `${head()}${src("a")}  b: {source: {type: emit, properties: {value: b${fail ? ", fail: '${FAIL}'" : ""}}}}\n  c: {inputs: [a, b], process: {type: concat, properties: {label: c}}}\n`;
    const first = await setup(yaml(true), stores, { FAIL: "boom" });
    const failed = await executePlan(first.options);
    expect(failed.status).toBe("failed");
    // Same runbook, the environment no longer makes b fail.
    const again = await setup(yaml(true), stores, { FAIL: "no" });
    timeline.length = 0;
    const resumed = await executePlan({ ...again.options, resumeRunId: failed.runId });
    expect(resumed.runId).toBe(failed.runId);
    expect(resumed.status).toBe("completed");
    expect(resumed.kept).toEqual(["a"]);
    expect(timeline.some((e) => e.id === "a")).toBe(false);
    const details = await stores.executions.getRunDetails(failed.runId);
    expect(details.attempt).toBe(2);
    expect(details.counts.completed).toBe(3);
  });

  it("re-executes on resume a completed artifact whose stored bytes no longer match, and its dependents", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const yaml = `${head()}${src("a")}${src("b")}  c: {inputs: a, process: {type: concat, properties: {label: c}}}\n  d: {inputs: b, process: {type: concat, properties: {label: d, fail: '\${FAIL}'}}}\n`;
    const first = await setup(yaml, stores, { FAIL: "boom" });
    const failed = await executePlan(first.options);
    expect(failed.status).toBe("failed");
    // a's stored bytes change after the run recorded their sha256.
    const stored = await stores.artifacts.get(failed.runId, "a");
    await stores.artifacts.save(failed.runId, "a", { ...stored, content: { tampered: true } });

    const again = await setup(yaml, stores, { FAIL: "no" });
    timeline.length = 0;
    const resumed = await executePlan({ ...again.options, resumeRunId: failed.runId });
    expect(resumed.status).toBe("completed");
    // c was derived from a's old bytes: it runs again with a.
    expect(resumed.kept.sort()).toEqual(["b"]);
    // The user is told why a kept artifact ran again.
    const warnings = again.events.filter((e) => e.type === "artifact_warning");
    warnings.sort((x, y) => (x.artifact_id < y.artifact_id ? -1 : 1));
    expect(warnings).toEqual([
      expect.objectContaining({
        artifact_id: "a",
        message: expect.stringMatching(
          /^runs again: its stored file failed its check \(.*do not match the recorded sha256/,
        ),
      }),
      expect.objectContaining({
        artifact_id: "c",
        message: "runs again: 'a', which it is derived from, runs again",
      }),
    ]);
    const ran = timeline.filter((e) => e.at === "start").map((e) => e.id);
    expect(ran.sort()).toEqual(["a", "c", "d"]);
    const details = await stores.executions.getRunDetails(failed.runId);
    expect(details.counts.completed).toBe(4);
    const a = details.artifacts.find((x) => x.id === "a")!;
    const bytes = await stores.artifacts.getBytes(failed.runId, "a");
    expect(a.sha256).toBe(sha256(bytes));
  });

  it("runs again, on resume, what derives from an artifact its log holds no completion of", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const yaml = `${head("config: {timeout: 20}\n")}${src("a")}${src("b")}  c: {inputs: a, process: {type: concat, properties: {label: c}}}\n  d: {inputs: b, process: {type: concat, properties: {label: d, fail: '\${FAIL}'}}}\n`;
    const first = await setup(yaml, stores, { FAIL: "boom" });
    const failed = await executePlan(first.options);
    expect(failed.status).toBe("failed");
    // A damaged log: a's completion is followed by a start that never ended, c's stays.
    await stores.executions.appendEvents(failed.runId, [
      {
        type: "artifact_started",
        artifact_id: "a",
        event_id: randomUUID(),
        at: new Date().toISOString(),
      } as never,
    ]);

    const again = await setup(yaml, stores, { FAIL: "no" });
    timeline.length = 0;
    const resumed = await executePlan({ ...again.options, resumeRunId: failed.runId });
    expect(resumed.status).toBe("completed");
    expect(resumed.kept).toEqual(["b"]);
    const ran = timeline.filter((e) => e.at === "start").map((e) => e.id);
    expect(ran.sort()).toEqual(["a", "c", "d"]);
  });

  it("records a dependent of an artifact that runs again as not done at once, so a stop cannot keep it", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const yaml = `${head()}${src("a", ", delay_ms: '${DELAY}'")}  c: {inputs: a, process: {type: concat, properties: {label: c}}}\n  d: {source: {type: emit, properties: {value: d, fail: '\${FAIL}'}}}\n`;
    const first = await setup(yaml, stores, { FAIL: "boom", DELAY: "0" });
    const failed = await executePlan(first.options);
    expect(failed.status).toBe("failed");
    const stored = await stores.artifacts.get(failed.runId, "a");
    await stores.artifacts.save(failed.runId, "a", { ...stored, content: { tampered: true } });
    // a runs again, slowly, and c's own check is slow (a big artifact): the run is stopped
    // while c is still being checked.
    const slowC = new Proxy(stores.artifacts, {
      get(target, name) {
        const value = Reflect.get(target, name) as unknown;
        if (typeof value !== "function") return value;
        if (name !== "digest") return value.bind(target);
        return async (runId: string, key: string) => {
          if (key === "c") await new Promise((r) => setTimeout(r, 600));
          return value.call(target, runId, key);
        };
      },
    });
    const again = await setup(yaml, stores, { FAIL: "no", DELAY: "2000" });
    const controller = new AbortController();
    setTimeout(() => controller.abort("stopped by the test"), 300);
    const stopped = await executePlan({
      ...again.options,
      artifacts: slowC,
      resumeRunId: failed.runId,
      signal: controller.signal,
    });
    expect(stopped.status).toBe("interrupted");
    expect(stopped.kept).toEqual([]);
    const states = (await stores.executions.getRunDetails(failed.runId)).artifacts;
    expect(states.find((x) => x.id === "c")?.status).toBe("skipped");
    // The next resume runs c again, on a's new bytes.
    const third = await setup(yaml, stores, { FAIL: "no", DELAY: "0" });
    timeline.length = 0;
    const resumed = await executePlan({ ...third.options, resumeRunId: failed.runId });
    expect(resumed.status).toBe("completed");
    expect(resumed.kept).not.toContain("c");
    expect(timeline.filter((e) => e.at === "start").map((e) => e.id)).toContain("c");
  });

  it("uses kept-artifact checks started before the lease, unless the artifact was recorded anew", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const yaml = `${head()}${src("a")}${src("k")}  b: {source: {type: emit, properties: {value: b, fail: '\${FAIL}'}}}\n`;
    const first = await setup(yaml, stores, { FAIL: "boom" });
    const failed = await executePlan(first.options);
    expect(failed.status).toBe("failed");
    const digested: string[] = [];
    const counted = new Proxy(stores.artifacts, {
      get(target, name) {
        const value = Reflect.get(target, name) as unknown;
        if (name === "digest") {
          return (runId: string, key: string) => {
            digested.push(key);
            return target.digest(runId, key);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const keptChecks = startKeptChecks(counted, stores.executions, failed.runId);
    const early = await keptChecks;
    await Promise.all([...early.values()].map((c) => c.check));
    expect(digested.sort()).toEqual(["a", "k"]);
    // Meanwhile a is recorded anew (as by another attempt), with other bytes than stored.
    await stores.executions.appendEvents(failed.runId, [
      {
        type: "artifact_completed",
        artifact_id: "a",
        event_id: randomUUID(),
        at: new Date().toISOString(),
        sha256: "0".repeat(64),
        bytes: 1,
        schema: STANDARD,
        duration_seconds: 0,
      },
    ]);

    const again = await setup(yaml, { ...stores, artifacts: counted }, { FAIL: "no" });
    timeline.length = 0;
    const resumed = await executePlan({ ...again.options, resumeRunId: failed.runId, keptChecks });
    expect(resumed.status).toBe("completed");
    // k's early check counted; a was checked again, against its new record, and ran again.
    expect(digested.sort()).toEqual(["a", "a", "k"]);
    expect(resumed.kept).toEqual(["k"]);
    expect(
      timeline
        .filter((e) => e.at === "start")
        .map((e) => e.id)
        .sort(),
    ).toEqual(["a", "b"]);
  });

  it("stops a resume whose store cannot check the kept artifacts, keeping their records", async () => {
    const memory = createMemoryArtifactStore();
    let broken = false;
    const artifacts: ArtifactStore = Object.assign(Object.create(memory) as ArtifactStore, {
      async digest(...args: Parameters<ArtifactStore["digest"]>) {
        if (broken) throw new Error("The worker pool is closed.");
        return memory.digest(...args);
      },
    });
    const stores = { artifacts, executions: createMemoryExecutionStore() };
    const yaml = `${head()}${src("a")}  b: {source: {type: emit, properties: {value: b, fail: '\${FAIL}'}}}\n`;
    const first = await setup(yaml, stores, { FAIL: "boom" });
    const failed = await executePlan(first.options);
    expect(failed.status).toBe("failed");

    broken = true;
    const again = await setup(yaml, stores, { FAIL: "no" });
    timeline.length = 0;
    const resumed = await executePlan({ ...again.options, resumeRunId: failed.runId });
    expect(resumed.status).toBe("interrupted");
    expect(resumed.reason).toBe("cannot check the stored artifact 'a': The worker pool is closed.");
    // a was neither re-run nor marked anything but completed, and the run resumes later.
    expect(timeline.some((e) => e.id === "a")).toBe(false);
    const details = await stores.executions.getRunDetails(failed.runId);
    expect(details.artifacts.find((x) => x.id === "a")!.status).toBe("completed");
    broken = false;
    const later = await setup(yaml, stores, { FAIL: "no" });
    const finished = await executePlan({ ...later.options, resumeRunId: failed.runId });
    expect(finished.status).toBe("completed");
    expect(finished.kept).toContain("a");
    expect(timeline.some((e) => e.id === "a")).toBe(false);
  });

  it("reports a finished run while it still holds it: a delete meanwhile is refused", async () => {
    const { options, stores } = await setup(`${head()}${src("a")}`);
    let during: unknown;
    let recorded = "";
    const result = await executePlan({
      ...options,
      whileHeld: async (finished) => {
        recorded = (await stores.executions.getRun(finished.runId)).status;
        during = await stores.executions.deleteRun(finished.runId).catch((error) => error);
      },
    });
    expect(recorded).toBe("completed");
    expect(during).toBeInstanceOf(ConflictError);
    // Released once the report is done.
    await stores.executions.deleteRun(result.runId);
  });

  it("says the work is done once every artifact has ended, before the run's end is recorded", async () => {
    const { options, stores } = await setup(
      `${head()}${src("done_a", ", delay_ms: 20")}${src("done_b", ", fail: boom")}  done_c: {inputs: done_b, process: {type: concat}}\n`,
    );
    let ended: string[] = [];
    let status = "";
    let runId = "";
    const result = await executePlan({
      ...options,
      onRunCreated: (id) => {
        runId = id;
      },
      onWorkDone: () => {
        ended = timeline.filter((e) => e.at === "end").map((e) => e.id);
        void stores.executions.getRun(runId).then((run) => {
          status = run.status;
        });
      },
    });
    expect(result.status).toBe("failed");
    expect(ended).toEqual(expect.arrayContaining(["done_a", "done_b"]));
    expect(status).toBe("running");
  });

  it("tells the run ID once the run is its own, before its first event, on a resume too", async () => {
    const first = await setup(`${head()}${src("a")}${src("b", ", fail: boom")}`);
    const told: string[] = [];
    const failed = await executePlan({
      ...first.options,
      onRunCreated: (id) => told.push(`created ${id} after ${first.events.length} events`),
    });
    expect(told).toEqual([`created ${failed.runId} after 0 events`]);
    // The same runbook (b fails again): what matters is when the resume tells its run ID.
    const again = await setup(`${head()}${src("a")}${src("b", ", fail: boom")}`, first.stores);
    const resumed = await executePlan({
      ...again.options,
      resumeRunId: failed.runId,
      onRunCreated: (id) => told.push(`resumed ${id} after ${again.events.length} events`),
    });
    expect(resumed.runId).toBe(failed.runId);
    expect(told[1]).toBe(`resumed ${failed.runId} after 0 events`);
  });

  it("gives a copy its source's content and this run's execution details", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    await writeFile(
      join(dir, "reused-child.yaml"),
      "name: c\ndescription: child\ninputs:\n  data: {input_schema: standard_input}\n" +
        "outputs:\n  result: {artifact: passed}\nartifacts:\n  passed: {inputs: data}\n",
    );
    const first = await executePlan(
      (
        await setup(
          `${head()}${src("a")}  scan: {inputs: a, child_runbook: {path: reused-child.yaml, input_mapping: {data: a}, output: result}}\n`,
          stores,
        )
      ).options,
    );
    const [childId] = (await stores.artifacts.listKeys(first.runId)).filter((k) => k !== "a");
    const source = await stores.artifacts.get(first.runId, childId!);
    expect(source.extensions?.execution?.origin).toBe("child:scan");
    const second = await setup(
      `${head()}  copy: {reuse: {from_run: '${first.runId}', artifact: ${childId}}}\n`,
      stores,
    );
    const result = await executePlan(second.options);
    const copied = await stores.artifacts.get(result.runId, "copy");
    expect(copied.content).toEqual(source.content);
    expect(copied).toMatchObject({
      run_id: result.runId,
      source: `reuse:${first.runId}/${childId}`,
      extensions: { execution: { status: "success", origin: "parent", alias: null } },
    });
  });

  it("fails a reuse whose source bytes no longer match their recorded sha256, copying nothing", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const first = await executePlan((await setup(`${head()}${src("a")}`, stores)).options);
    const stored = await stores.artifacts.get(first.runId, "a");
    await stores.artifacts.save(first.runId, "a", { ...stored, content: { tampered: true } });
    const second = await setup(
      `${head()}  copy: {reuse: {from_run: '${first.runId}', artifact: a}}\n`,
      stores,
    );
    const result = await executePlan(second.options);
    expect(result.status).toBe("failed");
    const copy = (await stores.executions.getRunDetails(result.runId)).artifacts[0]!;
    expect(copy).toMatchObject({ id: "copy", status: "failed" });
    expect(copy.error).toMatch(/do not match the recorded sha256.*wct runs verify/);
    expect(await stores.artifacts.exists(result.runId, "copy")).toBe(false);
  });

  it("refuses to resume when the runbook changed, naming the changed artifacts", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const first = await setup(`${head()}${src("a")}${src("b", ", fail: boom")}`, stores);
    const failed = await executePlan(first.options);
    const changed = await setup(
      `${head()}${src("a", ", delay_ms: 1")}${src("b", ", fail: boom")}`,
      stores,
    );
    const attempt = executePlan({ ...changed.options, resumeRunId: failed.runId });
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toThrow(/artifacts changed: a\b/);
  });

  it("reuses an artifact of an earlier run with provenance, and rejects unknown ones at plan time", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const first = await executePlan((await setup(`${head()}${src("a")}`, stores)).options);
    const second = await setup(
      `${head()}  copy: {reuse: {from_run: '${first.runId}', artifact: a}}\n  next: {inputs: copy, process: {type: concat}}\n`,
      stores,
    );
    const result = await executePlan(second.options);
    expect(result.status).toBe("completed");
    const copy = (await stores.executions.getRunDetails(result.runId)).artifacts.find(
      (a) => a.id === "copy",
    )!;
    const original = (await stores.executions.getRunDetails(first.runId)).artifacts.find(
      (a) => a.id === "a",
    )!;
    expect(copy.provenance).toEqual({
      from_run: first.runId,
      from_artifact: "a",
      sha256: original.sha256,
    });
    expect((await stores.artifacts.get(result.runId, "next")).content.data).toEqual([item("a")]);

    await expect(
      setup(`${head()}  copy: {reuse: {from_run: '${first.runId}', artifact: nope}}\n`, stores),
    ).rejects.toThrow(/has no artifact 'nope'/);
    await expect(
      setup(`${head()}  copy: {reuse: {from_run: '../../etc', artifact: a}}\n`, stores),
    ).rejects.toBeInstanceOf(RunbookError);
  });

  it("never persists a value substituted from the environment", async () => {
    const stores = {
      artifacts: createMemoryArtifactStore(),
      executions: createMemoryExecutionStore(),
    };
    const { options } = await setup(
      `${head()}  a: {source: {type: emit, properties: {value: a, fail: 'cannot log in with \${SECRET_TOKEN}'}}}\n`,
      stores,
      { SECRET_TOKEN: "hunter2-very-secret" },
    );
    const result = await executePlan(options);
    const persisted = JSON.stringify([
      await stores.executions.getRunDetails(result.runId),
      await stores.executions.getPlan(result.runId),
      await stores.executions.readEvents(result.runId),
    ]);
    expect(persisted).toContain("${SECRET_TOKEN}");
    expect(persisted).not.toContain("hunter2-very-secret");
  });
});
