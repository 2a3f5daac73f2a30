/**
 * @module Listing rules shared by the execution store backends: filter validation and matching,
 * pagination, run ID prefix resolution, and what a reader should see of a run.
 */
import { InputError, RunNotFoundError } from "../../errors.js";
import { runIdTimestamp, validateRunId } from "../keys.js";
import { deriveArtifactStates, deriveCounts } from "./derive.js";
import {
  RUN_STATUSES,
  type RunDetails,
  type RunEvent,
  type RunFilter,
  type RunPage,
  type RunRecord,
  type RunStatus,
} from "./store.js";

/** Page size when the filter gives none. */
export const DEFAULT_LIST_LIMIT = 100;
/** Largest page a caller may ask for. */
export const MAX_LIST_LIMIT = 10_000;
/**
 * How far a run's `started_at` may trail the time in its UUIDv7 run ID (the ID is made first).
 * Generous, so that skipping runs by their ID's time never drops a match.
 */
const ID_TIME_SLACK_MS = 10 * 60_000;

/** A validated filter with times parsed. */
export interface RunQuery {
  status: RunStatus | undefined;
  runbook: string | undefined;
  sinceMs: number | undefined;
  untilMs: number | undefined;
  limit: number;
  cursor: string | undefined;
}

function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new InputError(`Invalid '${name}' time '${value}': expected an ISO 8601 date or time.`);
  }
  return ms;
}

/** Validates a filter; throws `InputError` (or `InvalidKeyError` for a malformed cursor). */
export function parseRunFilter(filter: RunFilter = {}): RunQuery {
  if (filter.status !== undefined && !RUN_STATUSES.includes(filter.status)) {
    throw new InputError(
      `Invalid status '${filter.status}': expected one of ${RUN_STATUSES.join(", ")}.`,
    );
  }
  const limit = filter.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InputError(
      `Invalid limit '${limit}': expected a whole number from 1 to ${MAX_LIST_LIMIT}.`,
    );
  }
  if (filter.cursor !== undefined) validateRunId(filter.cursor);
  return {
    status: filter.status,
    runbook: filter.runbook,
    sinceMs: parseTime("since", filter.since),
    untilMs: parseTime("until", filter.until),
    limit,
    cursor: filter.cursor,
  };
}

/** Whether a run (with the status readers see) matches the query. */
export function matchesQuery(record: RunRecord, query: RunQuery): boolean {
  // A run whose record cannot be read has no status or runbook to match (placeholders stand there).
  if ((query.status !== undefined || query.runbook !== undefined) && record.problem) return false;
  if (query.status !== undefined && record.status !== query.status) return false;
  if (query.runbook !== undefined && record.runbook.name !== query.runbook) return false;
  if (query.sinceMs !== undefined || query.untilMs !== undefined) {
    const started = Date.parse(record.started_at);
    if (!Number.isFinite(started)) return false;
    if (query.sinceMs !== undefined && started < query.sinceMs) return false;
    if (query.untilMs !== undefined && started >= query.untilMs) return false;
  }
  return true;
}

/**
 * What a run ID alone says about the query, before reading the run: `stop` when the ID (a UUIDv7,
 * listed newest first) is so old that no later one can match `since`; `skip` when it is too new
 * for `until`; otherwise `read`.
 */
export function screenRunId(runId: string, query: RunQuery): "read" | "skip" | "stop" {
  const created = runIdTimestamp(runId);
  if (created === null) return "read";
  if (query.sinceMs !== undefined && created < query.sinceMs - ID_TIME_SLACK_MS) return "stop";
  if (query.untilMs !== undefined && created >= query.untilMs + ID_TIME_SLACK_MS) return "skip";
  return "read";
}

