/**
 * @module A list of items that worker threads work through together: each takes the next item from
 * a counter they share (`Atomics.add` on a SharedArrayBuffer), so a thread that drew slow items
 * takes fewer, and none waits for the main thread between items. `shareOut` (main thread) starts
 * the threads' tasks; `takeShared` (in the task, on a worker thread) is their loop.
 */
import type { WorkerRunner } from "../components/types.js";

/** What each thread's task gets: the items and the counter, besides the task's own settings. */
export interface SharedList<T> {
  items: T[];
  next: Int32Array;
}

/** An item's index in the list, and the task's answer for it. */
export type SharedAnswer<R> = [index: number, answer: R];

/** In the task: answers items of the list until none is left. */
export function takeShared<T, R>(list: SharedList<T>, answer: (item: T) => R): SharedAnswer<R>[] {
  const answers: SharedAnswer<R>[] = [];
  const { items, next } = list;
  for (let index = Atomics.add(next, 0, 1); index < items.length; index = Atomics.add(next, 0, 1)) {
    answers.push([index, answer(items[index]!)]);
  }
  return answers;
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
 * Runs `task` of the worker module `moduleUrl` over `items`, one task per thread of the runner
 * (fewer for a short list), each with `settings` and the list; their answers are merged by item
 * index. It resolves once every item is answered, without waiting for a task still queued behind
 * other work (that one finds nothing left when it starts), or once every task has settled.
 */
export function shareOut<T, R>(
  runner: WorkerRunner,
  moduleUrl: string,
  task: string,
  items: T[],
  settings: object,
  { perThread = 1, signal }: ShareOptions = {},
): Promise<SharedOutcome<R>> {
  if (items.length === 0) return Promise.resolve({ answers: new Map() });
  const list: SharedList<T> = { items, next: new Int32Array(new SharedArrayBuffer(4)) };
  const threads = Math.max(1, Math.min(runner.size, Math.ceil(items.length / perThread)));
  const outcome: SharedOutcome<R> = { answers: new Map() };
  return new Promise((resolve) => {
    let running = threads;
    const settle = () => {
      running--;
      if (running === 0 || outcome.answers.size === items.length) resolve(outcome);
    };
    for (let i = 0; i < threads; i++) {
      runner.run<SharedAnswer<R>[]>(moduleUrl, task, { ...settings, ...list }, signal).then(
        (answers) => {
          for (const [index, answer] of answers) outcome.answers.set(index, answer);
          settle();
        },
        (error: unknown) => {
          // A task rejected after the list was done (a closed pool, an abort) changes nothing.
          if (outcome.answers.size < items.length) outcome.failure ??= error;
          settle();
        },
      );
    }
  });
}
