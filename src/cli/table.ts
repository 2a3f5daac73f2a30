/**
 * @module Plain aligned text tables for the terminal (no borders, so they pipe cleanly).
 */
import { stripVTControlCharacters } from "node:util";

// C0 and C1 control characters (ESC starts terminal commands, CR overwrites the line).
const CONTROL = /\p{Cc}/gu;
const CONTROL_BUT_NEWLINE = /(?!\n)\p{Cc}/gu;
const SHORT_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const escapeControl = (c: string) =>
  SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Text from a run or a runbook (names, paths, errors) made safe to print on one line: control
 * characters are shown escaped (`\u001b`, `\n`), so that a runbook named with ESC sequences cannot
 * clear the screen or break a table.
 */
export function oneLine(text: string): string {
  return text.replace(CONTROL, escapeControl);
}

/** `oneLine`, but line breaks are kept (multi-line error messages). */
export function printable(text: string): string {
  return text.replace(CONTROL_BUT_NEWLINE, escapeControl);
}

/** `text` cut to `width` characters, the last of them `…` when it was longer. */
export function fitWidth(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** `1 artifact`, `2 artifacts`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Renders rows under a header, each column padded to its widest cell. */
export function renderTable(header: string[], rows: string[][]): string {
  // Colour codes take no room on screen.
  const width = (cell: string) => stripVTControlCharacters(cell).length;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - width(cell)),
      )
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}
