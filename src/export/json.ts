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
  run: { id: string; timestamp: string; duration_seconds: number; status: string };
  runbook: { name: string; description: string; contact: string | null };
  summary: { total: number; succeeded: number; failed: number; skipped: number; pending: number };
  outputs: Array<{
    artifact_id: string;
    duration_seconds: number;
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

/**
 * Upstream's export status: the run's own for a failed or interrupted run. A completed run that
 * lacks something (an optional artifact failed, or was skipped) is `partial`. Upstream's format
 * has no `running`: a run still executing is exported as what it has so far, `interrupted`
 * (`wct export` says so on stderr).
 */
function exportStatus(run: RunDetails, skipped: string[]): string {
  if (run.status === "interrupted" || run.status === "running") return "interrupted";
  if (run.status === "failed") return "failed";
  if (run.counts.failed > 0 || skipped.length > 0) return "partial";
  return "completed";
}

/**
 * What did not finish: in a run that was stopped (or whose process died), every artifact neither
 * completed nor failed is pending, unless it was skipped because an input of it failed. In a run
 * that finished, every such artifact is skipped: one its log holds no outcome for (the log lost
 * it) too, so that `summary.total` still counts every artifact of the run.
 */
function unfinished(run: RunDetails, plan: PlanJson): { skipped: string[]; pending: string[] } {
  const status = new Map(run.artifacts.map((a) => [a.id, a.status]));
  const open = run.artifacts.filter((a) => a.status !== "completed" && a.status !== "failed");
  if (run.status !== "interrupted" && run.status !== "running") {
    return { skipped: open.map((a) => a.id), pending: [] };
  }
  const failedAbove = new Map<string, boolean>();
  const hasFailedInput = (id: string): boolean => {
    let known = failedAbove.get(id);
    if (known === undefined) {
      failedAbove.set(id, false);
      const inputs = plan.artifacts[id]?.inputs ?? [];
      known = inputs.some((input) => status.get(input) === "failed" || hasFailedInput(input));
      failedAbove.set(id, known);
    }
    return known;
  };
  return {
    skipped: open.filter((a) => hasFailedInput(a.id)).map((a) => a.id),
    pending: open.filter((a) => !hasFailedInput(a.id)).map((a) => a.id),
  };
}

/**
 * Seconds from the run's start to its end. Upstream's format requires a number: a run without an
 * end (still executing, or its process died) counts to the last start or end of an artifact its log holds.
 */
function runDuration(run: RunDetails): number {
  let end = run.finished_at ? Date.parse(run.finished_at) : Date.parse(run.started_at);
  if (!run.finished_at) {
    for (const a of run.artifacts) {
      for (const at of [a.started_at, a.finished_at]) if (at) end = Math.max(end, Date.parse(at));
    }
  }
  return Math.max(0, (end - Date.parse(run.started_at)) / 1000);
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
      // A copy from another run took no time here (upstream's format requires a number).
      duration_seconds: state.duration_seconds ?? 0,
      name: text("name"),
      description: text("description"),
      contact: text("contact"),
      output_schema: state.schema,
      content: Object.keys(message.content).length > 0 ? message.content : null,
    });
  }
  const { skipped, pending } = unfinished(run, plan);
  return {
    format_version: "2.0.0",
    run: {
      id: run.run_id,
      timestamp: run.started_at,
      duration_seconds: runDuration(run),
      status: exportStatus(run, skipped),
    },
    runbook: {
      name: plan.runbook.name,
      description: plan.runbook.description,
      contact: plan.runbook.contact,
    },
    summary: {
      total: run.counts.completed + run.counts.failed + skipped.length + pending.length,
      succeeded: run.counts.completed,
      failed: run.counts.failed,
      skipped: skipped.length,
      pending: pending.length,
    },
    outputs,
    errors: run.artifacts
      .filter((a) => a.status === "failed")
      .map((a) => ({ artifact_id: a.id, error: a.error ?? "Unknown error" })),
    skipped,
    pending,
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

/** Pieces of a long export are joined up to this many characters, so few writes carry it. */
const PIECE_CHARS = 1 << 20;

/**
 * The export as `JSON.stringify(exported, null, 2)` writes it, plus a newline: one piece, made by
 * one `JSON.stringify` (several times faster than piece by piece, on many small items), unless it
 * is longer than a string can be; then pieces of about `PIECE_CHARS` (`jsonExportChunks`).
 */
export function jsonExportPieces(exported: JsonExport): string[] {
  try {
    return [`${JSON.stringify(exported, null, 2)}\n`];
  } catch (error) {
    // "Invalid string length": the document is longer than the longest string.
    if (!(error instanceof RangeError)) throw error;
  }
  const pieces: string[] = [];
  let piece: string[] = [];
  let length = 0;
  for (const chunk of jsonExportChunks(exported)) {
    piece.push(chunk);
    length += chunk.length;
    if (length >= PIECE_CHARS) {
      pieces.push(piece.join(""));
      piece = [];
      length = 0;
    }
  }
  if (piece.length > 0) pieces.push(piece.join(""));
  return pieces;
}

/**
 * From this depth on (root 0, `outputs` 1, an output 2, its content 3, a list in it 4, one data
 * item or finding 5), values are written by `JSON.stringify` itself: each one is small.
 */
const NATIVE_DEPTH = 5;

/**
 * The export as `JSON.stringify(exported, null, 2)` writes it, plus a newline, in pieces: the
 * outputs hold whole artifacts, and together they can be longer than the longest string V8 can
 * make (about 512 M characters), while each piece is at most one data item or finding.
 */
export function* jsonExportChunks(exported: JsonExport): Generator<string> {
  yield* prettyChunks(exported, 0);
  yield "\n";
}

function* prettyChunks(value: unknown, depth: number): Generator<string> {
  if (depth >= NATIVE_DEPTH || value === null || typeof value !== "object") {
    const text = JSON.stringify(value, null, 2) ?? "null";
    // Only the layout has line breaks: a break inside a string is written `\n`.
    yield depth === 0 ? text : text.replaceAll("\n", `\n${"  ".repeat(depth)}`);
    return;
  }
  const inner = `\n${"  ".repeat(depth + 1)}`;
  const close = `\n${"  ".repeat(depth)}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return yield "[]";
    for (let i = 0; i < value.length; i++) {
      yield `${i === 0 ? "[" : ","}${inner}`;
      yield* prettyChunks(value[i] ?? null, depth + 1);
    }
    return yield `${close}]`;
  }
  let first = true;
  for (const [key, item] of Object.entries(value)) {
    // As JSON.stringify does: a property without a JSON value is left out.
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    yield `${first ? "{" : ","}${inner}${JSON.stringify(key)}: `;
    first = false;
    yield* prettyChunks(item, depth + 1);
  }
  yield first ? "{}" : `${close}}`;
}
