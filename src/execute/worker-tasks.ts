/**
 * @module What a worker thread of `worker-pool.ts` runs: it answers each task request by calling
 * the named export of the requested task module, one task at a time. The thread's entry decides
 * how a module is found: `worker-entry.ts` imports tsc's modules, `worker-bundle.ts` (the build's
 * `dist/bundle/worker.cjs`) has them bundled.
 */
import { parentPort } from "node:worker_threads";

/** What the pool sends for one task. */
export interface TaskRequest {
  moduleUrl: string;
  task: string;
  payload: unknown;
}

/** What the worker answers for one task. */
export type TaskResponse =
  | { ok: true; result: unknown }
  | { ok: false; name: string; message: string; code?: string };

/** What a worker sends: first that it has booted and serves tasks, then its answers. */
export type WorkerMessage = TaskResponse | { ready: true };

export type TaskModule = Record<string, unknown>;

/** Imports each task module once, on first use. */
export function importOnce(): (moduleUrl: string) => Promise<TaskModule> {
  const modules = new Map<string, Promise<TaskModule>>();
  return (moduleUrl) => {
    let loaded = modules.get(moduleUrl);
    if (!loaded) {
      loaded = import(moduleUrl) as Promise<TaskModule>;
      modules.set(moduleUrl, loaded);
    }
    return loaded;
  };
}

function toResponse(error: unknown): TaskResponse {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      ok: false,
      name: error.name,
      message: error.message,
      ...(typeof code === "string" ? { code } : {}),
    };
  }
  return { ok: false, name: "Error", message: String(error) };
}

/** Answers this thread's task requests, finding each task module with `load`. */
export function serveTasks(load: (moduleUrl: string) => Promise<TaskModule> | TaskModule): void {
  const run = async (request: TaskRequest): Promise<unknown> => {
    const fn = (await load(request.moduleUrl))[request.task];
    if (typeof fn !== "function") {
      throw new Error(`Worker module ${request.moduleUrl} has no task '${request.task}'.`);
    }
    return (fn as (payload: unknown) => unknown)(request.payload);
  };
  // Tasks run one after another and are answered in the order they came, so answers need no
  // correlation id (the pool may hand a worker its next task before the current one ends).
  const answer = (response: TaskResponse): void => {
    try {
      parentPort?.postMessage(response);
    } catch (error) {
      // A result that cannot be copied back (DataCloneError) fails its task, not the thread.
      parentPort?.postMessage(toResponse(error));
    }
  };
  let previous: Promise<void> = Promise.resolve();
  parentPort?.on("message", (request: TaskRequest) => {
    previous = previous.then(() =>
      run(request).then(
        (result) => answer({ ok: true, result }),
        (error: unknown) => answer(toResponse(error)),
      ),
    );
  });
  parentPort?.postMessage({ ready: true } satisfies WorkerMessage);
}
