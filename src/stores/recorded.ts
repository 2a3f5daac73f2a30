/**
 * @module Reading artifacts of past runs the way the run recorded them: only completed artifacts,
 * and only if their stored bytes still match the sha256 in the event log.
 */
import { CorruptDataError, NotFoundError } from "../errors.js";
import { type Message, parseMessage, sha256Off } from "../message.js";
import type { ArtifactStore } from "./artifact/store.js";
import type { ArtifactState } from "./execution/store.js";

/** Where an artifact lives, as the filesystem layout names it (the store root is left out). */
function artifactLocation(runId: string, key: string): string {
  return `runs/${runId}/artifacts/${key}.json`;
}

/** The stored bytes of a completed artifact, checked against the recorded sha256. */
export async function readRecordedBytes(
  artifacts: ArtifactStore,
  runId: string,
  state: ArtifactState,
): Promise<Buffer> {
  if (state.status !== "completed" || !state.sha256) {
    throw new NotFoundError(
      `artifact '${state.id}' of run ${runId} is ${state.status}${state.error ? ` (${state.error})` : ""}; nothing was stored`,
      { code: "artifact_not_completed" },
    );
  }
  const bytes = await artifacts.getBytes(runId, state.id);
  const actual = await sha256Off(bytes);
  if (actual !== state.sha256) {
    throw new CorruptDataError(
      artifactLocation(runId, state.id),
      `stored bytes (sha256 ${actual.slice(0, 12)}) do not match the recorded sha256 ${state.sha256.slice(0, 12)}; run 'wct runs verify ${runId}'`,
    );
  }
  return bytes;
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
