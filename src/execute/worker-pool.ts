/**
 * @module A pool of worker threads for CPU-heavy component work (pattern matching), so every core
 * is used and the event loop stays free. Workers are started lazily, reused, and never keep the
 * process alive while idle.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { WorkerRunner } from "../components/types.js";
import { FROM_SOURCES, moduleUrl, packageFile } from "../paths.js";
import { raiseInterruptBudget } from "./interrupt-budget.js";
import type { TaskRequest, TaskResponse, WorkerMessage } from "./worker-tasks.js";

/** A `WorkerRunner` that owns threads and must be closed. */
export interface WorkerPool extends WorkerRunner {
  /**
   * Starts every worker thread now, idle, so that they boot while the caller does other work and
   * the first tasks do not wait for a thread to start.
   */
  prestart(): void;
  /** Terminates every worker and rejects queued tasks. */
  close(): Promise<void>;
}

interface PendingTask {
  request: TaskRequest;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** The build's worker bundle (`worker-bundle.ts`, bundled by `build/bundle.ts`). */
export const WORKER_BUNDLE_FILE = packageFile("dist", "bundle", "worker.cjs");

let workerBundle: string | null | undefined;

/**
 * The build starts workers from its worker bundle: one CommonJS script, no ES module loader to
 * start in each thread. Without it, from tsc's output, they import `worker-entry.js`. Under vitest
 * or tsx wct runs from TypeScript sources; workers then start through a bootstrap that registers
 * the tsx loader.
 */
function startWorker(): Worker {
  const entryUrl = moduleUrl("execute/worker-entry");
  if (FROM_SOURCES) {
    const bootstrap = pathToFileURL(packageFile("src", "execute", "worker-entry-from-sources.mjs"));
    return new Worker(bootstrap, { workerData: { entryUrl } });
  }
  workerBundle ??= existsSync(WORKER_BUNDLE_FILE) ? WORKER_BUNDLE_FILE : null;
  return new Worker(workerBundle ?? new URL(entryUrl));
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

function errorFromResponse(response: Extract<TaskResponse, { ok: false }>): Error {
  const error = new Error(response.message);
  error.name = response.name;
  if (response.code !== undefined) Object.assign(error, { code: response.code });
  return error;
}

/**
 * Tasks a thread holds at once: the one it runs and the next, already in its message queue, so
 * that it goes on without waiting for the main thread to hand it more (the main thread may be
 * busy for tens of milliseconds, e.g. serialising a large artifact). Only one waits: a task
 * handed to a thread cannot move to another that falls idle, so a long task holds up at most one.
 */
export const TASKS_PER_WORKER = 2;

/**
 * Creates a pool of at most `size` worker threads. Tasks start in FIFO order, each on the thread
 * with the fewest tasks (a thread runs its tasks one after another, in the order given); a task is
 * a named async export of a module (`run(moduleUrl, task, payload)`); its error is rethrown here
 * with the same message. Aborting a queued task removes it; aborting one that a worker holds
 * (running or next) terminates that worker (a new one is started when needed, and the other tasks
 * it held are queued again).
 */
export function createWorkerPool(size = availableParallelism()): WorkerPool {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`Worker pool size must be a positive integer, got ${size}.`);
  }
  const queue: PendingTask[] = [];
  /** Every live worker and the tasks it holds, the running one first. */
  const workers = new Map<Worker, PendingTask[]>();
  let closed = false;
  /** Threads that have booted; once the pool's are, V8's budget is raised (`interrupt-budget.ts`). */
  let booted = 0;
  let releaseBudget: (() => void) | undefined;

  function settle(task: PendingTask): void {
    task.signal?.removeEventListener("abort", task.onAbort);
  }

  /** Terminates a worker; returns the tasks it held, the running one first. */
  function retire(worker: Worker): PendingTask[] {
    const held = workers.get(worker) ?? [];
    workers.delete(worker);
    worker.removeAllListeners();
    void worker.terminate();
    return held;
  }

  function spawn(): Worker {
    const worker = startWorker();
    workers.set(worker, []);
    worker.on("message", (response: WorkerMessage) => {
      if ("ready" in response) {
        if (++booted >= size && !closed) releaseBudget ??= raiseInterruptBudget();
        return;
      }
      const held = workers.get(worker);
      const task = held?.shift();
      if (!task) return;
      // Referenced only while working: a running task keeps the process alive, an idle pool does not.
      if (held!.length === 0) worker.unref();
      settle(task);
      if (response.ok) task.resolve(response.result);
      else task.reject(errorFromResponse(response));
      dispatch();
    });
    // A crash is charged to the task running then, once the answers the worker sent before it
    // have been handled: Node delivers them before 'exit'. The tasks it held next run elsewhere.
    let crash: Error | undefined;
    worker.on("error", (error) => {
      crash ??= error;
    });
    worker.on("exit", (code) => {
      const [running, ...waiting] = retire(worker);
      queue.unshift(...waiting);
      if (running) {
        settle(running);
        running.reject(crash ?? new Error(`Worker thread exited unexpectedly (code ${code}).`));
      }
      dispatch();
    });
    return worker;
  }

  /** The worker with the fewest tasks, a new one while the pool is not full and all are busy. */
  function leastBusy(): Worker | undefined {
    let best: Worker | undefined;
    let fewest = Number.POSITIVE_INFINITY;
    for (const [worker, held] of workers) {
      if (held.length < fewest) [best, fewest] = [worker, held.length];
    }
    if (fewest > 0 && workers.size < size) return spawn();
    return fewest < TASKS_PER_WORKER ? best : undefined;
  }

  function dispatch(): void {
    while (queue.length > 0) {
      const worker = leastBusy();
      if (!worker) return;
      const task = queue.shift()!;
      try {
        worker.postMessage(task.request);
      } catch (error) {
        // A payload that cannot be copied to a thread (DataCloneError): that task fails alone.
        settle(task);
        task.reject(error);
        continue;
      }
      worker.ref();
      workers.get(worker)!.push(task);
    }
  }

  return {
    size,
    prestart(): void {
      while (!closed && workers.size < size) spawn().unref();
    },
    run<T>(moduleUrl: string, task: string, payload: unknown, signal?: AbortSignal): Promise<T> {
      if (closed) return Promise.reject(new Error("The worker pool is closed."));
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      return new Promise<T>((resolve, reject) => {
        const pending: PendingTask = {
          request: { moduleUrl, task, payload },
          resolve: resolve as (value: unknown) => void,
          reject,
          signal,
          onAbort: () => {
            const queued = queue.indexOf(pending);
            if (queued !== -1) queue.splice(queued, 1);
            for (const [worker, held] of workers) {
              // A worker cannot be told to skip a task it holds, running or next: it is replaced,
              // and the other tasks it held go back to the queue (a running one starts again).
              if (held.includes(pending)) {
                queue.unshift(...retire(worker).filter((task) => task !== pending));
              }
            }
            reject(abortReason(signal!));
            dispatch();
          },
        };
        signal?.addEventListener("abort", pending.onAbort, { once: true });
        queue.push(pending);
        dispatch();
      });
    },
    async close(): Promise<void> {
      closed = true;
      releaseBudget?.();
      const error = new Error("The worker pool is closed.");
      for (const task of queue.splice(0)) {
        settle(task);
        task.reject(error);
      }
      const live = [...workers.keys()];
      for (const task of [...workers.values()].flat()) {
        settle(task);
        task.reject(error);
      }
      workers.clear();
      await Promise.all(
        live.map((worker) => {
          worker.removeAllListeners();
          return worker.terminate();
        }),
      );
    },
  };
}
