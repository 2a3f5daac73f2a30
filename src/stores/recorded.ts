/**
 * @module Reading artifacts of past runs the way the run recorded them: only completed artifacts,
 * and only if their stored bytes still match the sha256 in the event log.
 */
import { ArtifactNotFoundError, CorruptDataError, NotFoundError } from "../errors.js";
import { type Message, parseMessage, sha256Off } from "../message.js";
import type { PlanJson } from "../plan/plan-json.js";
import type { ArtifactStore } from "./artifact/store.js";
import type { ArtifactState, ExecutionStore } from "./execution/store.js";

/** Where an artifact lives, as the filesystem layout names it (the store root is left out). */
function artifactLocation(runId: string, key: string): string {
  return `runs/${runId}/artifacts/${key}.json`;
}

/** The sha256 the run recorded for a completed artifact; NotFoundError if nothing was stored. */
function recordedSha256(runId: string, state: ArtifactState): string {
  if (state.status !== "completed" || !state.sha256) {
    throw new NotFoundError(
      `artifact '${state.id}' of run ${runId} is ${state.status}${state.error ? ` (${state.error})` : ""}; nothing was stored`,
      { code: "artifact_not_completed" },
    );
  }
  return state.sha256;
}

function checkSha256(
  runId: string,
  state: ArtifactState,
  expected: string,
  actual: string,
  advice = "",
): void {
  if (actual !== expected) {
    throw new CorruptDataError(
      artifactLocation(runId, state.id),
      `stored bytes (sha256 ${actual.slice(0, 12)}) do not match the recorded sha256 ${expected.slice(0, 12)}${advice}`,
    );
  }
}

/**
 * `read` of a completed artifact's file: a file that is gone (or is no file) is damage to the
 * run, which recorded it, not an unknown artifact.
 */
async function readStored<T>(
  runId: string,
  state: ArtifactState,
  expected: string,
  read: () => Promise<T>,
): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof ArtifactNotFoundError)) throw error;
    throw new CorruptDataError(
      artifactLocation(runId, state.id),
      `missing, though the run recorded the artifact completed (sha256 ${expected.slice(0, 12)})`,
      { cause: error },
    );
  }
}

/** The stored bytes of a completed artifact, checked against the recorded sha256. */
export async function readRecordedBytes(
  artifacts: ArtifactStore,
  runId: string,
  state: ArtifactState,
): Promise<Buffer> {
  const expected = recordedSha256(runId, state);
  const bytes = await readStored(runId, state, expected, () => artifacts.getBytes(runId, state.id));
  const advice = `; run 'wct runs verify ${runId}' to check the whole run`;
  checkSha256(runId, state, expected, await sha256Off(bytes), advice);
  return bytes;
}

/**
 * Checks a completed artifact's stored bytes against the recorded sha256 without reading them
 * here (`ArtifactStore.digest`); throws like `readRecordedBytes`.
 */
export async function verifyRecorded(
  artifacts: ArtifactStore,
  runId: string,
  state: ArtifactState,
): Promise<void> {
  const expected = recordedSha256(runId, state);
  const stored = await readStored(runId, state, expected, () => artifacts.digest(runId, state.id));
  checkSha256(runId, state, expected, stored.sha256);
}

/** A completed artifact's Message, checked against the recorded sha256. */
export async function readRecordedMessage(
  artifacts: ArtifactStore,
  runId: string,
  state: ArtifactState,
): Promise<Message> {
  const bytes = await readRecordedBytes(artifacts, runId, state);
  return parseMessage(bytes, artifactLocation(runId, state.id));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether a stored plan has what export and resume read: the runbook's name, each artifact's definition. */
function isPlanJson(value: unknown): value is PlanJson {
  return (
    isObject(value) &&
    isObject(value.runbook) &&
    typeof value.runbook.name === "string" &&
    isObject(value.artifacts) &&
    Object.values(value.artifacts).every(
      (artifact) =>
        isObject(artifact) &&
        isObject(artifact.definition) &&
        Array.isArray(artifact.inputs) &&
        typeof artifact.digest === "string",
    )
  );
}

/** A run's stored plan (`_system/plan.json`); `CorruptDataError` for one damaged into another shape. */
export async function readRecordedPlan(
  executions: ExecutionStore,
  runId: string,
): Promise<PlanJson> {
  const plan = await executions.getPlan(runId);
  if (!isPlanJson(plan)) {
    throw new CorruptDataError(
      `runs/${runId}/_system/plan.json`,
      "not an execution plan (a field is missing or of the wrong type)",
    );
  }
  return plan;
}
