/**
 * @module What the executor tells its subscribers (the terminal reporter, tests): every persisted
 * run event, once it is durable, plus warnings about the data that are not part of the audit trail.
 */
import type { RunEvent } from "../stores/execution/store.js";

/** A component's warning about the data (a skipped file, an unreadable table). Not persisted. */
export interface ArtifactWarning {
  type: "artifact_warning";
  artifact_id: string;
  message: string;
  at: string;
}

export type EngineEvent = (RunEvent & { run_id: string }) | (ArtifactWarning & { run_id: string });

export type EngineListener = (event: EngineEvent) => void;
