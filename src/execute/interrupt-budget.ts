/**
 * @module V8's interrupt budget while the worker pools' threads work. V8 optimises a function with
 * TurboFan once it has run through an "interrupt budget" of bytecode, 66 KB by default in Node.js
 * 20. At the default, the scanner's functions are compiled while a fresh thread scans its first
 * megabyte, some of them twice (on-stack, then whole), on cores that a short command needs for the
 * scan itself; with 1 MB fewer compiles are made, later, and pay for themselves in short and long
 * runs alike (see bench/HISTORY.md).
 *
 * V8's flags are the process's, and while one is not at its default V8 refuses every code cache
 * made under the defaults: Node.js's own, for the built-in modules each new thread compiles as it
 * boots, and the CLI's (`launch.ts`). So the budget is raised only once a pool's threads have
 * booted, and put back when the last pool that raised it closes. The threads are running then:
 * V8 reads the flag as a plain number each time it resets a function's budget, so a thread sees
 * the new value at its next reset. It is tuned on Node.js 20's V8 only, whose default this module
 * knows and where it was measured.
 */
import { setFlagsFromString } from "node:v8";

/** V8's default in Node.js 20 (V8 11.3): `node --v8-options | grep -A1 interrupt-budget`. */
const DEFAULT_BUDGET = 67_584;
const RAISED_BUDGET = 1_048_576;
const TUNED = process.versions.v8.startsWith("11.3.");

/** Pools whose raise is in force. */
let raisedBy = 0;

/** Whether the budget is raised now (for tests). */
export function interruptBudgetRaised(): boolean {
  return raisedBy > 0;
}

/** Raises the budget until the returned function is called (once is enough; again does nothing). */
export function raiseInterruptBudget(): () => void {
  if (raisedBy++ === 0 && TUNED) setFlagsFromString(`--interrupt-budget=${RAISED_BUDGET}`);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--raisedBy === 0 && TUNED) setFlagsFromString(`--interrupt-budget=${DEFAULT_BUDGET}`);
  };
}
