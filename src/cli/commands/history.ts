/**
 * @module Past runs, read from the stores without re-executing anything: `wct runs` (history),
 * `wct inspect`, `wct runs verify`, `wct runs delete`, `wct runs prune`.
 */
import pc from "picocolors";
import {
  ArtifactNotFoundError,
  ConflictError,
  CorruptDataError,
  InputError,
  RunNotFoundError,
  WctError,
} from "../../errors.js";
import { formatSchemaRef } from "../../message.js";
import type { ArtifactStore } from "../../stores/artifact/store.js";
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from "../../stores/execution/run-query.js";
import {
  type ArtifactState,
  type ExecutionStore,
  RUN_STATUSES,
  type RunRecord,
  type RunStatus,
} from "../../stores/execution/store.js";
import { runIdTimestamp, validateArtifactKey } from "../../stores/keys.js";
import { readRecordedMessage, readRecordedPlan, verifyRecorded } from "../../stores/recorded.js";
import {
  type CliIo,
  commandWith,
  openStores,
  positiveInt,
  printJson,
  type StoreFlags,
} from "../io.js";
import { fitWidth, oneLine, plural, renderTable } from "../table.js";

/** A run record as printed by `--json`: the runbook by name, its text left out. */
export function publicRunRecord(record: RunRecord) {
  const { runbook, ...rest } = record;
  return {
    ...rest,
    // As the table shows it: a run whose record cannot be read has no status of its own.
    status: record.problem ? "unreadable" : record.status,
    runbook: runbook.name,
    runbook_path: runbook.path,
    runbook_sha256: runbook.sha256,
  };
}

function parseStatus(value: string | undefined): RunStatus | undefined {
  if (value === undefined) return undefined;
  if (!(RUN_STATUSES as readonly string[]).includes(value)) {
    throw new InputError(`--status must be one of ${RUN_STATUSES.join(", ")}, got '${value}'`);
  }
  return value as RunStatus;
}

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** `30d`, `12h`, `45m`, `2w`, `90s` -> milliseconds. */
export function parseAge(flag: string, value: string): number {
  const match = /^(\d+)([smhdw])$/.exec(value.trim());
  if (!match)
    throw new InputError(`${flag} takes an age like 30d, 12h, 45m, 2w or 90s, got '${value}'`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** An ISO date/time or an age (`7d` = seven days ago) -> ISO time. */
function parseSince(value: string | undefined, now = Date.now()): string | undefined {
  if (value === undefined) return undefined;
  if (/^\d+[smhdw]$/.test(value.trim())) {
    const since = new Date(now - parseAge("--since", value));
    // Further back than any date can be: every run is that recent.
    return Number.isNaN(since.getTime()) ? undefined : since.toISOString();
  }
  // Times are UTC, as `wct runs` shows them: a date-time without a zone is read as UTC too (a
  // date alone already is), not in this machine's zone.
  const zoneless = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/.test(value.trim());
  const time = Date.parse(zoneless ? `${value.trim().replace(" ", "T")}Z` : value);
  if (Number.isNaN(time) || !isCalendarDate(value))
    throw new InputError(`--since takes an ISO date (2026-11-01) or an age (7d), got '${value}'`);
  return new Date(time).toISOString();
}

/** False for a leading `YYYY-MM-DD` that is no real day (`2026-02-30`, which Date.parse rolls over). */
function isCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value.trim());
  if (!match) return true;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= days;
}

async function withStores<T>(
  flags: StoreFlags,
  io: CliIo,
  body: (stores: ReturnType<typeof openStores>) => Promise<T>,
): Promise<T> {
  const stores = openStores(flags, io);
  try {
    return await body(stores);
  } finally {
    await stores.executions.close?.();
    await stores.artifacts.close?.();
  }
}

function duration(record: Pick<RunRecord, "started_at" | "finished_at">): string {
  if (!record.finished_at) return "";
  return `${((Date.parse(record.finished_at) - Date.parse(record.started_at)) / 1000).toFixed(1)} s`;
}

function paintStatus(status: string, io: CliIo): string {
  if (io.env.NO_COLOR || !io.stdout.isTTY) return status;
  if (status === "completed") return pc.green(status);
  if (status === "failed") return pc.red(status);
  if (status === "running") return pc.cyan(status);
  return pc.yellow(status);
}

export interface RunsOptions extends StoreFlags {
  status?: string;
  runbook?: string;
  since?: string;
  limit?: string;
  cursor?: string;
  json?: boolean;
}

const MAX_NAME_COLUMN = 40;

