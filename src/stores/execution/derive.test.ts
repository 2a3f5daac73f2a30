import { describe, expect, it } from "vitest";
import { InputError } from "../../errors.js";
import {
  checkEvents,
  deriveArtifactStates,
  deriveCounts,
  recordAfterEvents,
  recordForNewRun,
  storedEventProblem,
} from "./derive.js";
import type { NewRun, RunEvent } from "./store.js";

const schema = { name: "standard_input", version: "1.0.0" };
let counter = 0;
function at(second: number): string {
  return new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();
}
function ev(second: number, body: Record<string, unknown>): RunEvent {
  counter += 1;
  return { event_id: `e${counter}`, at: at(second), ...body } as RunEvent;
}
const started = (id: string, s: number) => ev(s, { type: "artifact_started", artifact_id: id });
const completed = (id: string, s: number) =>
  ev(s, {
    type: "artifact_completed",
    artifact_id: id,
    sha256: "ab",
    bytes: 3,
    schema,
    duration_seconds: 1,
  });
const runStarted = (s: number, attempt: number) =>
  ev(s, { type: "run_started", attempt, resumed: attempt > 1, pid: 1, host: "h" });

describe("deriveArtifactStates", () => {
  it("starts every planned artifact as not_started, in plan order", () => {
    const states = deriveArtifactStates(["b", "a"], []);
    expect(states.map((s) => [s.id, s.status])).toEqual([
      ["b", "not_started"],
      ["a", "not_started"],
    ]);
  });

  it("lets the latest event of each artifact win", () => {
    const states = deriveArtifactStates(
      ["a", "b"],
      [
        started("a", 1),
        ev(2, { type: "artifact_failed", artifact_id: "a", error: "boom", duration_seconds: 1 }),
        started("a", 3),
        completed("a", 4),
        started("b", 5),
      ],
    );
    expect(states[0]).toMatchObject({
      status: "completed",
      started_at: at(3),
      finished_at: at(4),
      error: null,
      sha256: "ab",
    });
    expect(states[1]).toMatchObject({ status: "running", started_at: at(5), finished_at: null });
  });

  it("resets only artifacts left running when a new attempt starts", () => {
    const states = deriveArtifactStates(
      ["a", "b", "c"],
      [
        runStarted(0, 1),
        started("a", 1),
        completed("a", 2),
        started("b", 3),
        ev(4, { type: "artifact_skipped", artifact_id: "c", because: "interrupted" }),
        runStarted(10, 2),
      ],
    );
    expect(states.map((s) => s.status)).toEqual(["completed", "not_started", "skipped"]);
    expect(states[1]!.started_at).toBeNull();
  });

  it("counts a reused artifact as completed, with provenance", () => {
    const [state] = deriveArtifactStates(
      ["a"],
      [
        ev(1, {
          type: "artifact_reused",
          artifact_id: "a",
          from_run: "r0",
          from_artifact: "a0",
          source_sha256: "src",
          sha256: "copy",
          bytes: 9,
          schema,
        }),
      ],
    );
    expect(state).toMatchObject({
      status: "completed",
      sha256: "copy",
      bytes: 9,
      provenance: { from_run: "r0", from_artifact: "a0", sha256: "src" },
    });
  });

  it("keeps artifacts known only from the log after the planned ones", () => {
    const states = deriveArtifactStates(["a"], [started("old", 1)]);
    expect(states.map((s) => s.id)).toEqual(["a", "old"]);
  });
});

describe("deriveCounts", () => {
  it("counts every status, zero included", () => {
    const states = deriveArtifactStates(["a", "b", "c"], [started("a", 1), completed("b", 2)]);
    expect(deriveCounts(states)).toEqual({
      not_started: 1,
      running: 1,
      completed: 1,
      failed: 0,
      skipped: 0,
    });
  });
});

const newRun: NewRun = {
  run_id: "r1",
  runbook: { name: "n", path: "p.yaml", sha256: "s", text: "t" },
  tool_version: "0.1.0",
  user: "u",
  host: "h",
  argv: ["wct"],
  artifact_ids: ["a", "b"],
  plan: {},
  started_at: at(0),
};

