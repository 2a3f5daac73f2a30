/**
 * @module `wct run RUNBOOK`: plan, execute and persist a run (or resume one), print its run ID.
 */
import { resolve } from "node:path";
import { builtinRegistry } from "../../components/registry.js";
import { InputError } from "../../errors.js";
import { executePlan, type RunResult, startKeptChecks } from "../../execute/executor.js";
import { createWorkerPool } from "../../execute/worker-pool.js";
import { sha256 } from "../../message.js";
import { prepareRunbook } from "../../plan/prepare.js";
import { redactSubstitutions } from "../../runbook/env.js";
import type { ResolvedStores } from "../../stores/config.js";
import type { RunDetails } from "../../stores/execution/store.js";
import {
  type CliIo,
  checkOutputTarget,
  commandWith,
  currentHost,
  currentUser,
  openStores,
  printJson,
  printPlanWarnings,
  redactArgv,
  type StoreFlags,
  toolVersion,
  writeOutputFile,
} from "../io.js";
import { createTerminalReporter, pc, terminalOutput } from "../reporters/terminal.js";
import { checkExporter, exportRun } from "./export.js";
import { publicRunRecord } from "./history.js";

export interface RunOptions extends StoreFlags {
  resume?: string;
  json?: boolean;
  output?: string;
  exporter?: string;
}

/** Runs a runbook; resolves with the exit code (0 completed, 1 failed or timed out, 130 SIGINT). */
export async function runCommand(
  runbookPath: string,
  options: RunOptions,
  io: CliIo,
): Promise<number> {
  const exporter = options.exporter ?? "json";
  checkExporter(exporter);
  // `-o ""` (an unset variable in a script) names no file: refused, not ignored.
  if (options.output === "") throw new InputError("-o is empty: name the file to write");
  // Threads boot while the runbook is planned; on resume, kept artifacts are hashed on them
  // while the first artifacts are read.
  const workers = createWorkerPool();
  workers.prestart();
  let opened: ResolvedStores | undefined;
  try {
    const stores = openStores(options, io, workers);
    opened = stores;
    if (options.output !== undefined) {
      await checkOutputTarget(io, options.output, stores.ownFolders, [runbookPath]);
    }
    const registry = builtinRegistry();
    // `--resume ""` (an unset variable in a script) is a bad run ID, not a new run.
    const resumeRunId =
      options.resume === undefined
        ? undefined
        : await stores.executions.resolveRunId(options.resume);
    // The kept artifacts' hashing starts now, on the worker threads, while the runbook is planned.
    const resume = resumeRunId
      ? {
          resumeRunId,
          keptChecks: startKeptChecks(stores.artifacts, stores.executions, resumeRunId),
        }
      : {};
    const prepared = await prepareRunbook(
      resolve(io.cwd, runbookPath),
      registry,
      stores.executions,
      io.env,
      resumeRunId,
    );
    const { loaded, plan, planJson, substitutions } = prepared;
    printPlanWarnings(io, prepared);
    const { live, color } = terminalOutput(io.stderr, io.env);
    const reporter = createTerminalReporter(io.stderr, [...plan.artifacts.keys()], {
      live,
      color,
    });
    // What the run reports it reads while it still holds the run: a prune started meanwhile
    // cannot delete it before its record is printed and its export written.
    const report = async (result: RunResult) => {
      reporter.close();
      delete io.progress;
      const details = await stores.executions.getRunDetails(result.runId);
      printSummary(io, color, result, details, stores.persistent);
      if (options.json) {
        printJson(io, {
          ...publicRunRecord(details),
          reason: result.reason,
          duration_seconds: result.durationSeconds,
          kept: result.kept,
        });
      } else {
        io.stdout.write(`${result.runId}\n`);
      }
      io.reportedRun?.();
      if (options.output !== undefined) {
        await writeOutputFile(
          io,
          options.output,
          await exportRun(result.runId, exporter, stores),
          result.runId,
        );
      }
    };
    let result: RunResult;
    io.progress = reporter;
    try {
      result = await executePlan({
        plan,
        planJson,
        runbook: {
          // As written: the name may hold a `${VAR}` placeholder, whose value is never stored.
          name: planJson.runbook.name,
          // Absolute: it still names the file when the run is viewed from another folder.
          path: loaded.path,
          sha256: sha256(loaded.text),
          text: loaded.text,
        },
        registry,
        artifacts: stores.artifacts,
        executions: stores.executions,
        workers,
        substitutions,
        origin: {
          tool_version: toolVersion(),
          user: currentUser(),
          host: currentHost(),
          argv: redactSubstitutions(redactArgv(io.argv), substitutions) as string[],
        },
        ...resume,
        // A connector whose path holds the store must not scan earlier runs.
        ignoreDirs: stores.ownFolders,
        ...(io.signal ? { signal: io.signal } : {}),
        onRunCreated: (runId) => io.announceRun?.(runId),
        onWorkDone: () => void workers.close(),
        onEvent: reporter.listener,
        whileHeld: report,
      });
    } finally {
      reporter.close();
      delete io.progress;
    }
    if (result.status === "completed") return 0;
    if (result.status === "interrupted" && io.signal?.aborted) return 130;
    return 1;
  } finally {
    await workers.close();
    await opened?.artifacts.close?.();
    await opened?.executions.close?.();
  }
}

/** The run's outcome on stderr: counts, run ID, and how to resume it if it did not complete. */
function printSummary(
  io: CliIo,
  color: boolean,
  result: RunResult,
  { counts }: RunDetails,
  persistent: boolean,
): void {
  const status = result.status === "interrupted" ? `interrupted (${result.reason})` : result.status;
  const painted =
    result.status === "completed"
      ? pc.green(status)
      : result.status === "failed"
        ? pc.red(status)
        : pc.yellow(status);
  io.stderr.write(
    `${color ? painted : status}: ${counts.completed} completed, ${counts.failed} failed, ${counts.skipped} skipped` +
      `${result.kept.length ? ` (${result.kept.length} kept from the earlier attempt)` : ""} in ${result.durationSeconds.toFixed(2)} s\n` +
      `run ID: ${result.runId}\n` +
      (result.status === "completed"
        ? ""
        : persistent
          ? `resume with: ${commandWith(io, "--resume", result.runId)}\n`
          : "not resumable: the memory store keeps nothing once this process exits\n"),
  );
}
