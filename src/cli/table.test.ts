import { describe, expect, it } from "vitest";
import { fitWidth, oneLine, plural, renderTable } from "./table.js";

describe("terminal text", () => {
  it("cuts text to a width with an ellipsis, and leaves shorter text alone", () => {
    expect(fitWidth("Nightly scan of the customer databases", 12)).toBe("Nightly sca…");
    expect(fitWidth("short", 12)).toBe("short");
    expect(fitWidth("exactly-12ch", 12)).toBe("exactly-12ch");
  });

  it("counts nouns", () => {
    expect([plural(0, "run"), plural(1, "run"), plural(2, "run")]).toEqual([
      "0 runs",
      "1 run",
      "2 runs",
    ]);
  });

  it("escapes control characters and aligns columns by visible width", () => {
    expect(oneLine("a\u001b[2Jb\nc")).toBe("a\\u001b[2Jb\\nc");
    expect(
      renderTable(
        ["A", "B"],
        [
          ["\u001b[32mok\u001b[39m", "x"],
          ["long", "y"],
        ],
      ),
    ).toBe("A     B\n\u001b[32mok\u001b[39m    x\nlong  y\n");
  });
});
