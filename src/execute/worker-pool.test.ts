import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { interruptBudgetRaised } from "./interrupt-budget.js";
import { createWorkerPool, TASKS_PER_WORKER, type WorkerPool } from "./worker-pool.js";

// Task modules are data: URLs so the test needs no fixture files; the pool imports them like any module.
const tasks = `data:text/javascript,${encodeURIComponent(`
export async function spin(iterations) {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x * 31 + i) | 0;
  return x;
}
export async function fail(message) { throw new TypeError(message); }
export async function sleep(ms) { await new Promise((r) => setTimeout(r, ms)); return ms; }
/** Busy for ms; when it started and ended, in ms since the epoch (comparable across threads). */
export async function busy(ms) {
  const now = () => performance.timeOrigin + performance.now();
  const start = now();
  while (now() - start < ms);
  return [start, now()];
}
export async function echo(value) { return value; }
/**
 * Busy for \`iterations\`, then waits (up to 10 s) until \`parties\` tasks have reached this
 * point: true when they met, which they can only do running at the same time.
 */
export async function meet({ buffer, iterations, parties }) {
  await spin(iterations);
  const count = new Int32Array(buffer);
  Atomics.add(count, 0, 1);
  Atomics.notify(count, 0);
  const deadline = Date.now() + 10_000;
  for (let seen = Atomics.load(count, 0); seen < parties; seen = Atomics.load(count, 0)) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(count, 0, seen, left);
  }
  const { threadId } = await import("node:worker_threads");
  return threadId;
}
export async function crash() {
  setImmediate(() => { throw new Error("boom"); });
  return new Promise(() => {});
}
export async function unclonable() { return () => 1; }
export async function threadId() {
  const { threadId } = await import("node:worker_threads");
  return threadId;
}
`)}`;

let pool: WorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

function timed<T>(fn: () => Promise<T>): Promise<number> {
  const start = performance.now();
  return fn().then(() => performance.now() - start);
}

