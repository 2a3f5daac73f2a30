import { afterEach, describe, expect, it } from "vitest";
import { countingRunner } from "../../test/helpers/workers.js";
import { shareOut, takeShared } from "./shared-list.js";
import { createWorkerPool, type WorkerPool } from "./worker-pool.js";

// The task module is a data: URL, so it holds its own copy of the counter loop; `takeShared` is
// tested on this thread below.
const tasks = `data:text/javascript,${encodeURIComponent(`
import { threadId } from "node:worker_threads";
export async function sleep(ms) { await new Promise((r) => setTimeout(r, ms)); return ms; }
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

describe("shareOut", () => {
  it("runs one task per thread, each item answered once, by item index", async () => {
    pool = createWorkerPool(2);
    const items = range(200);
    type Answer = { square: number; threadId: number };
    const { answers, failure } = await shareOut<number, Answer>(pool, tasks, "square", items, {});
    expect(failure).toBeUndefined();
    expect([...answers.keys()].sort((a, b) => a - b)).toEqual(items);
    expect(items.every((i) => answers.get(i)?.square === i * i)).toBe(true);
    // At most one task per thread: never more distinct threads than the pool has.
    expect(new Set([...answers.values()].map((a) => a.threadId)).size).toBeLessThanOrEqual(2);
  });

  it("wakes one thread per `perThread` items, up to the runner's size", async () => {
    pool = createWorkerPool(2);
    const short = countingRunner(pool);
    await shareOut(short, tasks, "square", range(10), {}, { perThread: 32 });
    expect(short.tasks).toBe(1);
    const long = countingRunner(pool);
    await shareOut(long, tasks, "square", range(200), {}, { perThread: 32 });
    expect(long.tasks).toBe(2);
    const none = countingRunner(pool);
    expect((await shareOut(none, tasks, "square", [], {})).answers.size).toBe(0);
    expect(none.tasks).toBe(0);
  });

  it("resolves once every item is answered, not waiting for a task still queued", async () => {
    pool = createWorkerPool(2);
    const order: string[] = [];
    // One thread is busy for a while: the list's second task waits behind it.
    const busy = pool.run(tasks, "sleep", 1500).then(() => order.push("busy task"));
    const { answers, failure } = await shareOut<number, unknown>(
      pool,
      tasks,
      "square",
      range(64),
      {},
    );
    order.push("list");
    expect(failure).toBeUndefined();
    expect(answers.size).toBe(64);
    await busy;
    expect(order).toEqual(["list", "busy task"]);
  });

  it("reports a failed task, whose answers are lost with it", async () => {
    pool = createWorkerPool(1);
    const { answers, failure } = await shareOut(pool, tasks, "square", range(10), { failOn: 4 });
    expect((failure as Error).message).toBe("cannot square 4");
    expect(answers.size).toBe(0);
  });
});
