import { Writable } from "node:stream";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it, vi } from "vitest";
import type { EngineEvent } from "../../execute/events.js";
import { displayWidth } from "../table.js";
import { createTerminalReporter, terminalOutput } from "./terminal.js";

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

const base = { event_id: "e", at: "2026-11-25T10:00:00.000Z", run_id: "r" };
const events: EngineEvent[] = [
  { ...base, type: "artifact_started", artifact_id: "files" },
  { ...base, type: "artifact_warning", artifact_id: "files", message: "1 binary file skipped" },
  {
    ...base,
    type: "artifact_completed",
    artifact_id: "files",
    sha256: "ab",
    bytes: 2048,
    schema: { name: "standard_input", version: "1.0.0" },
    duration_seconds: 0.25,
  },
  { ...base, type: "artifact_failed", artifact_id: "scan", error: "boom", duration_seconds: 0.1 },
  { ...base, type: "artifact_skipped", artifact_id: "gdpr", because: "scan failed" },
];

describe("terminal reporter", () => {
  it("prints one plain line per finished artifact and warning when not on a TTY", () => {
    const out = sink();
    const reporter = createTerminalReporter(out.stream, ["files", "scan", "gdpr"], {
      live: false,
      color: false,
    });
    for (const e of events) reporter.listener(e);
    reporter.close();
    expect(out.text()).toBe(
      "! files: 1 binary file skipped\n✓ files 0.25 s, 2.0 KiB\n✗ scan boom\n- gdpr scan failed\n",
    );
  });

  it("redraws the task list in place on a TTY", () => {
    vi.useFakeTimers();
    try {
      const out = sink();
      const reporter = createTerminalReporter(out.stream, ["files", "scan", "gdpr"], {
        live: true,
        color: false,
      });
      reporter.listener(events[0]!);
      vi.advanceTimersByTime(100);
      expect(out.text()).toContain("… files");
      expect(out.text()).toContain("· scan");
      for (const e of events.slice(1)) reporter.listener(e);
      reporter.close();
      const text = out.text();
      expect(text).toContain("\x1b[3A"); // moved up over the three rows to redraw them
      expect(text.slice(text.lastIndexOf("✓ files"))).toContain("✗ scan boom");
      expect(text).toContain("! files: 1 binary file skipped");
    } finally {
      vi.useRealTimers();
    }
  });

  it("cuts live rows to the terminal's width before colouring them, then shows failures whole", () => {
    const out = sink();
    Object.assign(out.stream, { columns: 24 });
    const reporter = createTerminalReporter(out.stream, ["scan"], { live: true, color: true });
    const error = "sqlite: 'bad.db' is not a SQLite database (it lacks the SQLite file header)";
    reporter.listener({
      ...base,
      type: "artifact_failed",
      artifact_id: "scan",
      error,
      duration_seconds: 0.1,
    });
    reporter.close();
    const [row, full] = out.text().replace("\r\x1b[2K", "").split("\n");
    // 23 visible characters, and every colour opened is closed.
    expect(stripVTControlCharacters(row!)).toBe("✗ scan sqlite: 'bad.db…");
    expect(row!.endsWith("\x1b[22m")).toBe(true);
    expect(stripVTControlCharacters(full!)).toBe(`✗ scan: ${error}`);
  });

  /** What each redraw wrote: the lines of the list, and how far it moved up first. */
  function draws(text: string) {
    return text
      .split("\r")
      .filter((chunk) => chunk.includes("\x1b[2K"))
      .map((chunk) => ({
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the cursor-up sequence is the point
        up: Number(/^\x1b\[(\d+)A/.exec(chunk)?.[1] ?? 0),
        lines: chunk.split("\n").filter((l) => l.includes("\x1b[2K")),
      }));
  }

  it("keeps the live list within the terminal's height, and shows it whole at the end", () => {
    vi.useFakeTimers();
    try {
      const out = sink();
      Object.assign(out.stream, { columns: 60, rows: 10 });
      const ids = Array.from({ length: 300 }, (_, i) => `artifact_${i}`);
      const reporter = createTerminalReporter(out.stream, ids, { live: true, color: false });
      for (const [i, id] of ids.entries()) {
        reporter.listener({ ...base, type: "artifact_started", artifact_id: id });
        if (i > 1) {
          const done = ids[i - 2]!;
          reporter.listener(
            i === 5
              ? {
                  ...base,
                  type: "artifact_failed",
                  artifact_id: done,
                  error: "boom",
                  duration_seconds: 0.1,
                }
              : ({ ...events[2]!, artifact_id: done } as EngineEvent),
          );
        }
        vi.advanceTimersByTime(100);
      }
      const live = draws(out.text());
      expect(live.length).toBeGreaterThan(100);
      // Never taller than the screen (one row kept for the cursor), so no redraw scrolls.
      for (const draw of live) {
        expect(draw.lines.length).toBeLessThanOrEqual(9);
        expect(draw.up).toBeLessThanOrEqual(9);
      }
      const last = live.at(-1)!.lines.map((l) => stripVTControlCharacters(l));
      expect(last).toEqual([
        "… artifact_298",
        "… artifact_299",
        "✗ artifact_3 boom",
        "… 297 completed",
      ]);
      out.stream.write("\r"); // the final draw starts here
      reporter.close();
      const whole = draws(out.text()).at(-1)!;
      expect(whole.up).toBe(4);
      expect(whole.lines).toHaveLength(300);
    } finally {
      vi.useRealTimers();
    }
  });

  it("prints a notice above the live list, back at the line's start, and draws the list below it", () => {
    vi.useFakeTimers();
    try {
      const out = sink();
      const reporter = createTerminalReporter(out.stream, ["files", "scan"], {
        live: true,
        color: false,
      });
      reporter.listener(events[0]!);
      vi.advanceTimersByTime(100);
      const before = out.text().length;
      // As Ctrl-C's `stopping:` (the terminal echoed `^C` after the list).
      reporter.notice("stopping: finishing the run record\n");
      vi.advanceTimersByTime(100);
      expect(out.text().slice(before)).toBe(
        "\r\x1b[2A\x1b[2K\n\x1b[2K\n\x1b[2K\x1b[2Astopping: finishing the run record\n" +
          "\r\x1b[2K… files\n\x1b[2K· scan\n\x1b[0J",
      );
      reporter.close();
      reporter.notice("after\n");
      expect(out.text().endsWith("after\n")).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("cuts rows with wide characters to the terminal's columns", () => {
    const out = sink();
    Object.assign(out.stream, { columns: 20 });
    const id = "データ_個人情報_検出_とても長い";
    const reporter = createTerminalReporter(out.stream, [id], { live: true, color: false });
    reporter.close();
    const row = stripVTControlCharacters(out.text().split("\n")[0]!.replace("\r", ""));
    expect(row).toBe("· データ_個人情報_…");
    expect(displayWidth(row)).toBe(19);
  });

  it("clears the list's rows one by one for text above it, never the screen from the list's top", () => {
    // tmux (`scroll-on-clear`, on by default) takes an erase-below issued at the screen's top-left
    // for a cleared screen and copies the screen into the scrollback first: a list as tall as the
    // terminal, whose top is the screen's top, left a copy of itself there at every warning.
    vi.useFakeTimers();
    try {
      const out = sink();
      Object.assign(out.stream, { columns: 60, rows: 4 });
      const ids = ["a", "b", "c", "d", "e"];
      const reporter = createTerminalReporter(out.stream, ids, { live: true, color: false });
      reporter.listener({ ...base, type: "artifact_started", artifact_id: "a" });
      vi.advanceTimersByTime(100);
      const before = out.text().length;
      reporter.listener({ ...base, type: "artifact_warning", artifact_id: "a", message: "w" });
      vi.advanceTimersByTime(100);
      // Up over the list's 2 rows, each row and the cursor's cleared, back up, the warning, the list.
      expect(out.text().slice(before)).toBe(
        "\r\x1b[2A\x1b[2K\n\x1b[2K\n\x1b[2K\x1b[2A! a: w\n" +
          "\r\x1b[2K… a\n\x1b[2K… 4 waiting\n\x1b[0J",
      );
      reporter.close();
      // An erase-below only ever follows a row just drawn, so it never starts at the list's top.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the cursor-up sequence is the point
      expect(out.text()).not.toMatch(/\x1b\[\d+A\x1b\[0J/);
    } finally {
      vi.useRealTimers();
    }
  });

  it("draws the list again when the terminal is resized, from where the rewrapped list starts", () => {
    vi.useFakeTimers();
    try {
      const out = sink();
      Object.assign(out.stream, { columns: 60, rows: 20 });
      const ids = ["files", "scan_of_every_table_of_the_customer_database"];
      const reporter = createTerminalReporter(out.stream, ids, { live: true, color: false });
      reporter.listener({ ...events[2]!, artifact_id: "files" } as EngineEvent);
      vi.advanceTimersByTime(100);
      // Drawn at 60 columns: `✓ files 0.25 s, 2.0 KiB` (23) and the waiting row (47), one row
      // each. At 20 columns a rewrapping terminal shows them in 2 and 3 rows.
      Object.assign(out.stream, { columns: 20 });
      const before = out.text().length;
      out.stream.emit("resize");
      vi.advanceTimersByTime(100);
      const redrawn = out.text().slice(before);
      expect(redrawn.startsWith("\r\x1b[5A")).toBe(true);
      const rows = redrawn.split("\n").filter((l) => l.includes("\x1b[2K"));
      expect(rows.map((l) => stripVTControlCharacters(l).replace("\r", ""))).toEqual([
        "✓ files 0.25 s, 2.…",
        "· scan_of_every_ta…",
      ]);
      // Then one row each again, at the new width.
      reporter.listener({ ...base, type: "artifact_started", artifact_id: ids[1]! });
      vi.advanceTimersByTime(100);
      expect(
        out
          .text()
          .slice(before + redrawn.length)
          .startsWith("\r\x1b[2A"),
      ).toBe(true);
      reporter.close();
      expect(out.stream.listenerCount("resize")).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("counts the rows it leaves out by symbol when their words do not fit", () => {
    vi.useFakeTimers();
    try {
      const out = sink();
      Object.assign(out.stream, { columns: 24, rows: 3 });
      const ids = Array.from({ length: 12 }, (_, i) => `a${i}`);
      const reporter = createTerminalReporter(out.stream, ids, { live: true, color: false });
      for (const id of ids.slice(0, 3)) {
        reporter.listener({ ...base, type: "artifact_started", artifact_id: id });
      }
      reporter.listener({ ...events[2]!, artifact_id: "a3" } as EngineEvent);
      vi.advanceTimersByTime(100);
      const last = draws(out.text())
        .at(-1)!
        .lines.map((l) => stripVTControlCharacters(l));
      // `… 2 more running, 1 completed, 8 waiting` needs 40 columns.
      expect(last).toEqual(["… a0", "… +…2 ✓1 ·8"]);
      Object.assign(out.stream, { columns: 60 });
      out.stream.emit("resize");
      vi.advanceTimersByTime(100);
      expect(stripVTControlCharacters(draws(out.text()).at(-1)!.lines[1]!)).toBe(
        "… 2 more running, 1 completed, 8 waiting",
      );
      reporter.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it("draws live and in colour only on a terminal that can show it", () => {
    const tty = { isTTY: true };
    expect(terminalOutput(tty, {})).toEqual({ live: true, color: true });
    expect(terminalOutput(tty, { NO_COLOR: "1" })).toEqual({ live: true, color: false });
    // An empty NO_COLOR counts as unset (no-color.org).
    expect(terminalOutput(tty, { NO_COLOR: "" })).toEqual({ live: true, color: true });
    // `TERM=dumb` (Emacs' shell, some CI consoles): a terminal without cursor movement or colour,
    // where the list's escape sequences would show as text.
    expect(terminalOutput(tty, { TERM: "dumb" })).toEqual({ live: false, color: false });
    expect(terminalOutput({}, {})).toEqual({ live: false, color: false });
    expect(terminalOutput({ isTTY: false }, {})).toEqual({ live: false, color: false });
  });
});