describe("recordAfterEvents", () => {
  it("changes nothing for artifact events", () => {
    const record = recordForNewRun(newRun);
    expect(recordAfterEvents(record, [started("a", 1)], [started("a", 1)])).toBeNull();
  });

  it("records the final status, time and counts at run_finished", () => {
    const record = recordForNewRun(newRun);
    const log = [runStarted(0, 1), started("a", 1), completed("a", 2)];
    const finished = ev(3, { type: "run_finished", status: "interrupted", reason: "SIGINT" });
    const next = recordAfterEvents(record, [finished], [...log, finished]);
    expect(next).toMatchObject({
      status: "interrupted",
      finished_at: at(3),
      counts: { completed: 1, not_started: 1 },
    });
  });

  it("marks the run running again when an attempt starts", () => {
    const record = { ...recordForNewRun(newRun), status: "failed" as const, finished_at: at(5) };
    const next = recordAfterEvents(record, [runStarted(6, 2)], [runStarted(6, 2)]);
    expect(next).toMatchObject({ status: "running", finished_at: null, attempt: 2 });
  });
});

describe("checkEvents", () => {
  it("rejects events without an id, a time or a known type", () => {
    const bad = [
      [{ at: at(0), type: "artifact_started" }],
      [{ event_id: "x", type: "artifact_started" }],
      [{ event_id: "x", at: at(0), type: "nope" }],
      [null],
    ] as unknown as RunEvent[][];
    for (const events of bad) expect(() => checkEvents("r", events)).toThrow(InputError);
    expect(() => checkEvents("r", [started("a", 1)])).not.toThrow();
    // Nor one that would read back as corrupt: a field of its type missing or malformed.
    expect(() =>
      checkEvents("r", [{ ...completed("a", 2), sha256: 5 } as unknown as RunEvent]),
    ).toThrow("Event 0 for run r: artifact_completed event with a missing or malformed 'sha256'.");
  });
});

describe("storedEventProblem", () => {
  it("accepts every event the executor logs and names the field a damaged one lacks", () => {
    const good = [
      runStarted(0, 1),
      started("a", 1),
      completed("a", 2),
      ev(3, { type: "artifact_failed", artifact_id: "b", error: "boom", duration_seconds: 1 }),
      ev(4, { type: "artifact_skipped", artifact_id: "c", because: "b failed" }),
      ev(5, {
        type: "artifact_reused",
        artifact_id: "d",
        from_run: "r0",
        from_artifact: "a",
        source_sha256: "ab",
        sha256: "cd",
        bytes: 3,
        schema,
      }),
      ev(6, { type: "run_finished", status: "failed", reason: "b failed" }),
    ];
    for (const event of good) expect(storedEventProblem(event)).toBeNull();
    expect(storedEventProblem({ ...completed("a", 2), sha256: 5 })).toBe(
      "artifact_completed event with a missing or malformed 'sha256'",
    );
    expect(storedEventProblem({ ...completed("a", 2), duration_seconds: "1" })).toContain(
      "'duration_seconds'",
    );
    expect(storedEventProblem({ ...completed("a", 2), schema: "x" })).toContain("'schema'");
    expect(storedEventProblem({ ...started("a", 1), artifact_id: {} })).toContain("'artifact_id'");
    for (const id of ["../../etc/passwd", "/abs", "a//b", ""]) {
      expect(storedEventProblem({ ...completed("a", 2), artifact_id: id }), id).toContain(
        "'artifact_id'",
      );
    }
    expect(storedEventProblem({ ...started("a/b.c", 1) })).toBeNull();
    expect(storedEventProblem({ ...runStarted(0, 1), attempt: "2" })).toContain("'attempt'");
    expect(storedEventProblem(ev(7, { type: "run_finished", status: "running" }))).toContain(
      "'status'",
    );
    expect(storedEventProblem(ev(7, { type: "bogus" }))).toBe("unknown type 'bogus'");
    expect(storedEventProblem([])).toBe("not an event");
    expect(storedEventProblem({ ...started("a", 1), at: 5 })).toBe("missing 'at' time");
  });
});