/** `wct runs`: run history, newest first, full run IDs. */
export async function runsCommand(options: RunsOptions, io: CliIo): Promise<number> {
  const status = parseStatus(options.status);
  const since = parseSince(options.since);
  // `--runbook "$NAME"` with NAME unset: no filter would list every run as if they matched.
  if (options.runbook === "") {
    throw new InputError("--runbook is empty: give the runbook's name as `wct runs` shows it");
  }
  const limit = positiveInt("--limit", options.limit) ?? DEFAULT_LIST_LIMIT;
  if (limit > MAX_LIST_LIMIT) {
    throw new InputError(
      `--limit must be at most ${MAX_LIST_LIMIT} (page on with --cursor), got '${options.limit}'`,
    );
  }
  return withStores(options, io, async ({ executions, describe }) => {
    const page = await executions.listRuns({
      limit,
      ...(status ? { status } : {}),
      ...(options.runbook ? { runbook: options.runbook } : {}),
      ...(since ? { since } : {}),
      ...(options.cursor !== undefined
        ? { cursor: await cursorRunId(executions, options.cursor) }
        : {}),
    });
    const nextPage = (cursor: string) => commandWith(io, "--cursor", cursor);
    const warnUnreadable = () => {
      for (const r of page.runs) {
        if (r.problem) {
          io.stderr.write(`warning: run ${r.run_id} cannot be read: ${oneLine(r.problem)}\n`);
        }
      }
    };
    if (options.json) {
      printJson(io, page.runs.map(publicRunRecord));
      warnUnreadable();
      if (page.next_cursor) io.stderr.write(`more runs: ${nextPage(page.next_cursor)}\n`);
      return 0;
    }
    if (page.runs.length === 0) {
      io.stderr.write(
        options.cursor
          ? `No more runs after ${options.cursor}.\n`
          : `${status || options.runbook || since ? "No runs match" : "No runs recorded"} in the ${oneLine(describe)}.\n`,
      );
      return 0;
    }
    io.stdout.write(
      renderTable(
        ["RUN ID", "STATUS", "RUNBOOK", "STARTED (UTC)", "DURATION", "DONE", "FAILED", "SKIPPED"],
        page.runs.map((r) => [
          r.run_id,
          paintStatus(r.problem ? "unreadable" : r.status, io),
          // On a terminal a long name would wrap every row; --json and pipes get it whole.
          io.stdout.isTTY
            ? fitWidth(oneLine(r.runbook.name), MAX_NAME_COLUMN)
            : oneLine(r.runbook.name),
          r.started_at.replace("T", " ").slice(0, 19),
          duration(r),
          String(r.counts.completed),
          String(r.counts.failed),
          String(r.counts.skipped),
        ]),
      ),
    );
    warnUnreadable();
    if (page.next_cursor) io.stderr.write(`more runs: ${nextPage(page.next_cursor)}\n`);
    return 0;
  });
}

/**
 * A `--cursor` is the run ID that `wct runs` printed after `more runs:`. That run may have been
 * deleted since (paging while pruning): a run ID as wct makes them still serves.
 */
async function cursorRunId(executions: ExecutionStore, cursor: string): Promise<string> {
  try {
    return await executions.resolveRunId(cursor);
  } catch (error) {
    if (!(error instanceof RunNotFoundError)) throw error;
    if (runIdTimestamp(cursor) !== null) return cursor;
    throw new InputError(
      `--cursor '${cursor}' is no run of this store: give the run ID printed after 'more runs:'`,
    );
  }
}

export interface InspectOptions extends StoreFlags {
  json?: boolean;
  events?: boolean;
}

function artifactNote(a: ArtifactState): string {
  if (a.error) return a.error;
  if (a.because) return `skipped: ${a.because}`;
  if (a.provenance) return `reused from ${a.provenance.from_run}/${a.provenance.from_artifact}`;
  return "";
}

