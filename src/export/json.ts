/**
 * @module The JSON export of a run, in upstream's `format_version` 2.0.0 structure. Built from the
 * stores alone: exporting never executes anything.
 */
import type { SchemaRef } from "../message.js";
import type { PlanJson } from "../plan/plan-json.js";
import type { ArtifactStore } from "../stores/artifact/store.js";
import type { RunDetails } from "../stores/execution/store.js";
import { readRecordedMessage } from "../stores/recorded.js";

export interface JsonExport {
  format_version: "2.0.0";
  run: { id: string; timestamp: string; duration_seconds: number | null; status: string };
  runbook: { name: string; description: string; contact: string | null };
  summary: { total: number; succeeded: number; failed: number; skipped: number; pending: number };
  outputs: Array<{
    artifact_id: string;
    duration_seconds: number | null;
    name: string | null;
    description: string | null;
    contact: string | null;
    output_schema: SchemaRef | null;
    content: Record<string, unknown> | null;
  }>;
  errors: Array<{ artifact_id: string; error: string }>;
  skipped: string[];
  pending: string[];
}

/** Upstream's export status: a run with skipped artifacts but no failure is `partial`. */
function exportStatus(run: RunDetails): string {
  if (run.status === "interrupted" || run.status === "running") return "interrupted";
  if (run.counts.failed > 0) return "failed";
  if (run.counts.skipped > 0) return "partial";
  return "completed";
}

/** Builds the export of a stored run; `plan` says which artifacts are outputs. */
export async function buildJsonExport(
  run: RunDetails,
  plan: PlanJson,
  artifacts: ArtifactStore,
): Promise<JsonExport> {
  const outputs: JsonExport["outputs"] = [];
  for (const state of run.artifacts) {
    const definition = plan.artifacts[state.id]?.definition;
    if (state.status !== "completed" || definition?.output !== true) continue;
    const message = await readRecordedMessage(artifacts, run.run_id, state);
    const text = (key: string) =>
      typeof definition[key] === "string" ? (definition[key] as string) : null;
    outputs.push({
      artifact_id: state.id,
      duration_seconds: state.duration_seconds,
      name: text("name"),
      description: text("description"),
      contact: text("contact"),
      output_schema: state.schema,
      content: Object.keys(message.content).length > 0 ? message.content : null,
    });
  }
  const finished = run.finished_at ? Date.parse(run.finished_at) : null;
  return {
    format_version: "2.0.0",
    run: {
      id: run.run_id,
      timestamp: run.started_at,
      duration_seconds: finished === null ? null : (finished - Date.parse(run.started_at)) / 1000,
      status: exportStatus(run),
    },
    runbook: {
      name: plan.runbook.name,
      description: plan.runbook.description,
      contact: plan.runbook.contact,
    },
    summary: {
      total: run.counts.completed + run.counts.failed + run.counts.skipped,
      succeeded: run.counts.completed,
      failed: run.counts.failed,
      skipped: run.counts.skipped,
      pending: 0,
    },
    outputs,
    errors: run.artifacts
      .filter((a) => a.status === "failed")
      .map((a) => ({ artifact_id: a.id, error: a.error ?? "Unknown error" })),
    skipped: run.artifacts.filter((a) => a.status === "skipped").map((a) => a.id),
    pending: [],
  };
}

/** The installed exporters, for `wct exporters` and `--exporter`. */
export const EXPORTERS = [
  {
    name: "json",
    description: "Upstream-compatible JSON (format_version 2.0.0)",
    frameworks: [] as string[],
  },
] as const;
