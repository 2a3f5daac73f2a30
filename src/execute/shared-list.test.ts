import { afterEach, describe, expect, it } from "vitest";
import { countingRunner } from "../../test/helpers/workers.js";
import { sharedList, shareOut, takeShared, untaken } from "./shared-list.js";
import { createWorkerPool, type WorkerPool } from "./worker-pool.js";

// The task module is a data: URL, so it holds its own copy of the counter loop; `takeShared` is
// tested on this thread below.
const tasks = `data:text/javascript,${encodeURIComponent(`
import { threadId } from "node:worker_threads";
export function square({ items, next, failOn }) {
  const answers = [];
  for (let i = Atomics.add(next, 0, 1); i < items.length; i = Atomics.add(next, 0, 1)) {
    if (items[i] === failOn) throw new Error("cannot square " + failOn);
    answers.push([i, { square: items[i] * items[i], threadId }]);
  }
  return answers;
}
`)}`;

let pool: WorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("takeShared", () => {
  it("answers every item exactly once between takers that share the counter", () => {
    const list = { items: range(10), next: new Int32Array(new SharedArrayBuffer(4)) };
    let inner: [number, number][] = [];
    // A second taker, run while the first answers its first item, takes all that is left.
    const outer = takeShared(list, (item) => {
      if (inner.length === 0) inner = takeShared(list, (i) => i * 10);
      return item * 10;
    });
    expect(outer).toEqual([[0, 0]]);
    expect(inner).toEqual(range(9).map((i) => [i + 1, (i + 1) * 10]));
  });
});

describe("takeShared within a limit", () => {
  it("stops at the item count or once its time is up, leaving the rest untaken", () => {
    const list = sharedList(range(10));
    const double = (item: number) => item * 2;
    expect(takeShared(list, double, { items: 3, ms: 60_000 })).toEqual([
      [0, 0],
      [1, 2],
      [2, 4],
    ]);
    expect(untaken(list)).toBe(7);
    // With no time at all, one item is still answered, so that every taker makes progress.
    expect(takeShared(list, double, { items: 100, ms: 0 })).toEqual([[3, 6]]);
    expect(takeShared(list, double)).toEqual(range(6).map((i) => [i + 4, (i + 4) * 2]));
    expect(untaken(list)).toBe(0);
  });
});

describe("shareOut", () => {
  it("runs one task per free thread, each item answered once, in item order", async () => {
    pool = createWorkerPool(2);
    const items = range(200);
    type Answer = { square: number; threadId: number };
    const { answers, failure } = await shareOut<number, Answer>(
      pool,
      tasks,
      "square",
      sharedList(items),
      {},
    );
    expect(failure).toBeUndefined();
    expect([...answers.keys()].sort((a, b) => a - b)).toEqual(items);
    expect(items.every((i) => answers.get(i)?.square === i * i)).toBe(true);
    // At most one task per thread: never more distinct threads than the pool has.
    expect(new Set([...answers.values()].map((a) => a.threadId)).size).toBeLessThanOrEqual(2);
  });

  it("wakes one thread per `perThread` items, and one when none is free", async () => {
    pool = createWorkerPool(2);
    const short = countingRunner(pool);
    await shareOut(short, tasks, "square", sharedList(range(10)), {}, { perThread: 32 });
    expect(short.tasks).toBe(1);
    const long = countingRunner(pool);
    await shareOut(long, tasks, "square", sharedList(range(64)), {}, { perThread: 32 });
    expect(long.tasks).toBe(2);
    const busy = countingRunner(pool, { available: () => 0 });
    const { answers } = await shareOut(busy, tasks, "square", sharedList(range(64)), {});
    expect(busy.tasks).toBe(1);
    expect(answers.size).toBe(64);
  });

  it("shares out only what the main thread did not take first", async () => {
    pool = createWorkerPool(2);
    const list = sharedList(range(100));
    const here = takeShared(list, (i) => ({ square: i * i, threadId: 0 }), {
      items: 70,
      ms: 60_000,
    });
    const counted = countingRunner(pool);
    const { answers } = await shareOut(counted, tasks, "square", list, {}, { perThread: 40 });
    // 30 left: one thread, where the whole list would have woken both.
    expect(counted.tasks).toBe(1);
    expect([...here.map(([i]) => i), ...answers.keys()].sort((a, b) => a - b)).toEqual(range(100));
  });

  it("reports a failed task, whose answers are lost with it", async () => {
    pool = createWorkerPool(1);
    const { answers, failure } = await shareOut(pool, tasks, "square", sharedList(range(10)), {
      failOn: 4,
    });
    expect((failure as Error).message).toBe("cannot square 4");
    expect(answers.size).toBe(0);
  });
});
