import { describe, expect, it } from "vitest";
import { InputError, RunNotFoundError } from "../../errors.js";
import { newRunId } from "../keys.js";
import { parseRunFilter, resolvePrefix, screenRunId, visibleStatus } from "./run-query.js";

describe("screenRunId", () => {
  const hour = 3_600_000;
  it("stops at UUIDv7 IDs made well before `since`, and reads others", () => {
    const id = newRunId();
    const now = Date.now();
    expect(screenRunId(id, parseRunFilter({ since: new Date(now + hour).toISOString() }))).toBe(
      "stop",
    );
    expect(screenRunId(id, parseRunFilter({ since: new Date(now - hour).toISOString() }))).toBe(
      "read",
    );
    // Within the slack: the run's started_at may trail its ID a little.
    expect(screenRunId(id, parseRunFilter({ since: new Date(now + 1000).toISOString() }))).toBe(
      "read",
    );
    expect(screenRunId("custom-id", parseRunFilter({ since: new Date(now).toISOString() }))).toBe(
      "read",
    );
  });

  it("skips UUIDv7 IDs made well after `until`", () => {
    const id = newRunId();
    const now = Date.now();
    expect(screenRunId(id, parseRunFilter({ until: new Date(now - hour).toISOString() }))).toBe(
      "skip",
    );
    expect(screenRunId(id, parseRunFilter({ until: new Date(now + hour).toISOString() }))).toBe(
      "read",
    );
  });
});

describe("parseRunFilter", () => {
  it("defaults the limit to 100 and bounds it", () => {
    expect(parseRunFilter().limit).toBe(100);
    expect(() => parseRunFilter({ limit: 10_001 })).toThrow(InputError);
    expect(() => parseRunFilter({ until: "soon" })).toThrow("Invalid 'until' time 'soon'");
  });
});

describe("resolvePrefix", () => {
  it("reads a run ID of hex digits in either case, as wct writes them (lower case)", () => {
    const ids = ["01a24238-94c4-7411", "01b00000-0000-7000", "Run-X"];
    expect(resolvePrefix("01A24238-94C4-7411", ids)).toBe("01a24238-94c4-7411");
    expect(resolvePrefix("01A2", ids)).toBe("01a24238-94c4-7411");
    // Other run IDs keep their case.
    expect(resolvePrefix("Run-X", ids)).toBe("Run-X");
    expect(() => resolvePrefix("RUN-X", ids)).toThrow(RunNotFoundError);
    // An ID of exactly that name is that run, not the one it names in lower case.
    expect(resolvePrefix("01A24238-94C4-7411", [...ids, "01A24238-94C4-7411"])).toBe(
      "01A24238-94C4-7411",
    );
  });

  it("prefers an exact match over longer IDs sharing it", () => {
    expect(resolvePrefix("run-1", ["run-10", "run-1", "run-11"])).toBe("run-1");
  });

  it("lists at most 5 candidates when ambiguous", () => {
    const ids = Array.from({ length: 7 }, (_, i) => `run-${i}`);
    expect(() => resolvePrefix("run-", ids)).toThrow(
      "Run ID prefix 'run-' is ambiguous: it matches run-6, run-5, run-4, run-3, run-2 and 2 more.",
    );
    expect(() => resolvePrefix("xxxx", ids)).toThrow(RunNotFoundError);
  });

  it("refuses a prefix shorter than 4 characters, even when only one run matches", () => {
    const ids = ["0a1b-only", "x"];
    expect(() => resolvePrefix("0", ids)).toThrow(
      "Run ID prefix '0' is too short: give at least 4 characters (or the whole run ID).",
    );
    expect(() => resolvePrefix("0a1", ids)).toThrow(InputError);
    expect(resolvePrefix("0a1b", ids)).toBe("0a1b-only");
    expect(resolvePrefix("x", ids)).toBe("x");
  });
});

describe("visibleStatus", () => {
  it("shows a running run without a live lease as interrupted", () => {
    expect(visibleStatus("running", false)).toBe("interrupted");
    expect(visibleStatus("running", true)).toBe("running");
    expect(visibleStatus("completed", false)).toBe("completed");
  });
});
