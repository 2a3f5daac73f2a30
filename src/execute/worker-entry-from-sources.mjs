// Worker bootstrap used only when wct runs from TypeScript sources (vitest, tsx): Node 20 ignores
// `--import` in a worker's execArgv, so the tsx loader is registered here before the real entry.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entryUrl);
