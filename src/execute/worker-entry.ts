/**
 * @module The worker-thread entry of `worker-pool.ts` when there is no worker bundle (running from
 * TypeScript sources or from tsc's output alone): task modules are imported on first use.
 */
import { importOnce, serveTasks } from "./worker-tasks.js";

serveTasks(importOnce());
