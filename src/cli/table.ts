/**
 * @module Plain aligned text tables for the terminal (no borders, so they pipe cleanly).
 */
import { stripVTControlCharacters } from "node:util";

// C0 and C1 control characters (ESC starts terminal commands, CR overwrites the line), and the
// marks and overrides that reorder bidirectional text (U+202E shows `exe.txt` as `txt.exe`),
// the line and paragraph separators.
const CONTROL = /[\p{Cc}\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu;
const CONTROL_BUT_NEWLINE = /(?!\n)[\p{Cc}\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu;
const SHORT_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const escapeControl = (c: string) =>
  SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Text from a run or a runbook (names, paths, errors) made safe to print on one line: control
 * characters are shown escaped (`\u001b`, `\n`), so that a runbook named with ESC sequences cannot
 * clear the screen or break a table, nor one named with a right-to-left override show other text
 * than it holds.
 */
export function oneLine(text: string): string {
  return text.replace(CONTROL, escapeControl);
}

/** `oneLine`, but line breaks are kept (multi-line error messages). */
export function printable(text: string): string {
  return text.replace(CONTROL_BUT_NEWLINE, escapeControl);
}

// Characters a terminal draws two columns wide (East Asian Wide and Fullwidth, emoji) and those it
// draws over the previous one (combining marks, joiners, variation selectors).
const WIDE =
  /[\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\u{1f000}-\u{1faff}\u{20000}-\u{3fffd}]|\p{Emoji_Presentation}|\ufe0f/u;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]/u;
/**
 * Text whose every code point is a user-perceived character of its own: printable ASCII, Latin,
 * Greek and Cyrillic letters, punctuation, arrows, technical and box-drawing symbols, shapes and
 * dingbats (`✓`, `…`, `é` precomposed). No combining mark, joiner or variation selector is among
 * them, so it is measured without the grapheme segmenter (whose ICU data takes tens of
 * milliseconds to load).
 */
const SINGLE_CODE_POINT_CHARACTERS =
  /^[\x20-\x7e\u00a0-\u02ff\u0370-\u03ff\u0400-\u0482\u048a-\u052f\u2010-\u2027\u2030-\u205e\u2190-\u23ff\u2500-\u27bf]*$/;
let segmenter: Intl.Segmenter | undefined;
/** The user-visible characters of `text`; the segmenter is made on first use, not at start-up. */
function graphemes(text: string): Intl.Segments {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  return segmenter.segment(text);
}

/** The columns one user-perceived character (a grapheme cluster) takes on a terminal. */
function clusterWidth(cluster: string): number {
  if (WIDE.test(cluster)) return 2;
  return ZERO_WIDTH.test(cluster) ? 0 : 1;
}

/**
 * The columns `text` takes on a terminal: `日本` takes 4, `é` written with a combining accent 1.
 * Colour codes take none.
 */
export function displayWidth(text: string): number {
  const plain = stripVTControlCharacters(text);
  // Most text is ASCII, one column a character.
  if (/^[\x20-\x7e]*$/.test(plain)) return plain.length;
  let width = 0;
  if (SINGLE_CODE_POINT_CHARACTERS.test(plain)) {
    for (const char of plain) width += clusterWidth(char);
    return width;
  }
  for (const { segment } of graphemes(plain)) width += clusterWidth(segment);
  return width;
}

/**
 * `text` cut to `width` terminal columns, the last of them `…` when it was longer. Never cuts
 * a character in two (a surrogate pair, an accent from its letter).
 */
export function fitWidth(text: string, width: number): string {
  if (width === Number.POSITIVE_INFINITY || displayWidth(text) <= width) return text;
  let kept = "";
  let used = 0;
  for (const { segment } of graphemes(text)) {
    const w = clusterWidth(segment);
    if (used + w > width - 1) break;
    kept += segment;
    used += w;
  }
  return `${kept}…`;
}

/** `1 artifact`, `2 artifacts`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Renders rows under a header, each column padded to its widest cell (in terminal columns). */
export function renderTable(header: string[], rows: string[][]): string {
  // Colour codes take no room on screen; a wide character takes two columns.
  const width = displayWidth;
  // A loop, not `Math.max(...rows)`: hundreds of thousands of arguments overflow the stack.
  const widths = header.map((h, i) =>
    rows.reduce((widest, r) => Math.max(widest, width(r[i] ?? "")), h.length),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - width(cell)),
      )
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}
