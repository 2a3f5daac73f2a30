import { describe, expect, it } from "vitest";
import { commandWith } from "./io.js";

describe("commandWith", () => {
  it("replaces the flag, keeps the rest and quotes for a shell", () => {
    expect(commandWith(["runs", "--cursor", "old", "--status", "failed"], "--cursor", "new")).toBe(
      "wct runs --status failed --cursor new",
    );
    expect(
      commandWith(["run", "it's.yaml", "--resume=abc", "--store-path", ""], "--resume", "x"),
    ).toBe("wct run 'it'\\''s.yaml' --store-path '' --resume x");
  });

  it("puts the flag before a '--', after which everything is an argument", () => {
    expect(commandWith(["run", "--store-path", "st", "--", "-odd.yaml"], "--resume", "id")).toBe(
      "wct run --store-path st --resume id -- -odd.yaml",
    );
  });
});
