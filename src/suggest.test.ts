import { describe, expect, it } from "vitest";
import { closestMatch, editDistance } from "./suggest.js";

describe("editDistance", () => {
  it("counts a swap of adjacent characters as one edit", () => {
    expect(editDistance("inptus", "inputs")).toBe(1);
    expect(editDistance("abc", "abc")).toBe(0);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });
});

describe("closestMatch", () => {
  const keys = ["name", "description", "inputs", "outputs", "artifacts"];

  it("suggests the nearest candidate within the typo limit", () => {
    expect(closestMatch("inptus", keys)).toBe("inputs");
    expect(closestMatch("artifact", keys)).toBe("artifacts");
    expect(closestMatch("Descripton", keys)).toBe("description");
  });

  it("suggests nothing for a word that is not a plausible typo", () => {
    expect(closestMatch("zzz", keys)).toBeUndefined();
    expect(closestMatch("anything", [])).toBeUndefined();
  });
});
