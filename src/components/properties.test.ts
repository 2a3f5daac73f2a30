import { describe, expect, it } from "vitest";
import { filesystemConnector } from "../connectors/filesystem.js";
import { ComponentError } from "../errors.js";
import { closestMatch } from "../suggest.js";
import { assertValidProperties, checkExtractCall, checkProperties } from "./properties.js";
import type { PropertyDoc } from "./types.js";

const docs: PropertyDoc[] = [
  { name: "path", type: "string", required: true, description: "" },
  { name: "max_files", type: "integer", required: false, default: 1000, description: "" },
  { name: "ratio", type: "number", required: false, description: "" },
  { name: "follow", type: "boolean", required: false, description: "" },
  { name: "include_patterns", type: "string[]", required: false, description: "" },
  { name: "pattern_matching", type: "object", required: false, description: "" },
  { name: "errors", type: "strict|replace|ignore", required: false, description: "" },
];

describe("checkProperties", () => {
  it("accepts well-typed properties", () => {
    expect(
      checkProperties(
        {
          path: "data",
          max_files: 5,
          ratio: 0.5,
          follow: false,
          include_patterns: ["*.txt"],
          pattern_matching: { ruleset: "x" },
          errors: "ignore",
        },
        docs,
      ),
    ).toEqual([]);
  });

  it("reports a missing required property", () => {
    expect(checkProperties({}, docs)).toEqual([{ path: "path", message: "is required" }]);
  });

  it("reports each wrong type with what it got", () => {
    const issues = checkProperties(
      {
        path: 3,
        max_files: 2.5,
        ratio: "half",
        follow: "yes",
        include_patterns: "*.txt",
        pattern_matching: [1],
        errors: "loud",
      },
      docs,
    );
    expect(issues).toEqual([
      { path: "path", message: "must be a string, got 3" },
      { path: "max_files", message: "must be an integer, got 2.5" },
      { path: "ratio", message: "must be a number, got 'half'" },
      { path: "follow", message: "must be true or false, got 'yes'" },
      { path: "include_patterns", message: "must be a list of strings, got '*.txt'" },
      { path: "pattern_matching", message: "must be a mapping, got a list [1]" },
      { path: "errors", message: "must be one of 'strict', 'replace', 'ignore', got 'loud'" },
    ]);
  });

  it("takes text that spells the number or boolean expected (an environment value), converted", () => {
    const properties: Record<string, unknown> = {
      path: "42",
      max_files: "50",
      ratio: "0.5",
      follow: "true",
    };
    expect(checkProperties(properties, docs)).toEqual([]);
    // A string property keeps its text.
    expect(properties).toEqual({ path: "42", max_files: 50, ratio: 0.5, follow: true });
    expect(checkProperties({ path: "p", max_files: "5.5", follow: "yes" }, docs)).toEqual([
      { path: "max_files", message: "must be an integer, got '5.5'" },
      { path: "follow", message: "must be true or false, got 'yes'" },
    ]);
  });

  it("refuses an integer beyond 2^53, which YAML would not read back as written", () => {
    expect(checkProperties({ path: "p", max_files: 2 ** 63 }, docs)).toEqual([
      { path: "max_files", message: "must be at most 9007199254740991, got 9223372036854776000" },
    ]);
    expect(checkProperties({ path: "p", max_files: Number.MAX_SAFE_INTEGER }, docs)).toEqual([]);
  });

  it("suggests the closest known name for an unknown one and applies the prefix", () => {
    const [issue] = checkProperties({ path: "x", max_file: 3 }, docs, "source.");
    expect(issue?.path).toBe("source.max_file");
    expect(issue?.message).toMatch(/^unknown property \(did you mean 'max_files'\?\)/);
  });

  it("does not suggest anything for a name unlike any known one", () => {
    expect(closestMatch("completely_different", ["path", "errors"])).toBeUndefined();
    expect(closestMatch("ENCODING", ["encoding"])).toBe("encoding");
    expect(closestMatch("database", ["max_rows", "database_path"])).toBe("database_path");
  });
});

describe("assertValidProperties", () => {
  it("throws a ComponentError naming the component and each property", () => {
    const issues = checkProperties({ max_files: "many" }, docs);
    expect(() => assertValidProperties("filesystem", issues)).toThrow(ComponentError);
    expect(() => assertValidProperties("filesystem", issues)).toThrow(
      "Invalid properties for 'filesystem':\nproperties.path: is required\nproperties.max_files: must be an integer, got 'many'",
    );
    expect(() => assertValidProperties("filesystem", [])).not.toThrow();
  });
});

describe("checkExtractCall", () => {
  const standard = { name: "standard_input", version: "1.0.0" };

  it("refuses a schema the connector does not produce, and invalid properties", () => {
    expect(() =>
      checkExtractCall(filesystemConnector, { path: "." }, { name: "other", version: "1.0.0" }),
    ).toThrow("filesystem produces standard_input/1.0.0, not other/1.0.0");
    expect(() => checkExtractCall(filesystemConnector, { max_files: 3 }, standard)).toThrow(
      /Invalid properties for 'filesystem':\n.*properties\.path: is required/,
    );
    expect(() => checkExtractCall(filesystemConnector, { path: "." }, standard)).not.toThrow();
  });
});
