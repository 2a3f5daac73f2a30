import { describe, expect, it } from "vitest";
import { commandWith } from "./io.js";

const typed = (argv: string[], env: Record<string, string> = {}) => ({ argv, env, cwd: "/work" });

describe("commandWith", () => {
  it("replaces the flag, keeps the rest and quotes for a shell", () => {
    expect(
      commandWith(typed(["runs", "--cursor", "old", "--status", "failed"]), "--cursor", "new"),
    ).toBe("wct runs --status failed --cursor new");
    expect(
      commandWith(typed(["run", "it's.yaml", "--resume=abc", "--store-path", ""]), "--resume", "x"),
    ).toBe("wct run 'it'\\''s.yaml' --store-path '' --resume x");
  });

  it("puts the flag before a '--', after which everything is an argument", () => {
    expect(
      commandWith(typed(["run", "--store-path", "st", "--", "-odd.yaml"]), "--resume", "id"),
    ).toBe("wct run --store-path st --resume id -- -odd.yaml");
  });

  it("names the store WAIVERN_STORE_PATH chose, unless the command names one", () => {
    const env = { WAIVERN_STORE_PATH: "ci-store" };
    expect(commandWith(typed(["run", "rb.yaml"], env), "--resume", "id")).toBe(
      "wct run rb.yaml --store-path /work/ci-store --resume id",
    );
    expect(commandWith(typed(["run", "rb.yaml", "--store-path=s"], env), "--resume", "id")).toBe(
      "wct run rb.yaml --store-path=s --resume id",
    );
  });
});
