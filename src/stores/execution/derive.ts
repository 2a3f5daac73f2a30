/**
 * @module Everything derived from a run's event log (the source of truth, ARCHITECTURE §4.1):
 * per-artifact states, status counts, and the run record fields the log drives. Shared by every
 * execution store backend so they agree exactly.
 */
import { InputError, InvalidKeyError } from "../../errors.js";
import { validateArtifactKey } from "../keys.js";
import {
  ARTIFACT_STATUSES,
  type ArtifactState,
  type NewRun,
  type RunEvent,
  type RunEventType,
  type RunRecord,
  type StatusCounts,
} from "./store.js";

/** The state of an artifact nothing has happened to yet. */
export function notStarted(id: string): ArtifactState {
  return {
    id,
    status: "not_started",
    started_at: null,
    finished_at: null,
    duration_seconds: null,
    error: null,
    because: null,
    sha256: null,
    bytes: null,
    schema: null,
    provenance: null,
  };
}

/**
 * Per-artifact states: the latest event of each artifact wins. When a new attempt starts
 * (`run_started`), an artifact still `running` from the previous attempt never finished, so it
 * becomes `not_started`; finished states carry over. `artifact_reused` counts as completed, with
 * provenance. States come in `artifactIds` order, followed by artifacts that appear only in the
 * log (from an earlier plan), so nothing recorded disappears.
 */
export function deriveArtifactStates(artifactIds: string[], events: RunEvent[]): ArtifactState[] {
  const states = new Map<string, ArtifactState>();
  for (const id of artifactIds) states.set(id, notStarted(id));
  for (const event of events) {
    if (event.type === "run_started") {
      for (const [id, state] of states) {
        if (state.status === "running") states.set(id, notStarted(id));
      }
      continue;
    }
    if (event.type === "run_finished") continue;
    const previous = states.get(event.artifact_id) ?? notStarted(event.artifact_id);
    const base = notStarted(event.artifact_id);
    switch (event.type) {
      case "artifact_started":
        states.set(event.artifact_id, { ...base, status: "running", started_at: event.at });
        break;
      case "artifact_completed":
        states.set(event.artifact_id, {
          ...base,
          status: "completed",
          started_at: previous.started_at,
          finished_at: event.at,
          duration_seconds: event.duration_seconds,
          sha256: event.sha256,
          bytes: event.bytes,
          schema: event.schema,
        });
        break;
      case "artifact_failed":
        states.set(event.artifact_id, {
          ...base,
          status: "failed",
          started_at: previous.started_at,
          finished_at: event.at,
          duration_seconds: event.duration_seconds,
          error: event.error,
        });
        break;
      case "artifact_skipped":
        states.set(event.artifact_id, {
          ...base,
          status: "skipped",
          finished_at: event.at,
          because: event.because,
        });
        break;
      case "artifact_reused":
        states.set(event.artifact_id, {
          ...base,
          status: "completed",
          started_at: event.at,
          finished_at: event.at,
          sha256: event.sha256,
          bytes: event.bytes,
          schema: event.schema,
          provenance: {
            from_run: event.from_run,
            from_artifact: event.from_artifact,
            sha256: event.source_sha256,
          },
        });
        break;
    }
  }
  return [...states.values()];
}

/** Zero for every artifact status. */
export function emptyCounts(): StatusCounts {
  return Object.fromEntries(ARTIFACT_STATUSES.map((status) => [status, 0])) as StatusCounts;
}

/** How many artifacts are in each status. */
export function deriveCounts(states: ArtifactState[]): StatusCounts {
  const counts = emptyCounts();
  for (const state of states) counts[state.status] += 1;
  return counts;
}

/**
 * The run record after `appended` events joined the log (`allEvents` is the whole log, including
 * them), or null when they change nothing in it: `run_started` marks the run running again;
 * `run_finished` records the final status, time and counts.
 */
