import { Writable } from "node:stream";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it, vi } from "vitest";
import type { EngineEvent } from "../../execute/events.js";
import { createTerminalReporter } from "./terminal.js";

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
    const [row, full] = out.text().replace("\x1b[2K", "").split("\n");
    // 23 visible characters, and every colour opened is closed.
    expect(stripVTControlCharacters(row!)).toBe("✗ scan sqlite: 'bad.db…");
    expect(row!.endsWith("\x1b[22m")).toBe(true);
    expect(stripVTControlCharacters(full!)).toBe(`✗ scan: ${error}`);
  });
});