/** `wct inspect RUN_ID [ARTIFACT_ID]`: a past run, its audit trail, or one stored artifact. */
export async function inspectCommand(
  runIdOrPrefix: string,
  artifactId: string | undefined,
  options: InspectOptions,
  io: CliIo,
): Promise<number> {
  if (artifactId !== undefined) validateArtifactKey(artifactId);
  if (artifactId !== undefined && options.events) {
    throw new InputError("--events prints the whole run's audit trail: leave out the artifact id");
  }
  return withStores(options, io, async ({ executions, artifacts }) => {
    const runId = await executions.resolveRunId(runIdOrPrefix);
    if (artifactId !== undefined) {
      const state = (await executions.getRunDetails(runId)).artifacts.find(
        (a) => a.id === artifactId,
      );
      if (!state) throw new ArtifactNotFoundError(runId, artifactId);
      const message = await readRecordedMessage(artifacts, runId, state);
      printJson(io, options.json ? message : message.content);
      return 0;
    }
    if (options.events) {
      const events = await executions.readEvents(runId);
      if (options.json) printJson(io, events);
      else
        for (const e of events) {
          const { type, at, seq, event_id: _id, ...rest } = e;
          // JSON escapes C0 controls but leaves DEL and C1 (U+009B is CSI) as they are.
          io.stdout.write(
            `${String(seq ?? "").padStart(4)} ${oneLine(at)} ${oneLine(type)} ${oneLine(JSON.stringify(rest))}\n`,
          );
        }
      // The trail is shown as the store holds it; a log that lost events says so, and fails.
      try {
        await executions.getRunDetails(runId);
      } catch (error) {
        // Other damage (the run record) is reported as itself.
        if (!(error instanceof CorruptDataError) || !error.location.endsWith("events.jsonl")) {
          throw error;
        }
        io.stderr.write(`wct: the audit trail is incomplete: ${oneLine(error.message)}\n`);
        return 1;
      }
      return 0;
    }
    const details = await executions.getRunDetails(runId);
    if (options.json) {
      printJson(io, publicRunRecord(details));
      return 0;
    }
    io.stdout.write(
      `run ${details.run_id}\n` +
        `  status    ${paintStatus(details.status, io)}\n` +
        `  runbook   ${oneLine(details.runbook.name)} (${oneLine(details.runbook.path)}, sha256 ${details.runbook.sha256.slice(0, 12)})\n` +
        `  started   ${details.started_at}${details.finished_at ? `, finished ${details.finished_at} (${duration(details)})` : ""}\n` +
        `  by        ${oneLine(`${details.user}@${details.host}`)}, wct ${details.tool_version}, attempt ${details.attempt}\n` +
        (details.problem ? `  problem   ${oneLine(details.problem)}\n` : "") +
        "\n",
    );
    io.stdout.write(
      renderTable(
        ["ARTIFACT", "STATUS", "DURATION", "BYTES", "SHA256", "SCHEMA", "NOTE"],
        details.artifacts.map((a) => [
          a.id,
          paintStatus(a.status, io),
          a.duration_seconds === null ? "" : `${a.duration_seconds.toFixed(2)} s`,
          a.bytes === null ? "" : String(a.bytes),
          a.sha256?.slice(0, 12) ?? "",
          a.schema ? formatSchemaRef(a.schema) : "",
          oneLine(artifactNote(a)),
        ]),
      ),
    );
    return 0;
  });
}

/** One artifact whose stored bytes do not match what the run recorded. */
export interface VerifyProblem {
  artifact_id: string;
  problem: string;
}

/** Re-hashes every completed artifact of a run against the sha256 recorded in its event log. */
export async function verifyRun(
  runId: string,
  executions: ExecutionStore,
  artifacts: ArtifactStore,
): Promise<{ checked: number; problems: VerifyProblem[] }> {
  const details = await executions.getRunDetails(runId);
  // The plan is part of the run (export and resume read it): a damaged one fails the check.
  await readRecordedPlan(executions, runId);
  const problems: VerifyProblem[] = [];
  let checked = 0;
  for (const state of details.artifacts) {
    if (state.status !== "completed") continue;
    checked++;
    try {
      await verifyRecorded(artifacts, runId, state);
    } catch (error) {
      if (!(error instanceof WctError)) throw error;
      // The listing names the file; the problem is what is wrong with it.
      const problem = error instanceof CorruptDataError ? error.reason : error.message;
      problems.push({ artifact_id: state.id, problem });
    }
  }
  return { checked, problems };
}

/** `wct runs verify RUN_ID`: exit 1 and the list of bad files if any artifact does not match. */
export async function verifyCommand(
  runIdOrPrefix: string,
  options: StoreFlags & { json?: boolean },
  io: CliIo,
): Promise<number> {
  return withStores(options, io, async ({ executions, artifacts }) => {
    const runId = await executions.resolveRunId(runIdOrPrefix);
    const { checked, problems } = await verifyRun(runId, executions, artifacts);
    if (options.json)
      printJson(io, { run_id: runId, checked, ok: problems.length === 0, problems });
    else if (problems.length === 0)
      io.stdout.write(`run ${runId}: ${plural(checked, "artifact")} verified, all intact\n`);
    else {
      io.stdout.write(
        `run ${runId}: ${problems.length} of ${checked} artifacts are missing or do not match their recorded sha256\n`,
      );
      for (const p of problems)
        io.stdout.write(`  artifacts/${p.artifact_id}.json: ${oneLine(p.problem)}\n`);
    }
    return problems.length === 0 ? 0 : 1;
  });
}

