/**
 * A `WorkerRunner` over a real pool that counts the tasks it is given, for tests of how work is
 * spread over threads.
 */
import type { WorkerRunner } from "../../src/components/types.js";

export interface CountingRunner extends WorkerRunner {
  /** Tasks run so far. */
  tasks: number;
}

export function countingRunner(
  pool: WorkerRunner,
  options: { onRun?: () => void } = {},
): CountingRunner {
  const runner: CountingRunner = {
    tasks: 0,
    size: pool.size,
    run<T>(moduleUrl: string, task: string, payload: unknown, signal?: AbortSignal): Promise<T> {
      runner.tasks++;
      const running = pool.run<T>(moduleUrl, task, payload, signal);
      options.onRun?.();
      return running;
    },
  };
  return runner;
}
