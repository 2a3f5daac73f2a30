import { describe, expect, it, vi } from "vitest";
import type { Message } from "../message.js";
import type { PlanJson } from "../plan/plan-json.js";
import { createMemoryArtifactStore } from "../stores/artifact/memory.js";
import type { ArtifactStore } from "../stores/artifact/store.js";
import { emptyCounts, notStarted } from "../stores/execution/derive.js";
import type { ArtifactState, RunDetails } from "../stores/execution/store.js";
import { newRunId } from "../stores/keys.js";
import { buildJsonExport, type JsonExport, jsonExportChunks, jsonExportPieces } from "./json.js";

const SCHEMA = { name: "personal_data_indicator", version: "1.0.0" };

const message = (runId: string): Message => ({
  id: "m",
  content: { findings: [], summary: { total_findings: 0 }, analysis_metadata: {} },
  schema: SCHEMA,
  context: null,
  run_id: runId,
  source: "processor:personal_data",
  timestamp: "2026-12-01T10:00:01.000Z",
  extensions: { execution: null },
});

const state = (id: string, fields: Partial<ArtifactState>): ArtifactState => ({
  ...notStarted(id),
  ...fields,
});

/** A plan of `ids`, each one an output. */
const plan = (ids: string[]): PlanJson =>
  ({
    format: "wct-plan/1",
    runbook: { name: "rb", description: "d", contact: null },
    artifacts: Object.fromEntries(
      ids.map((id) => [id, { definition: { output: true }, inputs: [], digest: "x" }]),
    ),
    aliases: {},
  }) as unknown as PlanJson;

const details = (
  runId: string,
  status: RunDetails["status"],
  finishedAt: string | null,
  artifacts: ArtifactState[],
): RunDetails => {
  const counts = emptyCounts();
  for (const a of artifacts) counts[a.status] += 1;
  return {
    run_id: runId,
    tenant: null,
    status,
    runbook: { name: "rb", path: "/rb.yaml", sha256: "x", text: "" },
    tool_version: "0",
    user: "u",
    host: "h",
    argv: [],
    started_at: "2026-12-01T10:00:00.000Z",
    finished_at: finishedAt,
    artifact_ids: artifacts.map((a) => a.id),
    counts,
    attempt: 1,
    artifacts,
  };
};

/** A completed artifact stored in `artifacts`, with what the event log records of it. */
async function completed(
  artifacts: ArtifactStore,
  runId: string,
  id: string,
  fields: Partial<ArtifactState>,
): Promise<ArtifactState> {
  const stored = await artifacts.save(runId, id, message(runId));
  return state(id, { status: "completed", ...stored, schema: SCHEMA, ...fields });
}

describe("buildJsonExport", () => {
  it("gives a run whose process died a duration up to the last moment its log knows of", async () => {
    // Upstream's format requires run.duration_seconds to be a number (>= 0), never null.
    const artifacts = createMemoryArtifactStore();
    const runId = newRunId();
    const done = await completed(artifacts, runId, "a", {
      started_at: "2026-12-01T10:00:00.500Z",
      finished_at: "2026-12-01T10:00:02.000Z",
      duration_seconds: 1.5,
    });
    const cut = state("b", { status: "running", started_at: "2026-12-01T10:00:02.250Z" });
    const run = details(runId, "interrupted", null, [done, cut]);
    const exported = await buildJsonExport(run, plan(["a", "b"]), artifacts);
    expect(exported.run).toMatchObject({ status: "interrupted", duration_seconds: 2.25 });
    expect(exported.pending).toEqual(["b"]);
  });

  it("gives a run that stopped before any artifact started a duration of zero", async () => {
    const artifacts = createMemoryArtifactStore();
    const runId = newRunId();
    const run = details(runId, "interrupted", null, [state("a", {})]);
    expect((await buildJsonExport(run, plan(["a"]), artifacts)).run.duration_seconds).toBe(0);
  });

  it("gives an output copied from another run a duration of zero, not null", async () => {
    // The artifact_reused event has no duration; upstream's output entry requires a number.
    const artifacts = createMemoryArtifactStore();
    const runId = newRunId();
    const copied = await completed(artifacts, runId, "copied", {
      started_at: "2026-12-01T10:00:01.000Z",
      finished_at: "2026-12-01T10:00:01.000Z",
      provenance: { from_run: newRunId(), from_artifact: "x", sha256: "y" },
    });
    const run = details(runId, "completed", "2026-12-01T10:00:03.000Z", [copied]);
    const exported = await buildJsonExport(run, plan(["copied"]), artifacts);
    expect(exported.run.duration_seconds).toBe(3);
    expect(exported.outputs).toHaveLength(1);
    expect(exported.outputs[0]).toMatchObject({ artifact_id: "copied", duration_seconds: 0 });
  });

  it("counts an artifact a finished run's log holds no outcome for as skipped, not as nothing", async () => {
    // The log lost every event of "b": the run finished, so b did not run; total is every artifact.
    const artifacts = createMemoryArtifactStore();
    const runId = newRunId();
    const done = await completed(artifacts, runId, "a", { duration_seconds: 1 });
    const run = details(runId, "completed", "2026-12-01T10:00:03.000Z", [done, state("b", {})]);
    const exported = await buildJsonExport(run, plan(["a", "b"]), artifacts);
    expect(exported.summary).toEqual({ total: 2, succeeded: 1, failed: 0, skipped: 1, pending: 0 });
    expect(exported.skipped).toEqual(["b"]);
    expect(exported.run.status).toBe("partial");
  });
});