/** Run IDs newest first: UUIDv7 IDs sort by creation time, so descending string order. */
export function newestFirst(runIds: string[]): string[] {
  return [...runIds].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

/** The shortest run ID prefix accepted in place of a whole run ID (as short as git's). */
export const MIN_RUN_ID_PREFIX = 4;

/**
 * A run ID (or prefix) of hex digits and dashes in lower case, as wct writes the UUIDs it makes
 * run IDs of: `01A2…` pasted from an upper-casing tool names the same run.
 */
export function generatedCase(id: string): string {
  return /^[0-9a-f-]+$/i.test(id) ? id.toLowerCase() : id;
}

/**
 * The full run ID for `prefix` among `runIds` (in `generatedCase`): an exact match, else the only ID starting with it.
 * Throws `RunNotFoundError` for none, and `InputError` for a prefix shorter than
 * `MIN_RUN_ID_PREFIX` or, listing up to 5 candidates, an ambiguous one.
 */
export function resolvePrefix(written: string, runIds: Iterable<string>): string {
  const prefix = generatedCase(validateRunId(written));
  const ids = [...runIds];
  // A run of exactly that name first: `01A2…` read as `01a2…` must not name another run.
  if (ids.includes(written)) return written;
  const matches: string[] = [];
  for (const id of ids) {
    if (id === prefix) return id;
    if (id.startsWith(prefix)) matches.push(id);
  }
  // `wct runs delete 0` must not pick the only run that happens to start with 0.
  if (prefix.length < MIN_RUN_ID_PREFIX) {
    throw new InputError(
      `Run ID prefix '${prefix}' is too short: give at least ${MIN_RUN_ID_PREFIX} characters (or the whole run ID).`,
      { code: "short_run_id_prefix" },
    );
  }
  if (matches.length === 0) throw new RunNotFoundError(prefix);
  if (matches.length === 1) return matches[0]!;
  const shown = newestFirst(matches).slice(0, 5);
  const more = matches.length > shown.length ? ` and ${matches.length - shown.length} more` : "";
  throw new InputError(
    `Run ID prefix '${prefix}' is ambiguous: it matches ${shown.join(", ")}${more}. Give more characters.`,
    { code: "ambiguous_run_id" },
  );
}

/** The status readers see: a `running` run that no live lease backs was interrupted. */
export function visibleStatus(status: RunStatus, leaseLive: boolean): RunStatus {
  return status === "running" && !leaseLive ? "interrupted" : status;
}

/**
 * A run as readers see it, from its stored record, its event log and whether a live lease backs
 * it. The log is the source of truth: a record still saying `running` whose log ends with
 * `run_finished` (the process died between appending it and rewriting the record) takes that
 * event's status and time; otherwise a `running` run without a live lease is `interrupted`.
 * Counts and artifact states come from the log.
 */
export function viewRun(record: RunRecord, events: RunEvent[], leaseLive: boolean): RunDetails {
  const states = deriveArtifactStates(record.artifact_ids, events);
  const last = events.at(-1);
  const ending =
    record.status === "running" && last?.type === "run_finished"
      ? { status: last.status, finished_at: last.at }
      : { status: visibleStatus(record.status, leaseLive) };
  // Nothing runs in a run that is not running: an artifact it was running ended with it, as
  // those of a run stopped in time are recorded. (Once the run has finished, its log lost the
  // artifact's outcome.)
  const artifacts =
    ending.status === "running"
      ? states
      : states.map((state) =>
          state.status === "running"
            ? { ...state, status: "skipped" as const, because: cutShort(record, ending.status) }
            : state,
        );
  return { ...record, ...ending, counts: deriveCounts(artifacts), artifacts };
}

function cutShort(record: RunRecord, status: RunStatus): string {
  return record.status === "running" && status === "interrupted"
    ? "the run was interrupted while it ran: no live process holds the run"
    : "the run ended while it ran, and its log holds no outcome for it";
}

/** The run record part of a `viewRun` result. */
export function recordOf(details: RunDetails): RunRecord {
  const { artifacts, ...record } = details;
  return record;
}

/** Runs read past a filtered page to learn whether another page holds any. */
const LOOKAHEAD_READS = 1000;

/**
 * One page of runs matching `query`, newest first. `read` gives a run's record as readers see it
 * (or null for a run that vanished meanwhile); it is called only until the page is full (with a
 * filter, until one more run matches it), and not for IDs that `screenRunId` rules out.
 */
export async function paginate(
  runIds: Iterable<string>,
  query: RunQuery,
  read: (runId: string) => Promise<RunRecord | null> | RunRecord | null,
): Promise<RunPage> {
  const ids = newestFirst([...runIds]).filter(
    (id) => query.cursor === undefined || id < query.cursor,
  );
  // Once the page is full, a next one is promised: without a filter for any later run; with one
  // only once a later run is found to match it, looking at most `LOOKAHEAD_READS` runs further
  // (past those, it is promised as they may hold some).
  const filtered =
    query.status !== undefined ||
    query.runbook !== undefined ||
    query.sinceMs !== undefined ||
    query.untilMs !== undefined;
  const runs: RunRecord[] = [];
  let more = false;
  let lookedAhead = 0;
  for (const id of ids) {
    const screen = screenRunId(id, query);
    if (screen === "stop") break;
    if (screen === "skip") continue;
    const full = runs.length === query.limit;
    if (full && (!filtered || lookedAhead++ === LOOKAHEAD_READS)) {
      more = true;
      break;
    }
    const record = await read(id);
    if (!record || !matchesQuery(record, query)) continue;
    if (full) {
      more = true;
      break;
    }
    runs.push(record);
  }
  return { runs, next_cursor: more ? runs[runs.length - 1]!.run_id : null };
}
