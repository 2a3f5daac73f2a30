/**
 * Persistence overhead of many small artifacts: a runbook of 1,000 trivial `filesystem` artifacts
 * (`max_concurrency: 10`) executed on the filesystem stores, against 1,000 raw durable writes
 * (temp file, fsync, rename; one folder fsync at the end) of the same bytes at the same
 * concurrency. The two are timed in turns, after a warm-up run of each.
 *   npm run build && node --import tsx bench/store-writes.ts [artifacts=1000]
 * Target: at most 2x. The breakdown times the stores directly: artifact writes alone, event
 * appends alone, the run's fixed costs (record, lease, plan) and the executor on memory stores.
 */
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import { hostname, userInfo } from "node:os";
import path from "node:path";
import type { ComponentRegistry, Connector } from "../src/components/types.js";
import type { ArtifactStore } from "../src/stores/artifact/store.js";
import type { ExecutionStore, RunEvent } from "../src/stores/execution/store.js";
import {
  expectExit,
  importBuilt,
  median,
  ms,
  printResult,
  printTable,
  removeDir,
  requireBuild,
  runWct,
  scratchDir,
  timeRepeated,
} from "./lib.js";

const ARTIFACTS = Number(process.argv[2] ?? 1000);
const CONCURRENCY = 10;
const REPEATS = 5;

requireBuild();
const { executePlan } = (await importBuilt(
  "execute/executor.js",
)) as typeof import("../src/execute/executor.js");
const { prepareRunbook } = (await importBuilt(
  "plan/prepare.js",
)) as typeof import("../src/plan/prepare.js");
const { builtinRegistry } = (await importBuilt(
  "components/registry.js",
)) as typeof import("../src/components/registry.js");
const { createWorkerPool } = (await importBuilt(
  "execute/worker-pool.js",
)) as typeof import("../src/execute/worker-pool.js");
const { createFileSystemArtifactStore } = (await importBuilt(
  "stores/artifact/filesystem.js",
)) as typeof import("../src/stores/artifact/filesystem.js");
const { createFileSystemExecutionStore } = (await importBuilt(
  "stores/execution/filesystem.js",
)) as typeof import("../src/stores/execution/filesystem.js");
const { createMemoryArtifactStore } = (await importBuilt(
  "stores/artifact/memory.js",
)) as typeof import("../src/stores/artifact/memory.js");
const { createMemoryExecutionStore } = (await importBuilt(
  "stores/execution/memory.js",
)) as typeof import("../src/stores/execution/memory.js");
const { newRunId } = (await importBuilt(
  "stores/keys.js",
)) as typeof import("../src/stores/keys.js");

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight. */
async function withConcurrency(
  count: number,
  limit: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function writeInputs(dir: string): Promise<string> {
  const lines = [
    "name: Store writes benchmark",
    "description: many trivial artifacts",
    "config:",
    `  max_concurrency: ${CONCURRENCY}`,
    "  timeout: 3600",
    "artifacts:",
  ];
  for (let i = 0; i < ARTIFACTS; i++) {
    const id = `a${String(i).padStart(4, "0")}`;
    const folder = path.join(dir, "data", id);
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(
      path.join(folder, "note.txt"),
      `Ticket ${i}: the printer on floor ${i % 7} is out of toner again.\n`,
    );
    lines.push(
      `  ${id}:`,
      "    source:",
      "      type: filesystem",
      `      properties: { path: data/${id} }`,
    );
  }
  const runbook = path.join(dir, "many.yaml");
  await fs.writeFile(runbook, `${lines.join("\n")}\n`);
  return runbook;
}

async function execute(
  runbook: string,
  stores: { artifacts: ArtifactStore; executions: ExecutionStore },
  registry: ComponentRegistry = builtinRegistry(),
): Promise<{ runId: string; ms: number }> {
  const prepared = await prepareRunbook(runbook, registry, stores.executions, {});
  const workers = createWorkerPool();
  try {
    const started = performance.now();
    const result = await executePlan({
      plan: prepared.plan,
      planJson: prepared.planJson,
      runbook: { name: prepared.loaded.runbook.name, path: runbook, sha256: "", text: "" },
      registry,
      ...stores,
      workers,
      substitutions: [],
      origin: { tool_version: "bench", user: userInfo().username, host: hostname(), argv: [] },
    });
    const elapsed = performance.now() - started;
    if (result.status !== "completed") throw new Error(`run ${result.runId} ${result.status}`);
    return { runId: result.runId, ms: elapsed };
  } finally {
    await workers.close();
  }
}

/**
 * The built-in components, but a `filesystem` connector that reads nothing: it hands back the
 * content the real one produced for that folder (`contents`, by artifact id). What is left is the
 * executor and the stores.
 */
function registryWithoutConnectorIo(contents: Map<string, unknown>): ComponentRegistry {
  const builtin = builtinRegistry();
  const real = builtin.connectors.get("filesystem")!;
  const replay: Connector = {
    ...real,
    async extract(properties, outputSchema) {
      const content = contents.get(path.basename(String(properties.path)));
      return { schema: outputSchema, content: content as Record<string, unknown> };
    },
  };
  return { connectors: new Map([["filesystem", replay]]), processors: builtin.processors };
}

/** The baseline: each buffer written as its own file with temp + fsync + rename. */
async function rawDurableWrites(dir: string, contents: Buffer[]): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await withConcurrency(contents.length, CONCURRENCY, async (i) => {
    const target = path.join(dir, `${i}.json`);
    const temp = path.join(dir, `.${i}.json.tmp`);
    const handle = await fs.open(temp, "wx");
    await handle.writeFile(contents[i]!);
    await handle.sync();
    await handle.close();
    await fs.rename(temp, target);
  });
  const folder = await fs.open(dir, "r");
  await folder.sync();
  await folder.close();
}

