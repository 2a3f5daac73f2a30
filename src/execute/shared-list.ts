/**
 * @module A list of items that worker threads work through together: each takes the next item from
 * a counter they share (`Atomics.add` on a SharedArrayBuffer), so a thread that drew slow items
 * takes fewer, and none waits for the main thread between items. `shareOut` (main thread) starts
 * the threads' tasks; `takeShared` (in the task, on a worker thread) is their loop. The main
 * thread may take a bounded share first, with `takeShared` and a `TakeLimit`.
 */
import type { WorkerRunner } from "../components/types.js";

/** What each thread's task gets: the items and the counter, besides the task's own settings. */
export interface SharedList<T> {
  items: T[];
  next: Int32Array;
}

/** A new list of `items`, none taken yet. */
export function sharedList<T>(items: T[]): SharedList<T> {
  return { items, next: new Int32Array(new SharedArrayBuffer(4)) };
}

/** An item's index in the list, and the task's answer for it. */
export type SharedAnswer<R> = [index: number, answer: R];

/** Bounds on one taker's share: at most `items` items, and no more once `ms` have passed. */
export interface TakeLimit {
  items: number;
  ms: number;
}

/** Answers items of the list until none is left, or until `limit` is reached. */
export function takeShared<T, R>(
  list: SharedList<T>,
  answer: (item: T) => R,
  limit: TakeLimit = { items: Number.POSITIVE_INFINITY, ms: Number.POSITIVE_INFINITY },
): SharedAnswer<R>[] {
  const answers: SharedAnswer<R>[] = [];
  const { items, next } = list;
  const deadline = performance.now() + limit.ms;
  while (answers.length < limit.items) {
    const index = Atomics.add(next, 0, 1);
    if (index >= items.length) break;
    answers.push([index, answer(items[index]!)]);
    if (performance.now() >= deadline) break;
  }
  return answers;
}

/** Items of the list no taker has taken yet. */
export function untaken(list: SharedList<unknown>): number {
  return Math.max(0, list.items.length - Atomics.load(list.next, 0));
}

export interface SharedOutcome<R> {
  /** The answers, by item index. */
  answers: Map<number, R>;
  /** Why a thread's task failed, if one did (abort included): the items it took are unanswered. */
  failure?: unknown;
}

export interface ShareOptions {
  /** Items a thread should have at least, so that a short list does not wake every thread. */
  perThread?: number;
  signal?: AbortSignal;
}

/**
 * Runs `task` of the worker module `moduleUrl` over the items of `list` not yet taken, on as many
 * threads as are free now, at least one: a thread that is busy would only hold the whole list
 * back until it is free. Each task gets `settings` with the list; their answers are merged by
 * item index.
 */
export async function shareOut<T, R>(
  runner: WorkerRunner,
  moduleUrl: string,
  task: string,
  list: SharedList<T>,
  settings: object,
  { perThread = 1, signal }: ShareOptions = {},
): Promise<SharedOutcome<R>> {
  const threads = Math.max(1, Math.min(runner.available(), Math.ceil(untaken(list) / perThread)));
  const settled = await Promise.allSettled(
    Array.from({ length: threads }, () =>
      runner.run<SharedAnswer<R>[]>(moduleUrl, task, { ...settings, ...list }, signal),
    ),
  );
  const outcome: SharedOutcome<R> = {
    answers: new Map(settled.flatMap((s) => (s.status === "fulfilled" ? s.value : []))),
  };
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) outcome.failure = failed.reason;
  return outcome;
}
