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
import type { TaskRequest, TaskResponse } from "./worker-tasks.js";

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
 * Creates a pool of at most `size` worker threads. Tasks run FIFO; a task is a named async
 * export of a module (`run(moduleUrl, task, payload)`); its error is rethrown here with the same
 * message. Aborting a queued task removes it; aborting a running one terminates its worker (a new
 * one is started when needed).
 */
export function createWorkerPool(size = availableParallelism()): WorkerPool {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`Worker pool size must be a positive integer, got ${size}.`);
  }
  const queue: PendingTask[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, PendingTask>();
  let closed = false;

  function settle(task: PendingTask): void {
    task.signal?.removeEventListener("abort", task.onAbort);
  }

  function retire(worker: Worker): void {
    busy.delete(worker);
    const index = idle.indexOf(worker);
    if (index !== -1) idle.splice(index, 1);
    worker.removeAllListeners();
    void worker.terminate();
  }

  function spawn(): Worker {
    const worker = startWorker();
    worker.on("message", (response: TaskResponse) => {
      const task = busy.get(worker);
      if (!task) return;
      busy.delete(worker);
      settle(task);
      worker.unref();
      idle.push(worker);
      if (response.ok) task.resolve(response.result);
      else task.reject(errorFromResponse(response));
      dispatch();
    });
    const fail = (error: Error): void => {
      const task = busy.get(worker);
      retire(worker);
      if (task) {
        settle(task);
        task.reject(error);
      }
      dispatch();
    };
    worker.on("error", fail);
    worker.on("exit", (code) =>
      fail(new Error(`Worker thread exited unexpectedly (code ${code}).`)),
    );
    return worker;
  }

  function dispatch(): void {
    while (queue.length > 0 && (idle.length > 0 || busy.size < size)) {
      const task = queue.shift()!;
      const worker = idle.pop() ?? spawn();
      // Referenced only while working: a running task keeps the process alive, an idle pool does not.
      worker.ref();
      busy.set(worker, task);
      worker.postMessage(task.request);
    }
  }

  return {
    size,
    prestart(): void {
      while (!closed && idle.length + busy.size < size) {
        const worker = spawn();
        worker.unref();
        idle.push(worker);
      }
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
            if (queued !== -1) {
              queue.splice(queued, 1);
            } else {
              for (const [worker, running] of busy) {
                if (running === pending) retire(worker);
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
      const error = new Error("The worker pool is closed.");
      for (const task of queue.splice(0)) {
        settle(task);
        task.reject(error);
      }
      const workers = [...idle, ...busy.keys()];
      for (const [, task] of busy) {
        settle(task);
        task.reject(error);
      }
      busy.clear();
      idle.length = 0;
      await Promise.all(
        workers.map((worker) => {
          worker.removeAllListeners();
          return worker.terminate();
        }),
      );
    },
  };
}
