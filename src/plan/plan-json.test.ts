import { describe, expect, it } from "vitest";
import { canonicalJson } from "./plan-json.js";

describe("canonicalJson", () => {
  it("writes object keys sorted at every depth, leaving out undefined values", () => {
    expect(canonicalJson({ b: 1, a: [2, { d: undefined, c: "é\n" }], "10": true, "9": null })).toBe(
      '{"10":true,"9":null,"a":[2,{"c":"é\\n"}],"b":1}',
    );
  });

  it("writes equal values alike whatever their key order", () => {
    const one = { source: { type: "filesystem", properties: { path: "data", max_files: 5 } } };
    const two = { source: { properties: { max_files: 5, path: "data" }, type: "filesystem" } };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
  });

  it("writes what JSON cannot hold inside a list as nothing, as stored plans were hashed", () => {
    expect(canonicalJson([1, undefined, null, []])).toBe("[1,,null,[]]");
    expect(canonicalJson({})).toBe("{}");
    expect(canonicalJson("x")).toBe('"x"');
  });
});