function fsStores(root: string) {
  return {
    artifacts: createFileSystemArtifactStore({ root }),
    executions: createFileSystemExecutionStore({ root }),
  };
}

async function main(): Promise<void> {
  const dir = await scratchDir("store-writes");
  try {
    const runbook = await writeInputs(dir);

    // Ours, in process: executePlan on the filesystem stores (each repeat is a new run), and the
    // baseline: raw durable writes of the bytes of every artifact file of our first run. Run in
    // turns, so that the disk's fsync latency, which drifts on this VM, weighs on both alike.
    const storeRoot = path.join(dir, "store");
    const first = await execute(runbook, fsStores(storeRoot));
    const runId = first.runId;
    const artifactDir = path.join(storeRoot, "runs", runId, "artifacts");
    const names = (await fs.readdir(artifactDir)).filter((n) => n.endsWith(".json"));
    const contents = await Promise.all(names.map((n) => fs.readFile(path.join(artifactDir, n))));
    const totalBytes = contents.reduce((sum, b) => sum + b.length, 0);
    await rawDurableWrites(path.join(dir, "raw-warm-up"), contents);
    const ours: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < REPEATS; round++) {
      ours.push((await execute(runbook, fsStores(storeRoot))).ms);
      const started = performance.now();
      await rawDurableWrites(path.join(dir, `raw-${round}`), contents);
      baseline.push(performance.now() - started);
    }

    // The whole CLI, minus node start-up and module loading (`wct --version`).
    const startup = median(await timeRepeated(3, () => runWct(["--version"])));
    const cliStore = path.join(dir, "cli-store");
    const cli = await timeRepeated(REPEATS, async () =>
      expectExit(await runWct(["run", runbook, "--store-path", cliStore]), "wct run"),
    );

    // Breakdown: the executor on memory stores (component work + scheduling, nothing persisted).
    const memory: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const stores = {
        artifacts: createMemoryArtifactStore(),
        executions: createMemoryExecutionStore(),
      };
      memory.push((await execute(runbook, stores)).ms);
    }
    const messages = await Promise.all(
      names.map(async (n) => JSON.parse((await fs.readFile(path.join(artifactDir, n))).toString())),
    );
    // The executor and the stores without the connector's own file reads.
    const replayed = registryWithoutConnectorIo(
      new Map(messages.map((m, i) => [names[i]!.slice(0, -5), m.content])),
    );
    const withoutConnectorIo: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const stores = fsStores(path.join(dir, "replay-store"));
      withoutConnectorIo.push((await execute(runbook, stores, replayed)).ms);
    }
    const breakdownRoot = path.join(dir, "breakdown");
    const { artifacts, executions } = fsStores(breakdownRoot);
    // Artifact writes alone: ArtifactStore.save of the same messages.
    const saves = await timeRepeated(REPEATS, async () => {
      const id = newRunId();
      await withConcurrency(messages.length, CONCURRENCY, async (i) => {
        await artifacts.save(id, names[i]!.slice(0, -5), messages[i]);
      });
    });
    // Event appends alone, as the executor makes them: artifact_started without waiting, then
    // artifact_completed awaited, 10 artifacts at a time.
    const event = (type: string, extra: object): RunEvent =>
      ({ type, event_id: randomUUID(), at: new Date().toISOString(), ...extra }) as RunEvent;
    const fixedCosts: number[] = [];
    const appends: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const id = newRunId();
      const owner = { pid: process.pid, host: hostname(), token: randomUUID() };
      const fixedStart = performance.now();
      await executions.createRun(
        {
          run_id: id,
          runbook: { name: "bench", path: "bench.yaml", sha256: "", text: "" },
          tool_version: "bench",
          user: "bench",
          host: hostname(),
          argv: [],
          artifact_ids: names.map((n) => n.slice(0, -5)),
          plan: {},
          started_at: new Date().toISOString(),
        },
        owner,
      );
      await executions.appendEvents(id, [
        event("run_started", { attempt: 1, resumed: false, pid: process.pid, host: hostname() }),
      ]);
      let fixed = performance.now() - fixedStart;
      const appendStart = performance.now();
      await withConcurrency(names.length, CONCURRENCY, async (i) => {
        const artifactId = names[i]!.slice(0, -5);
        void executions.appendEvents(id, [event("artifact_started", { artifact_id: artifactId })]);
        await executions.appendEvents(id, [
          event("artifact_completed", {
            artifact_id: artifactId,
            sha256: "0".repeat(64),
            bytes: contents[i]!.length,
            schema: { name: "standard_input", version: "1.0.0" },
            duration_seconds: 0.001,
          }),
        ]);
      });
      appends.push(performance.now() - appendStart);
      const finishStart = performance.now();
      await executions.appendEvents(id, [event("run_finished", { status: "completed" })]);
      await executions.releaseLease(id, owner);
      fixed += performance.now() - finishStart;
      fixedCosts.push(fixed);
    }

    // The executor's store calls per artifact in sequence, without any component work.
    const pipeline: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const id = newRunId();
      await executions.createRun(
        {
          run_id: id,
          runbook: { name: "bench", path: "bench.yaml", sha256: "", text: "" },
          tool_version: "bench",
          user: "bench",
          host: hostname(),
          argv: [],
          artifact_ids: names.map((n) => n.slice(0, -5)),
          plan: {},
          started_at: new Date().toISOString(),
        },
        { pid: process.pid, host: hostname(), token: randomUUID() },
      );
      const started = performance.now();
      await withConcurrency(names.length, CONCURRENCY, async (i) => {
        const artifactId = names[i]!.slice(0, -5);
        void executions.appendEvents(id, [event("artifact_started", { artifact_id: artifactId })]);
        const stored = await artifacts.save(id, artifactId, messages[i]);
        await executions.appendEvents(id, [
          event("artifact_completed", {
            artifact_id: artifactId,
            sha256: stored.sha256,
            bytes: stored.bytes,
            schema: { name: "standard_input", version: "1.0.0" },
            duration_seconds: 0.001,
          }),
        ]);
      });
      pipeline.push(performance.now() - started);
    }

    const oursMs = median(ours);
    const baseMs = median(baseline);
    const cliMs = median(cli) - startup;
    const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
    console.log(
      `${ARTIFACTS} artifacts, ${(totalBytes / 1e3).toFixed(0)} kB stored (${(totalBytes / ARTIFACTS).toFixed(0)} B each), concurrency ${CONCURRENCY}`,
    );
    printTable([
      ["measurement", "runs (ms)", "median", "vs baseline"],
      ["baseline: raw temp+fsync+rename writes", list(baseline), ms(baseMs), "1.00x"],
      [
        "ours: executePlan on filesystem stores",
        list(ours),
        ms(oursMs),
        `${(oursMs / baseMs).toFixed(2)}x`,
      ],
      [
        `ours: wct run minus start-up (${ms(startup)})`,
        list(cli),
        ms(cliMs),
        `${(cliMs / baseMs).toFixed(2)}x`,
      ],
    ]);
    console.log("\nbreakdown (each part timed alone, same concurrency):");
    printTable([
      ["part", "runs (ms)", "median", "vs baseline"],
      ...(
        [
          ["ArtifactStore.save x all artifacts", saves],
          ["ExecutionStore.appendEvents x 2 per artifact", appends],
          ["run fixed costs (createRun, lease, start/finish)", fixedCosts],
          ["save, then append completed, per artifact (no component)", pipeline],
          ["executePlan on memory stores (component work)", memory],
          ["executePlan on filesystem stores, connector reading nothing", withoutConnectorIo],
        ] as const
      ).map(([label, values]) => [
        label,
        list([...values]),
        ms(median([...values])),
        `${(median([...values]) / baseMs).toFixed(2)}x`,
      ]),
    ]);
    printResult("store-writes", oursMs / baseMs, "<= 2x");
  } finally {
    await removeDir(dir);
  }
}

await main();
