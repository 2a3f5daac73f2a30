import { describe, expect, it } from "vitest";
import { displayWidth, fitWidth, oneLine, plural, renderTable } from "./table.js";

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
    // Bidirectional overrides and isolates would show other text than the name holds.
    expect(oneLine("invoice\u202Efdp.exe")).toBe("invoice\\u202efdp.exe");
    expect(oneLine("a\u2066b\u2069\u200fc\u2028d")).toBe("a\\u2066b\\u2069\\u200fc\\u2028d");
    expect(oneLine("naïve café — 日本")).toBe("naïve café — 日本");
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

  it("measures and cuts text in terminal columns: wide characters take two, accents none", () => {
    expect(displayWidth("データ_検出")).toBe(11);
    expect(displayWidth("cafe\u0301")).toBe(4);
    expect(displayWidth("\u001b[32m✓ ok\u001b[39m")).toBe(4);
    expect(displayWidth("a👍🏽b")).toBe(4);
    expect(fitWidth("日本語のランブック", 8)).toBe("日本語…");
    // A surrogate pair or an accent is never cut from its character.
    expect(fitWidth("ab👍🏽cd", 3)).toBe("ab…");
    expect(fitWidth("cafe\u0301s!", 5)).toBe("cafe\u0301…");
  });

  it("measures symbols, Latin, Greek and Cyrillic text without the segmenter, as it would", () => {
    // ⌚, ✅ and ❌ are drawn two columns wide; the rest one each.
    expect(displayWidth("✓ é — ⌚✅❌ Ωж")).toBe(15);
    expect(displayWidth("✗ scan_01 … → ½")).toBe(15);
    // A mark after such text joins the character before it: measured by the segmenter.
    expect(displayWidth("✓ e\u0301 ж\u0301")).toBe(5);
    expect(fitWidth("✓ source_01 0.06 s, 5.2 MiB", 10)).toBe("✓ source_…");
    expect(fitWidth("✓ source_01", Number.POSITIVE_INFINITY)).toBe("✓ source_01");
  });

  it("aligns columns holding wide characters by the columns they take", () => {
    expect(
      renderTable(
        ["ID", "STATUS"],
        [
          ["データ", "completed"],
          ["files", "failed"],
        ],
      ),
    ).toBe("ID      STATUS\nデータ  completed\nfiles   failed\n");
  });

  it("renders a table of hundreds of thousands of rows", () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [String(i), "x"]);
    expect(renderTable(["N", "X"], rows).split("\n")).toHaveLength(200_002);
  });
});