export function recordAfterEvents(
  record: RunRecord,
  appended: RunEvent[],
  allEvents: RunEvent[],
): RunRecord | null {
  let next: RunRecord | null = null;
  for (const event of appended) {
    if (event.type === "run_started") {
      next = {
        ...(next ?? record),
        status: "running",
        finished_at: null,
        attempt: Math.max(event.attempt, (next ?? record).attempt),
      };
    } else if (event.type === "run_finished") {
      next = { ...(next ?? record), status: event.status, finished_at: event.at };
    }
  }
  if (!next) return null;
  return { ...next, counts: deriveCounts(deriveArtifactStates(next.artifact_ids, allEvents)) };
}

/** The record of a run that has just been created: no events yet, every artifact not started. */
export function recordForNewRun(run: NewRun): RunRecord {
  return {
    run_id: run.run_id,
    tenant: run.tenant ?? null,
    status: "running",
    runbook: { ...run.runbook },
    tool_version: run.tool_version,
    user: run.user,
    host: run.host,
    argv: [...run.argv],
    started_at: run.started_at,
    finished_at: null,
    artifact_ids: [...run.artifact_ids],
    counts: { ...emptyCounts(), not_started: run.artifact_ids.length },
    attempt: 1,
  };
}

const EVENT_TYPES: ReadonlySet<string> = new Set<RunEventType>([
  "run_started",
  "artifact_started",
  "artifact_completed",
  "artifact_failed",
  "artifact_skipped",
  "artifact_reused",
  "run_finished",
]);

const isSchemaRef = (value: unknown): boolean =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as Record<string, unknown>).name === "string" &&
  typeof (value as Record<string, unknown>).version === "string";

function isArtifactKey(id: string): boolean {
  try {
    validateArtifactKey(id);
    return true;
  } catch (error) {
    if (error instanceof InvalidKeyError) return false;
    throw error;
  }
}

/** The fields each type of event carries, with the check of each value. */
const EVENT_FIELDS: Record<RunEventType, Record<string, (value: unknown) => boolean>> = (() => {
  const text = (value: unknown) => typeof value === "string";
  const number = (value: unknown) => typeof value === "number" && Number.isFinite(value);
  // An id the stores would refuse as a key (`../x`, damage by hand) names no artifact of the run.
  const key = (value: unknown) => typeof value === "string" && isArtifactKey(value);
  const stored = { artifact_id: key, sha256: text, bytes: number, schema: isSchemaRef };
  return {
    run_started: { attempt: number, resumed: (value) => typeof value === "boolean" },
    artifact_started: { artifact_id: key },
    artifact_completed: { ...stored, duration_seconds: number },
    artifact_failed: { artifact_id: key, error: text, duration_seconds: number },
    artifact_skipped: { artifact_id: key, because: text },
    artifact_reused: { ...stored, from_run: text, from_artifact: text, source_sha256: text },
    run_finished: {
      status: (value) => value === "completed" || value === "failed" || value === "interrupted",
    },
  };
})();

/**
 * What is wrong with an event read back from a log (damaged by hand, or by a disk), or null: a
 * reader trusts the fields of every event it derives states from.
 */
export function storedEventProblem(event: unknown): string | null {
  if (typeof event !== "object" || event === null || Array.isArray(event)) return "not an event";
  const fields = event as Record<string, unknown>;
  if (typeof fields.event_id !== "string" || fields.event_id === "") return "missing event_id";
  if (typeof fields.at !== "string") return "missing 'at' time";
  if (!EVENT_TYPES.has(fields.type as string)) return `unknown type '${String(fields.type)}'`;
  for (const [name, valid] of Object.entries(EVENT_FIELDS[fields.type as RunEventType])) {
    if (!valid(fields[name]))
      return `${String(fields.type)} event with a missing or malformed '${name}'`;
  }
  return null;
}

/**
 * Rejects events a store must not log: no `event_id`, no time, unknown type, or a field of its
 * type missing or malformed (`storedEventProblem`: what is logged must read back). Throws
 * `InputError`.
 */
export function checkEvents(runId: string, events: RunEvent[]): void {
  if (!Array.isArray(events)) throw new InputError(`Events for run ${runId} must be an array.`);
  for (const [index, event] of events.entries()) {
    const problem = storedEventProblem(event);
    if (problem) throw new InputError(`Event ${index} for run ${runId}: ${problem}.`);
  }
}