/** `wct runs delete RUN_ID`: removes a run and its artifacts; refuses a run that is executing. */
export async function deleteCommand(
  runIdOrPrefix: string,
  options: StoreFlags,
  io: CliIo,
): Promise<number> {
  return withStores(options, io, async ({ executions, artifacts }) => {
    const runId = await executions.resolveRunId(runIdOrPrefix);
    await deleteRun(runId, executions, artifacts);
    io.stderr.write(`deleted run ${runId}\n`);
    return 0;
  });
}

/** Execution record first: it refuses a live run before any artifact is touched. */
async function deleteRun(
  runId: string,
  executions: ExecutionStore,
  artifacts: ArtifactStore,
): Promise<void> {
  await executions.deleteRun(runId);
  await artifacts.clear(runId);
}

export interface PruneOptions extends StoreFlags {
  olderThan?: string;
  keepLast?: string;
  status?: string;
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `wct runs prune`: deletes runs that match every given criterion — older than `--older-than`,
 * not among the newest `--keep-last` it could delete (of those with `--status`, if given), with
 * `--status`. Never touches a run that is executing (nor one whose record cannot be read).
 */
export async function pruneCommand(options: PruneOptions, io: CliIo): Promise<number> {
  const status = parseStatus(options.status);
  const olderThan =
    options.olderThan === undefined ? undefined : parseAge("--older-than", options.olderThan);
  const keepLast = positiveInt("--keep-last", options.keepLast, true);
  if (olderThan === undefined && keepLast === undefined && status === undefined) {
    throw new InputError("say what to prune: --older-than AGE, --keep-last N and/or --status S");
  }
  const cutoff = olderThan === undefined ? null : Date.now() - olderThan;
  return withStores(options, io, async ({ executions, artifacts }) => {
    const candidates: RunRecord[] = [];
    let cursor: string | null = null;
    let seen = 0;
    do {
      const page = await executions.listRuns({
        limit: 1000,
        ...(status ? { status } : {}),
        ...(cursor ? { cursor } : {}),
      });
      for (const run of page.runs) {
        // A run prune never deletes (executing, or unreadable) takes none of the newest N places:
        // `--keep-last 1` while a scan runs keeps the last run that finished.
        const deletable = run.status !== "running" && !run.problem;
        if (deletable) seen++;
        if (deletable && keepLast !== undefined && seen <= keepLast) continue;
        if (cutoff !== null && Date.parse(run.started_at) >= cutoff) continue;
        candidates.push(run);
      }
      cursor = page.next_cursor;
    } while (cursor);

    const deleted: string[] = [];
    const kept: Array<{ run_id: string; reason: string }> = [];
    // Ctrl-C stops between two runs: what was deleted so far is reported.
    io.stopping = "after the run being deleted";
    let left = 0;
    for (const [index, run] of candidates.entries()) {
      if (io.signal?.aborted) {
        left = candidates.length - index;
        break;
      }
      if (run.status === "running") {
        kept.push({ run_id: run.run_id, reason: "still running" });
        continue;
      }
      // Its status and age are unknown: only `wct runs delete` removes it, by name.
      if (run.problem) {
        kept.push({ run_id: run.run_id, reason: `cannot be read: ${run.problem}` });
        continue;
      }
      if (!options.dryRun) {
        try {
          await deleteRun(run.run_id, executions, artifacts);
        } catch (error) {
          // Deleted since it was listed, or being deleted now (another prune): gone, as this
          // prune wanted.
          if (
            error instanceof RunNotFoundError ||
            (error instanceof ConflictError && error.code === "run_deleting")
          )
            continue;
          if (!(error instanceof WctError)) throw error;
          kept.push({ run_id: run.run_id, reason: error.message });
          continue;
        }
      }
      deleted.push(run.run_id);
    }
    const swept =
      left > 0 ? 0 : ((await executions.sweep?.(undefined, Boolean(options.dryRun))) ?? 0);
    if (options.json) {
      printJson(io, {
        dry_run: Boolean(options.dryRun),
        deleted,
        kept,
        swept,
        ...(left > 0 ? { stopped: true, not_looked_at: left } : {}),
      });
    } else {
      const verb = options.dryRun ? "would delete" : "deleted";
      for (const id of deleted) io.stdout.write(`${verb} ${id}\n`);
      for (const k of kept) io.stdout.write(`kept ${k.run_id} (${oneLine(k.reason)})\n`);
      io.stderr.write(`${verb} ${deleted.length} run(s)\n`);
      if (swept > 0) {
        io.stderr.write(
          `${options.dryRun ? "would remove" : "removed"} ${swept} leftover(s) of crashed operations\n`,
        );
      }
    }
    if (left > 0) {
      io.stderr.write(`stopped: ${left} run(s) that matched were not deleted\n`);
      return 130;
    }
    return 0;
  });
}