describe("createWorkerPool", () => {
  it("runs a named task and returns its result", async () => {
    pool = createWorkerPool(2);
    expect(pool.size).toBe(2);
    await expect(pool.run<number>(tasks, "sleep", 5)).resolves.toBe(5);
  });

  it("runs TypeScript worker modules from sources (tsx loader in the worker)", async () => {
    pool = createWorkerPool(1);
    const entry = new URL("./worker-tasks.ts", import.meta.url).href;
    // worker-tasks.ts is TypeScript; importing it inside a worker proves the loader is active.
    await expect(pool.run(entry, "missing", null)).rejects.toThrow(/has no task 'missing'/);
  });

  it("runs two CPU-bound tasks at the same time, on two threads", async () => {
    pool = createWorkerPool(2);
    // Each task spins, then waits for the other at a rendezvous in shared memory: run one after
    // the other, the first would wait in vain (10 s) and answer false.
    const payload = { buffer: new SharedArrayBuffer(4), iterations: 20_000_000, parties: 2 };
    const met = await Promise.all([
      pool.run<number | false>(tasks, "meet", payload),
      pool.run<number | false>(tasks, "meet", payload),
    ]);
    expect(met.every((threadId) => typeof threadId === "number")).toBe(true);
    expect(met[0]).not.toBe(met[1]);
  });

  it("reuses workers and never starts more than its size", async () => {
    pool = createWorkerPool(2);
    const ids = await Promise.all(
      Array.from({ length: 8 }, () => pool!.run<number>(tasks, "threadId", null)),
    );
    expect(new Set(ids).size).toBeLessThanOrEqual(2);
  });

  it("propagates a task's error with its message and name", async () => {
    pool = createWorkerPool(1);
    await expect(pool.run(tasks, "fail", "bad input")).rejects.toMatchObject({
      message: "bad input",
      name: "TypeError",
    });
    // The worker survives a failed task.
    await expect(pool.run(tasks, "sleep", 1)).resolves.toBe(1);
  });

  it("aborts a task still in the pool's queue, behind what its worker holds", async () => {
    pool = createWorkerPool(1);
    const controller = new AbortController();
    const held = Array.from({ length: TASKS_PER_WORKER }, () => pool!.run(tasks, "sleep", 50));
    const queued = pool.run(tasks, "sleep", 10, controller.signal);
    controller.abort(new Error("cancelled"));
    await expect(queued).rejects.toThrow("cancelled");
    await expect(Promise.all(held)).resolves.toEqual(held.map(() => 50));
  });

  it("hands a busy worker its next task, which it starts while the main thread is blocked", async () => {
    pool = createWorkerPool(1);
    await pool.run(tasks, "sleep", 1);
    const first = pool.run<[number, number]>(tasks, "busy", 50);
    const second = pool.run<[number, number]>(tasks, "busy", 50);
    const blockedUntil = performance.timeOrigin + performance.now() + 250;
    while (performance.timeOrigin + performance.now() < blockedUntil);
    const [[, firstEnd], [secondStart]] = await Promise.all([first, second]);
    expect(secondStart).toBeGreaterThanOrEqual(firstEnd);
    expect(secondStart).toBeLessThan(blockedUntil);
  });

  it("never runs a task aborted while it waited in a worker's queue, and runs the others", async () => {
    pool = createWorkerPool(1);
    const controller = new AbortController();
    await pool.run(tasks, "sleep", 1);
    const running = pool.run(tasks, "sleep", 100);
    // Were it run, this one would never end: the test would time out.
    const waiting = pool.run(tasks, "spin", 1e12, controller.signal);
    const after = pool.run(tasks, "sleep", 5);
    controller.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    await expect(running).resolves.toBe(100);
    await expect(after).resolves.toBe(5);
  });

  it("charges a crash to the task that crashed, not to one answered just before", async () => {
    pool = createWorkerPool(1);
    await pool.run(tasks, "sleep", 1);
    for (let round = 0; round < 10; round++) {
      const before = pool.run(tasks, "echo", round);
      const crashing = pool.run(tasks, "crash", null);
      const after = pool.run(tasks, "echo", -round);
      await expect(before).resolves.toBe(round);
      await expect(crashing).rejects.toThrow("boom");
      await expect(after).resolves.toBe(-round);
    }
  });

  it("fails alone a task whose payload or result cannot be copied between threads", async () => {
    pool = createWorkerPool(1);
    // Expectations attached at once: a payload that cannot be copied fails its task right away.
    await Promise.all([
      expect(pool.run(tasks, "echo", 1)).resolves.toBe(1),
      expect(pool.run(tasks, "echo", () => 1)).rejects.toThrow(/could not be cloned/),
      expect(pool.run(tasks, "unclonable", null)).rejects.toThrow(/could not be cloned/),
      expect(pool.run(tasks, "echo", 2)).resolves.toBe(2),
    ]);
  });

  it("aborts a running task by replacing its worker", async () => {
    pool = createWorkerPool(1);
    const controller = new AbortController();
    const first = await pool.run<number>(tasks, "threadId", null);
    const endless = pool.run(tasks, "spin", 1e12, controller.signal);
    setTimeout(() => controller.abort(new Error("stop")), 50);
    const elapsed = await timed(() => endless.catch((e: Error) => expect(e.message).toBe("stop")));
    expect(elapsed).toBeLessThan(5_000);
    const second = await pool.run<number>(tasks, "threadId", null);
    expect(second).not.toBe(first);
  });

  it("runs on a new worker the tasks that a replaced worker held next", async () => {
    pool = createWorkerPool(1);
    const controller = new AbortController();
    await pool.run(tasks, "sleep", 1);
    const endless = pool.run(tasks, "spin", 1e12, controller.signal);
    const next = pool.run(tasks, "sleep", 5);
    setTimeout(() => controller.abort(new Error("stop")), 50);
    await expect(endless).rejects.toThrow("stop");
    await expect(next).resolves.toBe(5);
  });

  it("rejects an already aborted signal and tasks after close", async () => {
    pool = createWorkerPool(1);
    await expect(
      pool.run(tasks, "sleep", 1, AbortSignal.abort(new Error("early"))),
    ).rejects.toThrow("early");
    const running = expect(pool.run(tasks, "sleep", 100)).rejects.toThrow(/closed/);
    const queued = expect(pool.run(tasks, "sleep", 1)).rejects.toThrow(/closed/);
    await pool.close();
    await running;
    await queued;
    await expect(pool.run(tasks, "sleep", 1)).rejects.toThrow(/closed/);
  });

  it("prestarts its workers, which then take tasks, without ever exceeding its size", async () => {
    pool = createWorkerPool(2);
    pool.prestart();
    pool.prestart();
    const ids = await Promise.all(
      Array.from({ length: 6 }, () => pool!.run<number>(tasks, "threadId", null)),
    );
    expect(new Set(ids).size).toBe(2);
  });

  it("raises V8's interrupt budget once all its threads have booted, until the last such pool closes", async () => {
    pool = createWorkerPool(2);
    await pool.run(tasks, "echo", 1);
    // One thread is up, the pool could start another: not yet.
    expect(interruptBudgetRaised()).toBe(false);
    pool.prestart();
    await vi.waitFor(() => expect(interruptBudgetRaised()).toBe(true));
    const other = createWorkerPool(1);
    try {
      await other.run(tasks, "echo", 1);
      await pool.close();
      expect(interruptBudgetRaised()).toBe(true);
    } finally {
      await other.close();
    }
    expect(interruptBudgetRaised()).toBe(false);
  });

  it("does not keep the process alive once its tasks are done, even if never closed", () => {
    const poolUrl = new URL("./worker-pool.ts", import.meta.url).href;
    const script = `
      const { createWorkerPool } = await import(${JSON.stringify(poolUrl)});
      const pool = createWorkerPool(2);
      pool.prestart();
      console.log(await pool.run(${JSON.stringify(tasks)}, "sleep", 7));
    `;
    const file = join(mkdtempSync(join(tmpdir(), "wct-pool-")), "forgotten-pool.mjs");
    writeFileSync(file, script);
    const child = spawnSync(process.execPath, ["--import", "tsx", file], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(child.stderr).toBe("");
    expect(child.stdout.trim()).toBe("7");
    expect(child.status).toBe(0);
  });
});
