/**
 * @module The entry of the worker bundle (`dist/bundle/worker.cjs`, see `build/bundle.ts`): the
 * task modules are bundled into one CommonJS script, so a new worker thread loads one file without
 * Node's ES module loader. A module that is not bundled is imported as usual.
 */
import * as fileReader from "../connectors/file-reader.js";
import { moduleUrl } from "../paths.js";
import * as personalData from "../processors/personal-data-worker.js";
import * as digest from "../stores/artifact/digest-worker.js";
import { importOnce, serveTasks, type TaskModule } from "./worker-tasks.js";

/** The bundled task modules, by the URL of tsc's module that the pool asks for. */
export const BUNDLED_TASK_MODULES: ReadonlyMap<string, TaskModule> = new Map<string, TaskModule>([
  [moduleUrl("connectors/file-reader"), fileReader],
  [moduleUrl("processors/personal-data-worker"), personalData],
  [moduleUrl("stores/artifact/digest-worker"), digest],
]);

const imported = importOnce();
serveTasks((url) => BUNDLED_TASK_MODULES.get(url) ?? imported(url));
