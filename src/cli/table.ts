/**
 * @module Plain aligned text tables for the terminal (no borders, so they pipe cleanly).
 */
import { stripVTControlCharacters } from "node:util";

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
