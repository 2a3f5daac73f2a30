import { describe, expect, it } from "vitest";
import { CorruptDataError, NotFoundError } from "../errors.js";
import { type Message, sha256, sha256Off } from "../message.js";
import { createMemoryArtifactStore } from "./artifact/memory.js";
import type { StoredArtifact } from "./artifact/store.js";
import type { ArtifactState } from "./execution/store.js";
import { newRunId } from "./keys.js";
import { readRecordedBytes, verifyRecorded } from "./recorded.js";

const message = (text: string): Message => ({
  id: "m",
  content: { schemaVersion: "1.0.0", name: "n", data: [{ content: text, metadata: {} }] },
  schema: { name: "standard_input", version: "1.0.0" },
  context: null,
  run_id: "r",
  source: "test",
  timestamp: "2026-12-01T00:00:00.000Z",
  extensions: { execution: null },
});

/** What the event log records for an artifact stored as `stored`. */
const completedState = (id: string, stored: StoredArtifact): ArtifactState => ({
  id,
  status: "completed",
  started_at: null,
  finished_at: null,
  duration_seconds: null,
  error: null,
  because: null,
  sha256: stored.sha256,
  bytes: stored.bytes,
  schema: null,
  provenance: null,
});

describe("sha256Off", () => {
  it("agrees with sha256 below and above the size it moves off the main thread at", async () => {
    for (const size of [0, 10, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 7]) {
      const bytes = Buffer.alloc(size, size % 251);
      expect(await sha256Off(bytes)).toBe(sha256(bytes));
    }
  });
});

describe("readRecordedBytes", () => {
  it("accepts a large stored artifact whose bytes match and rejects one changed by a byte", async () => {
    const artifacts = createMemoryArtifactStore();
    const runId = newRunId();
    const stored = await artifacts.save(runId, "big", message("x".repeat(2 * 1024 * 1024)));
    const state = completedState("big", stored);
    expect((await readRecordedBytes(artifacts, runId, state)).length).toBe(stored.bytes);
    const changed = message(`${"x".repeat(2 * 1024 * 1024 - 1)}y`);
    await artifacts.save(runId, "big", changed);
    const error = await readRecordedBytes(artifacts, runId, state).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect(String(error)).toContain(`runs/${runId}/artifacts/big.json`);
  });
});

describe("verifyRecorded", () => {
  it("accepts matching bytes, rejects changed ones naming the file, and refuses unfinished artifacts", async () => {
    const artifacts = createMemoryArtifactStore();
    const runId = newRunId();
    const stored = await artifacts.save(runId, "scan", message("original"));
    const state = completedState("scan", stored);
    await expect(verifyRecorded(artifacts, runId, state)).resolves.toBeUndefined();
    await artifacts.save(runId, "scan", message("changed"));
    await expect(verifyRecorded(artifacts, runId, state)).rejects.toThrow(
      new RegExp(`runs/${runId}/artifacts/scan\\.json.*do not match the recorded sha256`),
    );
    await expect(
      verifyRecorded(artifacts, runId, { ...state, status: "failed", error: "boom" }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });
});
