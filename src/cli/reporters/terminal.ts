/**
 * @module The terminal reporter: subscribes to engine events and shows progress on stderr — a live
 * task list on a TTY, one plain line per event otherwise. It never touches stdout, which belongs
 * to `--json` output and the run ID.
 */
import type { Writable } from "node:stream";
import picocolors from "picocolors";
import type { EngineEvent } from "../../execute/events.js";
import { displayWidth, fitWidth, oneLine } from "../table.js";

export interface Reporter {
  /** Redrawn in place (cursor movement on a terminal), not one plain line per event. */
  live: boolean;
  listener(event: EngineEvent): void;
  /** Prints a line of text for the user (ending in `\n`); on a TTY above the live list. */
  notice(text: string): void;
  /** Stops live redrawing and leaves the final state on screen (the whole list). */
  close(): void;
}

interface Row {
  id: string;
  status: "waiting" | "running" | "completed" | "failed" | "skipped";
  note: string;
}

const SYMBOL: Record<Row["status"], string> = {
  waiting: "·",
  running: "…",
  completed: "✓",
  failed: "✗",
  skipped: "-",
};

// Colour is decided by the caller (`terminalOutput` of stderr), not by picocolors' look at stdout,
// which `id=$(wct run ...)` captures.
export const pc = picocolors.createColors(true);

/**
 * What `stream` can show: a live list (cursor movement) and colour on a terminal, plain lines
 * otherwise. `TERM=dumb` (Emacs' shell, some CI consoles) is a terminal that shows escape
 * sequences as text; `NO_COLOR` (set and not empty) turns colour off.
 */
export function terminalOutput(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined>,
): { live: boolean; color: boolean } {
  const live = Boolean(stream.isTTY) && env.TERM !== "dumb";
  return { live, color: live && !env.NO_COLOR };
}

