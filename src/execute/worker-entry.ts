/**
 * @module The generic worker-thread entry of `worker-pool.ts`: imports the requested task module
 * (once per worker) and runs one named export per message.
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

type TaskFunction = (payload: unknown) => unknown;

const modules = new Map<string, Promise<Record<string, unknown>>>();

async function runTask(request: TaskRequest): Promise<unknown> {
  let loaded = modules.get(request.moduleUrl);
  if (!loaded) {
    loaded = import(request.moduleUrl) as Promise<Record<string, unknown>>;
    modules.set(request.moduleUrl, loaded);
  }
  const taskModule = await loaded;
  const fn = taskModule[request.task];
  if (typeof fn !== "function") {
    throw new Error(`Worker module ${request.moduleUrl} has no task '${request.task}'.`);
  }
  return (fn as TaskFunction)(request.payload);
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

// A worker runs one task at a time (the pool guarantees it), so answers need no correlation id.
parentPort?.on("message", (request: TaskRequest) => {
  runTask(request).then(
    (result) => parentPort?.postMessage({ ok: true, result } satisfies TaskResponse),
    (error: unknown) => parentPort?.postMessage(toResponse(error)),
  );
});
