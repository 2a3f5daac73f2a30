import path from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidKeyError } from "../errors.js";
import {
  newRunId,
  rememberLastRun,
  resolveInside,
  runIdTimestamp,
  validateArtifactKey,
  validateKeyPrefix,
  validateRunId,
} from "./keys.js";

describe("validateRunId", () => {
  it("accepts generated and other safe IDs", () => {
    const id = newRunId();
    expect(validateRunId(id)).toBe(id);
    for (const ok of ["run-1", "A_b.c", "x".repeat(200)]) expect(validateRunId(ok)).toBe(ok);
  });

  it.each([
    ["", /empty/],
    ["..", /must not start with '.'/],
    [".", /must not start with '.'/],
    [".hidden", /must not start with '.'/],
    ["../etc", /only letters/],
    ["/etc/passwd", /only letters/],
    ["a\\b", /only letters/],
    ["a\u0000b", /only letters/],
    ["a b", /only letters/],
    ["é", /only letters/],
    ["x".repeat(201), /longer than 200/],
  ])("rejects %j", (id, message) => {
    expect(() => validateRunId(id)).toThrow(InvalidKeyError);
    expect(() => validateRunId(id)).toThrow(message);
  });

  it("does not echo control characters in its message", () => {
    expect(() => validateRunId("a\u0007b")).toThrow('"a\\u0007b"');
  });
});

describe("validateArtifactKey", () => {
  it("accepts nested and unicode keys", () => {
    for (const ok of ["scan", "child/ns/out", "données", ".config/x", "a.b-c_d", "x".repeat(512)]) {
      expect(validateArtifactKey(ok)).toBe(ok);
    }
  });

  it.each([
    ["", /empty/],
    ["..", /'\.\.' segments/],
    ["a/../b", /'\.\.' segments/],
    ["/etc/passwd", /absolute/],
    ["C:/x", /absolute/],
    ["a\\b", /backslash/],
    ["a\u0000b", /control/],
    ["a\u001fb", /control/],
    ["a\u007fb", /control/],
    ["a//b", /empty or '\.'/],
    ["a/", /empty or '\.'/],
    ["./a", /empty or '\.'/],
    ["x".repeat(513), /longer than 512/],
  ])("rejects %j", (key, message) => {
    expect(() => validateArtifactKey(key)).toThrow(InvalidKeyError);
    expect(() => validateArtifactKey(key)).toThrow(message);
  });
});

describe("validateKeyPrefix", () => {
  it("accepts partial prefixes and a trailing slash", () => {
    for (const ok of ["", "a", "child/", "child/pa", "a/."]) expect(validateKeyPrefix(ok)).toBe(ok);
  });

  it("rejects traversal", () => {
    for (const bad of ["..", "../", "a/../", "/x", "a\\", "a\u0000", "a//b"]) {
      expect(() => validateKeyPrefix(bad), bad).toThrow(InvalidKeyError);
    }
  });
});

describe("resolveInside", () => {
  it("resolves paths inside the root and refuses those outside", () => {
    const root = path.resolve("/tmp/store");
    expect(resolveInside(root, "runs/x")).toBe(path.join(root, "runs", "x"));
    expect(resolveInside(root, ".")).toBe(root);
    expect(() => resolveInside(root, "../store-other/x")).toThrow(InvalidKeyError);
    expect(() => resolveInside(root, "/etc/passwd")).toThrow(InvalidKeyError);
    expect(() => resolveInside(root, "a/../../x")).toThrow(InvalidKeyError);
  });
});

describe("rememberLastRun", () => {
  it("computes a run's folder once per run in a row, and never remembers a refused ID", () => {
    const asked: string[] = [];
    const folderOf = rememberLastRun((runId) => {
      asked.push(runId);
      return `/store/runs/${validateRunId(runId)}`;
    });
    expect([folderOf("a"), folderOf("a"), folderOf("b"), folderOf("a")]).toEqual([
      "/store/runs/a",
      "/store/runs/a",
      "/store/runs/b",
      "/store/runs/a",
    ]);
    expect(asked).toEqual(["a", "b", "a"]);
    expect(() => folderOf("../x")).toThrow(InvalidKeyError);
    expect(() => folderOf("../x")).toThrow(InvalidKeyError);
    expect(folderOf("a")).toBe("/store/runs/a");
    expect(asked).toEqual(["a", "b", "a", "../x", "../x"]);
  });
});

describe("newRunId", () => {
  it("makes RFC 9562 version 7 UUIDs carrying the current time", () => {
    const before = Date.now();
    const id = newRunId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const time = runIdTimestamp(id)!;
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now() + 1);
  });

  it("sorts as strings in creation order, even within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => newRunId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it("decodes no time from IDs that are not UUIDv7", () => {
    expect(runIdTimestamp("run-1")).toBeNull();
    expect(runIdTimestamp("0190b2a0-0000-4000-8000-000000000000")).toBeNull();
    expect(runIdTimestamp("0190b2a0-0000-7000-8000-000000000000")).toBe(0x0190b2a00000);
  });
});