/** An export of two outputs holding `data`. */
const exported = (data: unknown[]): JsonExport => ({
  format_version: "2.0.0",
  run: {
    id: "r",
    timestamp: "2026-12-01T10:00:00.000Z",
    duration_seconds: 1.5,
    status: "failed",
  },
  runbook: { name: "Zoë's scan — 日本", description: "line\nbreak", contact: null },
  summary: { total: 3, succeeded: 2, failed: 1, skipped: 0, pending: 0 },
  outputs: ["a", "b"].map((id) => ({
    artifact_id: id,
    duration_seconds: 0,
    name: null,
    description: undefined as unknown as null,
    contact: null,
    output_schema: { name: "standard_input", version: "1.0.0" },
    content: { schemaVersion: "1.0.0", name: "n", metadata: {}, data },
  })),
  errors: [{ artifact_id: "c", error: 'quote " and \\ backslash' }],
  skipped: [],
  pending: [],
});

describe("jsonExportChunks", () => {
  const item = (text: string) => ({
    content: text,
    metadata: { source: "ü/文件.txt", nested: { list: [1, [], {}, null, true], empty: {} } },
  });

  it("writes exactly what JSON.stringify(export, null, 2) writes, and a newline", () => {
    const value = exported([item("a\nb\t\u0000"), item(""), item("😀 \ud800")]);
    expect([...jsonExportChunks(value)].join("")).toBe(`${JSON.stringify(value, null, 2)}\n`);
  });

  it("never holds more than one data item in a piece, so outputs may exceed a string's length together", () => {
    // Each output holds 8 items of 256 KiB: whole outputs are never one piece.
    const big = "x".repeat(256 * 1024);
    const value = exported(Array.from({ length: 8 }, () => item(big)));
    const chunks = [...jsonExportChunks(value)];
    expect(chunks.join("")).toBe(`${JSON.stringify(value, null, 2)}\n`);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(big.length + 1024);
  });
});

describe("jsonExportPieces", () => {
  // Many small items, over a megabyte in all: what a large run's findings look like.
  const many = Array.from({ length: 20_000 }, (_, i) => ({
    content: `user${i}@example.com`,
    metadata: { source: `t/${i}` },
  }));

  it("makes an export that fits in a string with one JSON.stringify, not item by item", () => {
    const value = exported(many);
    const pieces = jsonExportPieces(value);
    expect(pieces).toEqual([`${JSON.stringify(value, null, 2)}\n`]);
    expect(pieces[0]!.length).toBeGreaterThan(1 << 20);
  });

  it("writes an export longer than a string can be in pieces of the same text", () => {
    const value = exported(many);
    const whole = `${JSON.stringify(value, null, 2)}\n`;
    // As V8 answers a document longer than its longest string.
    const stringify = vi.spyOn(JSON, "stringify").mockImplementationOnce(() => {
      throw new RangeError("Invalid string length");
    });
    try {
      const pieces = jsonExportPieces(value);
      expect(pieces.length).toBeGreaterThan(1);
      expect(pieces.join("")).toBe(whole);
    } finally {
      stringify.mockRestore();
    }
  });
});
