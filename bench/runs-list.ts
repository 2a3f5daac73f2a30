/**
 * `wct runs --json` (first page, newest first) over a store of 10,000 runs against one of 100:
 * listing must read folder names and only the records of the page, never every run in full.
 * The runs are written in process through the real filesystem ExecutionStore (createRun, then
 * run_started, artifact and run_finished events), not by executing runbooks.
 *   npm run build && node --import tsx bench/runs-list.ts [runs=10000]
 * Target: at most 3x.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import path from "node:path";
import type { ExecutionStore, RunEvent } from "../src/stores/execution/store.js";
import {
  expectExit,
  importBuilt,
  median,
  ms,
  printResult,
  printTable,
  Random,
  removeDir,
  requireBuild,
  runCommand,
  runWct,
  scratchDir,
  timeRepeated,
} from "./lib.js";

const LARGE = Number(process.argv[2] ?? 10_000);
const SMALL = 100;
const REPEATS = 7;
/** Runs created at once; each creation is a handful of fsynced writes. */
const CREATE_CONCURRENCY = 32;

requireBuild();
const { createFileSystemExecutionStore } = (await importBuilt(
  "stores/execution/filesystem.js",
)) as typeof import("../src/stores/execution/filesystem.js");
const { newRunId } = (await importBuilt(
  "stores/keys.js",
)) as typeof import("../src/stores/keys.js");

const ARTIFACT_IDS = ["files", "customer_db", "files_personal_data", "files_gdpr"];
const RUNBOOK_TEXT = `name: Nightly scan
description: Scans the shared drive and the customer database.
artifacts:
${ARTIFACT_IDS.map((id) => `  ${id}:\n    source:\n      type: filesystem\n      properties: { path: data/${id} }`).join("\n")}
`;

function event(type: RunEvent["type"], fields: object): RunEvent {
  return { type, event_id: randomUUID(), at: new Date().toISOString(), ...fields } as RunEvent;
}

/** One finished run as the executor leaves it: record, plan, and a full event log. */
async function createRun(store: ExecutionStore, random: Random): Promise<void> {
  const runId = newRunId();
  const failedAt = random.chance(0.1) ? random.int(0, ARTIFACT_IDS.length - 1) : -1;
  const owner = { pid: process.pid, host: "bench-host", token: randomUUID() };
  await store.createRun(
    {
      run_id: runId,
      runbook: {
        name: random.pick(["Nightly scan", "Weekly audit", "HR export check"]),
        path: "runbooks/nightly.yaml",
        sha256: "0".repeat(64),
        text: RUNBOOK_TEXT,
      },
      tool_version: "0.1.0",
      user: "bench",
      host: "bench-host",
      argv: ["run", "runbooks/nightly.yaml"],
      artifact_ids: ARTIFACT_IDS,
      plan: {
        artifacts: ARTIFACT_IDS.map((id) => ({ id, inputs: [], digest: random.hex(64) })),
      },
      started_at: new Date().toISOString(),
    },
    owner,
  );
  const events: RunEvent[] = [
    event("run_started", { attempt: 1, resumed: false, pid: process.pid, host: "bench-host" }),
  ];
  ARTIFACT_IDS.forEach((id, index) => {
    events.push(event("artifact_started", { artifact_id: id }));
    events.push(
      index === failedAt
        ? event("artifact_failed", { artifact_id: id, error: "boom", duration_seconds: 0.2 })
        : event("artifact_completed", {
            artifact_id: id,
            sha256: random.hex(64),
            bytes: random.int(1000, 90000),
            schema: { name: "standard_input", version: "1.0.0" },
            duration_seconds: random.next(),
          }),
    );
  });
  events.push(event("run_finished", { status: failedAt >= 0 ? "failed" : "completed" }));
  // Appended in three calls, like a real run: the start, the artifacts, the finish.
  await store.appendEvents(runId, events.slice(0, 1));
  await store.appendEvents(runId, events.slice(1, -1));
  await store.appendEvents(runId, events.slice(-1));
  await store.releaseLease(runId, owner);
}