function paint(status: Row["status"], text: string, color: boolean): string {
  if (!color) return text;
  if (status === "completed") return pc.green(text);
  if (status === "failed") return pc.red(text);
  if (status === "skipped") return pc.yellow(text);
  if (status === "running") return pc.cyan(text);
  return pc.dim(text);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The task-list row an event sets, or null for events that do not concern one artifact. */
function rowOf(event: EngineEvent): Row | null {
  switch (event.type) {
    case "artifact_started":
      return { id: event.artifact_id, status: "running", note: "" };
    case "artifact_completed":
      return {
        id: event.artifact_id,
        status: "completed",
        note: `${event.duration_seconds.toFixed(2)} s, ${formatBytes(event.bytes)}`,
      };
    case "artifact_reused":
      return {
        id: event.artifact_id,
        status: "completed",
        note: `reused from ${event.from_run}/${event.from_artifact}`,
      };
    case "artifact_failed":
      return { id: event.artifact_id, status: "failed", note: oneLine(event.error) };
    case "artifact_skipped":
      return { id: event.artifact_id, status: "skipped", note: oneLine(event.because) };
    default:
      return null;
  }
}

/**
 * @param artifactIds plan order, shown as the task list
 * @param live redraw in place (a TTY); otherwise print one line per event
 */
export function createTerminalReporter(
  stream: Writable,
  artifactIds: string[],
  options: { live: boolean; color: boolean },
): Reporter {
  const { color } = options;
  const rows = new Map<string, Row>(
    artifactIds.map((id) => [id, { id, status: "waiting", note: "" }]),
  );
  /** A row's line, cut to `width` visible characters (with `…`) before colour codes go in. */
  const line = (row: Row, width = Number.POSITIVE_INFINITY) => {
    const symbol = SYMBOL[row.status];
    const head = `${symbol} ${row.id}`;
    const text = fitWidth(`${head}${row.note ? ` ${row.note}` : ""}`, width);
    const note = text.slice(head.length);
    return `${paint(row.status, symbol, color)}${text.slice(symbol.length, head.length)}${color && note ? pc.dim(note) : note}`;
  };

  if (!options.live) {
    return {
      live: false,
      listener(event) {
        if (event.type === "artifact_warning") {
          stream.write(`! ${event.artifact_id}: ${oneLine(event.message)}\n`);
          return;
        }
        const row = rowOf(event);
        if (row && row.status !== "running") stream.write(`${line(row)}\n`);
      },
      notice(text) {
        stream.write(text);
      },
      close() {},
    };
  }

  let timer: NodeJS.Timeout | null = null;
  /**
   * The list as drawn: every row when it fits the terminal's height, otherwise the running and
   * failed rows and a line counting the others, so that a redraw never scrolls (a list taller
   * than the screen cannot be redrawn in place: each redraw would push a copy into the scrollback).
   */
  const lines = (width: number, height: number): string[] => {
    const all = [...rows.values()];
    if (all.length <= height) return all.map((row) => line(row, width));
    const shown = [
      ...all.filter((row) => row.status === "running"),
      ...all.filter((row) => row.status === "failed"),
    ].slice(0, height - 1);
    const rest = new Map<Row["status"], number>();
    for (const row of all) rest.set(row.status, (rest.get(row.status) ?? 0) + 1);
    for (const row of shown) rest.set(row.status, rest.get(row.status)! - 1);
    const left = (["running", "failed", "completed", "skipped", "waiting"] as const).flatMap(
      (status) => {
        const n = rest.get(status) ?? 0;
        const more = status === "running" || status === "failed";
        return n > 0 ? [{ n, more, status }] : [];
      },
    );
    const words = `… ${left.map(({ n, more, status }) => `${n}${more ? " more" : ""} ${status}`).join(", ")}`;
    // A narrow terminal gets the counts by symbol (`… +2… ✓5 ·10`) rather than cut words.
    const symbols = `… ${left.map(({ n, more, status }) => `${more ? "+" : ""}${SYMBOL[status]}${n}`).join(" ")}`;
    const summary = displayWidth(words) <= width ? words : fitWidth(symbols, width);
    return [...shown.map((row) => line(row, width)), color ? pc.dim(summary) : summary];
  };
  /** A terminal that reports no width (0) gets 80 columns; no height, 24 rows. */
  const size = () => ({
    columns: (stream as { columns?: number }).columns || 80,
    rows: (stream as { rows?: number }).rows || 24,
  });
  /**
   * The visible width of each line of the list as last drawn. Drawn to fit, each took one row;
   * after the terminal narrowed, most terminals (VTE, iTerm2, kitty, tmux, Windows Terminal)
   * rewrap a line into as many rows as it now needs, and the list starts that much higher.
   */
  let drawnWidths: number[] = [];
  const drawnRows = () => {
    const { columns } = size();
    return drawnWidths.reduce((sum, width) => sum + Math.max(1, Math.ceil(width / columns)), 0);
  };
  /** Back to the start of the list (a `^C` the terminal echoed moved the cursor right). */
  const home = () => {
    const up = drawnRows();
    return `\r${up > 0 ? `\x1b[${up}A` : ""}`;
  };
  const redraw = (whole = false) => {
    timer = null;
    // One column short of the width: a full line would wrap on some terminals. One row stays
    // free for the cursor.
    const { columns, rows: height } = size();
    const text = lines(columns - 1, whole ? Number.POSITIVE_INFINITY : Math.max(2, height - 1));
    // Each line is cleared as it is drawn over; what a longer list left below goes too.
    stream.write(`${home()}${text.map((t) => `\x1b[2K${t}\n`).join("")}\x1b[0J`);
    drawnWidths = text.map((t) => displayWidth(t));
  };
  let closed = false;
  const schedule = () => {
    if (!closed) timer ??= setTimeout(redraw, 80);
  };
  // A terminal resized mid-run: the list is drawn again for its new width and height.
  stream.on("resize", schedule);
  /**
   * Text above the list, which is then drawn again below it. The list's rows (one each: lines are
   * cut to the width) and the cursor's are cleared one by one: tmux takes an erase-below at the
   * screen's top-left, where a list as tall as the screen starts, for a cleared screen, and copies
   * the screen into the scrollback first (its `scroll-on-clear`), a copy of the list each time.
   */
  const above = (text: string) => {
    const drawn = drawnRows();
    const clear = `${"\x1b[2K\n".repeat(drawn)}\x1b[2K${drawn > 0 ? `\x1b[${drawn}A` : ""}`;
    stream.write(`${home()}${clear}${text}`);
    drawnWidths = [];
    schedule();
  };
  return {
    live: true,
    listener(event) {
      if (event.type === "artifact_warning") {
        above(`${color ? pc.yellow("!") : "!"} ${event.artifact_id}: ${oneLine(event.message)}\n`);
        return;
      }
      const row = rowOf(event);
      if (!row) return;
      rows.set(row.id, row);
      schedule();
    },
    notice(text) {
      if (closed) stream.write(text);
      else above(text);
    },
    close() {
      if (closed) return;
      closed = true;
      stream.off("resize", schedule);
      if (timer) clearTimeout(timer);
      redraw(true);
      // The list cuts long lines: each failure's whole reason is shown once the list is final.
      for (const row of rows.values()) {
        if (row.status === "failed")
          stream.write(`${paint("failed", "✗", color)} ${row.id}: ${row.note}\n`);
      }
    },
  };
}