async function createStore(root: string, count: number, seed: number): Promise<number> {
  const store = createFileSystemExecutionStore({ root });
  const random = new Random(seed);
  const started = performance.now();
  let made = 0;
  await Promise.all(
    Array.from({ length: CREATE_CONCURRENCY }, async () => {
      while (made < count) {
        made++;
        await createRun(store, random);
      }
    }),
  );
  return performance.now() - started;
}

async function main(): Promise<void> {
  const dir = await scratchDir("runs-list");
  const shm = existsSync("/dev/shm") ? await mkdtemp("/dev/shm/wct-runs-list-") : null;
  try {
    const small = path.join(dir, "small");
    const large = path.join(dir, "large");
    // Written on tmpfs when there is one (fsync is free there, 10,000 runs take seconds instead
    // of minutes), then copied to the disk the listing reads.
    const smallCreate = await createStore(shm ? path.join(shm, "small") : small, SMALL, 1);
    const largeCreate = await createStore(shm ? path.join(shm, "large") : large, LARGE, 2);
    let copyMs = 0;
    if (shm) {
      const copyStart = performance.now();
      for (const [from, to] of [
        [path.join(shm, "small"), small],
        [path.join(shm, "large"), large],
      ] as const) {
        expectExit(await runCommand("cp", ["-a", from, to]), "cp");
      }
      copyMs = performance.now() - copyStart;
      await removeDir(shm);
    }
    console.log(
      `created ${SMALL} runs in ${ms(smallCreate)} and ${LARGE} runs in ${ms(largeCreate)} through the ExecutionStore${shm ? ` on tmpfs, copied to disk in ${ms(copyMs)}` : ""}`,
    );

    const list = async (root: string): Promise<number> => {
      const run = expectExit(await runWct(["runs", "--json", "--store-path", root]), "wct runs");
      return (JSON.parse(run.stdout) as unknown[]).length;
    };
    // Untimed first call of each: warm page cache and check the output.
    const listed = [await list(small), await list(large)];
    const startup = median(await timeRepeated(3, () => runWct(["--version"])));
    // Interleaved, so that load from other processes hits both sides alike.
    const smallTimes: number[] = [];
    const largeTimes: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      smallTimes.push((await timeRepeated(1, () => list(small)))[0]!);
      largeTimes.push((await timeRepeated(1, () => list(large)))[0]!);
    }
    // The store call alone, in process: the scaling without node start-up.
    const smallStore = createFileSystemExecutionStore({ root: small });
    const largeStore = createFileSystemExecutionStore({ root: large });
    const smallCalls: number[] = [];
    const largeCalls: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      smallCalls.push((await timeRepeated(1, () => smallStore.listRuns()))[0]!);
      largeCalls.push((await timeRepeated(1, () => largeStore.listRuns()))[0]!);
    }
    const smallMs = median(smallTimes);
    const largeMs = median(largeTimes);
    const joined = (times: number[]) => times.map((t) => t.toFixed(0)).join(", ");
    printTable([
      ["measurement", "runs printed", "runs (ms)", "median", "ratio"],
      [`wct runs --json, ${SMALL} runs`, listed[0]!, joined(smallTimes), ms(smallMs), "1.00x"],
      [
        `wct runs --json, ${LARGE} runs`,
        listed[1]!,
        joined(largeTimes),
        ms(largeMs),
        `${(largeMs / smallMs).toFixed(2)}x`,
      ],
      [
        `listRuns() in process, ${SMALL} runs`,
        "",
        joined(smallCalls),
        ms(median(smallCalls)),
        "1.00x",
      ],
      [
        `listRuns() in process, ${LARGE} runs`,
        "",
        joined(largeCalls),
        ms(median(largeCalls)),
        `${(median(largeCalls) / median(smallCalls)).toFixed(2)}x`,
      ],
    ]);
    console.log(`node start-up alone (wct --version): ${ms(startup)}`);
    printResult("runs-list", largeMs / smallMs, "<= 3x");
  } finally {
    await removeDir(dir);
    if (shm) await removeDir(shm);
  }
}

await main();
