/**
 * @module A fast reader for the plain YAML that runbooks are written in: block mappings and
 * sequences indented with spaces, one-line scalars (plain, single- or double-quoted), one-line
 * flow collections (`{ path: data }`, `[a, b]`), literal and folded block scalars, and comments.
 * It builds the `yaml` library's own nodes, with the values, start offsets and (for scalars) end
 * offsets that the library gives them, so the runbook reader cannot tell which parser made them.
 * Anything else (anchors, aliases, tags, multi-line plain or quoted scalars, flow collections over
 * several lines, complex keys, several documents, tabs, CR line ends, a syntax error) makes it
 * give up, and the library parses the text: this reader never has to be right about what it does
 * not support, only about what it accepts.
 *
 * Why: the library reads about 1 MB/s, and a command runs its code once, before V8 has optimised
 * any of it: a 40-artifact runbook took 20-30 ms, a 1,000-artifact one 0.4-0.5 s.
 */
import { LineCounter, Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";

export type SimpleNode = Scalar | YAMLMap | YAMLSeq;

export interface SimpleDocument {
  /** The root node; null for a document holding nothing but comments. */
  contents: SimpleNode | null;
  lineCounter: LineCounter;
  /**
   * Every key that repeats an earlier key of its mapping (the same value, as YAML compares
   * them), in document order.
   */
  duplicateKeys: Scalar[];
}

/** Thrown (and caught in `parseSimpleYaml`) on anything this reader does not support. */
class Unsupported extends Error {}

const unsupported = (): never => {
  throw new Unsupported();
};

/**
 * Parses `text` when it keeps to the supported subset; undefined otherwise (parse it with the
 * library then, which also reports syntax errors with their positions).
 */
export function parseSimpleYaml(text: string): SimpleDocument | undefined {
  if (hasSpecialCharacters(text)) return undefined;
  try {
    return new Reader(text).read();
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

/**
 * Tabs, CRs, a byte order mark and other control characters (C1 too: YAML 1.1 took NEL for a
 * line break), whose rules (indentation, line breaks, escapes) this reader does not have.
 */
function hasSpecialCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x0a) || (code >= 0x7f && code <= 0x9f) || code === 0xfeff) {
      return true;
    }
  }
  return false;
}

// Core schema (YAML 1.2), as the library resolves plain scalars.
const NULL = /^(?:~|[Nn]ull|NULL)$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT = /^[-+]?[0-9]+$/;
const INT_OCT = /^0o[0-7]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const INF_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

function resolvePlain(source: string): unknown {
  if (NULL.test(source)) return null;
  if (BOOL.test(source)) return source[0] === "t" || source[0] === "T";
  if (INT_OCT.test(source)) return Number.parseInt(source.slice(2), 8);
  if (INT.test(source)) return Number.parseInt(source, 10);
  if (INT_HEX.test(source)) return Number.parseInt(source.slice(2), 16);
  if (INF_NAN.test(source)) {
    if (/nan$/i.test(source)) return Number.NaN;
    return source[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (FLOAT_EXP.test(source) || FLOAT.test(source)) return Number.parseFloat(source);
  return source;
}

/** Longest implicit key (in UTF-16 units) that the library accepts. */
const MAX_KEY_LENGTH = 1024;

/**
 * Deepest nesting of collections read here; deeper documents are left to the library (which
 * refuses them from about a thousand levels on), and this reader's recursion stays shallow.
 */
const MAX_DEPTH = 100;

/**
 * `source` without the spaces that end it. Only spaces: YAML does not count other Unicode
 * spaces (U+00A0, U+3000, ...) as white space, as `trimEnd` would.
 */
function withoutTrailingSpaces(source: string): string {
  let end = source.length;
  while (end > 0 && source.charCodeAt(end - 1) === 32) end--;
  return source.slice(0, end);
}

/** A key that merges mappings into its own (`merge: true`), not a key of its own. */
const MERGE_KEY = "<<";

/** Characters that cannot start a plain scalar (or need rules this reader does not have). */
const NOT_PLAIN_START = new Set([..."-?:,[]{}#&*!|>'\"%@`"]);

/** One line of the text: where it starts and ends (before its newline), its indentation. */
interface Line {
  start: number;
  end: number;
  indent: number;
}

class Reader {
  private readonly lines: Line[] = [];
  /** The lines holding content (not blank, not only a comment), by index into `lines`. */
  private readonly content: number[] = [];
  /** Index into `content` of the next line to read. */
  private next = 0;
  /** Collections open around the one being read. */
  private depth = 0;
  private readonly lineCounter = new LineCounter();
  private readonly duplicateKeys: Scalar[] = [];

  constructor(private readonly text: string) {
    for (let start = 0; start <= text.length; ) {
      let end = text.indexOf("\n", start);
      if (end === -1) end = text.length;
      this.lineCounter.addNewLine(start);
      let indent = 0;
      while (text.charCodeAt(start + indent) === 32) indent++;
      const line = { start, end, indent };
      this.lines.push(line);
      if (start + indent < end && text[start + indent] !== "#") {
        this.content.push(this.lines.length - 1);
      }
      if (end === text.length) break;
      start = end + 1;
    }
  }

  read(): SimpleDocument {
    for (const index of this.content) {
      const { start, end } = this.lines[index]!;
      const head = this.text.slice(start, Math.min(end, start + 3));
      // Document markers and directives: several documents, or rules of their own.
      if (head === "---" || head === "..." || head[0] === "%") unsupported();
    }
    const { lineCounter, duplicateKeys } = this;
    if (this.content.length === 0) return { contents: null, lineCounter, duplicateKeys };
    const first = this.line(0);
    if (first.indent !== 0) unsupported();
    const contents = this.block(0);
    if (this.next < this.content.length) unsupported();
    return { contents, lineCounter, duplicateKeys };
  }

  private line(at = this.next): Line {
    return this.lines[this.content[at]!]!;
  }

  /** Records `key` as a duplicate when its mapping already has a key of the same value. */
  private noteKey(seen: Set<unknown>, key: Scalar): void {
    if (seen.has(key.value)) this.duplicateKeys.push(key);
    else seen.add(key.value);
  }

  private enter(): void {
    this.depth++;
    if (this.depth > MAX_DEPTH) unsupported();
  }

  private get done(): boolean {
    return this.next >= this.content.length;
  }

  /**
   * The value starting on the next content line, which is indented `indent`: a block mapping or
   * sequence, or a flow collection on that line alone.
   */
  private block(indent: number): SimpleNode {
    const { start, end } = this.line();
    const at = start + indent;
    if (this.text[at] === "{" || this.text[at] === "[") return this.lineValue(at, end, indent);
    return this.isSeqItem(at) ? this.sequence(indent) : this.mapping(indent, at);
  }

  /**
   * A value that ends its line (`inline`), under a key or `-` indented `indent`: the next content
   * line may not be indented more (that would continue a multi-line scalar).
   */
  private lineValue(at: number, end: number, indent: number): SimpleNode {
    const value = this.inline(at, end);
    this.next++;
    if (!this.done && this.line().indent > indent) unsupported();
    return value;
  }

  private isSeqItem(at: number): boolean {
    return (
      this.text[at] === "-" && (at + 1 >= this.text.length || " \n".includes(this.text[at + 1]!))
    );
  }

  /**
   * A block mapping whose keys are indented `indent`; its first key starts at `first` (on the
   * next content line, possibly after a sequence item's `- `).
   */
  private mapping(indent: number, first: number): YAMLMap {
    this.enter();
    const map = new YAMLMap();
    const seen = new Set<unknown>();
    let keyStart = first;
    for (;;) {
      const line = this.line();
      const { key, colon } = this.key(keyStart, line.end);
      this.noteKey(seen, key);
      const value = this.mappingValue(indent, colon + 1, line);
      map.items.push(new Pair(key, value));
      if (this.done) break;
      const following = this.line();
      if (following.indent < indent) break;
      if (following.indent > indent) unsupported();
      keyStart = following.start + indent;
      if (this.isSeqItem(keyStart)) {
        // A sequence at the indentation of the keys belongs to the key before it, read there.
        unsupported();
      }
    }
    map.range = [first, this.endOfLast(), this.endOfLast()];
    this.depth--;
    return map;
  }

  /**
   * Where a plain key starting at `at` ends: the offset of its `:`, the line's first, followed by
   * a space or the line's end; -1 when no key starts there.
   */
  private keyColon(at: number, lineEnd: number): number {
    const { text } = this;
    if (NOT_PLAIN_START.has(text[at]!)) return -1;
    for (let i = at; i < lineEnd; i++) {
      if (text[i] === "#" && text[i - 1] === " ") return -1;
      if (text[i] === ":") return i + 1 === lineEnd || text[i + 1] === " " ? i : -1;
    }
    return -1;
  }

  /** A plain key from `at` up to its `:` (see `keyColon`). */
  private key(at: number, lineEnd: number): { key: Scalar; colon: number } {
    const { text } = this;
    const colon = this.keyColon(at, lineEnd);
    if (colon === -1) unsupported();
    const source = text.slice(at, colon);
    if (text[colon - 1] === " " || source === MERGE_KEY) unsupported();
    // The library refuses longer implicit keys.
    if (source.length > MAX_KEY_LENGTH) unsupported();
    const key = plainScalar(source, at, colon);
    return { key, colon };
  }

  /** What follows a key's colon: a value on the same line, a block below, or nothing (null). */
  private mappingValue(indent: number, afterColon: number, line: Line): SimpleNode {
    const at = this.skipSpaces(afterColon, line.end);
    if (at < line.end && this.text[at] !== "#") {
      if (this.text[at] === "|" || this.text[at] === ">") return this.blockScalar(indent, at, line);
      return this.lineValue(at, line.end, indent);
    }
    // A comment after an empty value moves the library's null node: left to it.
    if (at < line.end) unsupported();
    this.next++;
    if (!this.done) {
      const below = this.line();
      if (below.indent > indent) return this.block(below.indent);
      if (below.indent === indent && this.isSeqItem(below.start + indent)) {
        return this.sequence(indent);
      }
    }
    return emptyScalar(at);
  }

  /** A block sequence whose `-` are indented `indent`. */
  private sequence(indent: number): YAMLSeq {
    this.enter();
    const seq = new YAMLSeq();
    const first = this.line().start + indent;
    for (;;) {
      const line = this.line();
      const dash = line.start + indent;
      const at = this.skipSpaces(dash + 1, line.end);
      if (at >= line.end || this.text[at] === "#") unsupported(); // an item on the lines below
      if (this.isSeqItem(at) || this.text[at] === "|" || this.text[at] === ">") unsupported();
      if (this.keyColon(at, line.end) !== -1) {
        seq.items.push(this.mapping(at - line.start, at));
      } else {
        seq.items.push(this.lineValue(at, line.end, indent));
      }
      if (this.done) break;
      const following = this.line();
      if (following.indent !== indent || !this.isSeqItem(following.start + indent)) {
        if (following.indent > indent) unsupported();
        break;
      }
    }
    seq.range = [first, this.endOfLast(), this.endOfLast()];
    this.depth--;
    return seq;
  }

  /** The offset after the last content line read: where the library ends a collection. */
  private endOfLast(): number {
    return this.done ? this.text.length : this.line().start;
  }

  private skipSpaces(at: number, end: number): number {
    while (at < end && this.text[at] === " ") at++;
    return at;
  }

  /** Only spaces, then optionally a comment, from `at` to the line's end. */
  private expectLineEnd(at: number, end: number): void {
    const rest = this.skipSpaces(at, end);
    if (rest === end) return;
    if (this.text[rest] === "#" && rest > at) return;
    unsupported();
  }

  /** A one-line value in block context: quoted, flow collection or plain; the rest is a comment. */
  private inline(at: number, end: number): SimpleNode {
    const { text } = this;
    const c = text[at]!;
    if (c === '"' || c === "'" || c === "[" || c === "{") {
      const { node, after } = c === "[" || c === "{" ? this.flow(at, end) : this.quoted(at, end);
      this.expectLineEnd(after, end);
      return node;
    }
    if (NOT_PLAIN_START.has(c) && !(c === "-" && at + 1 < end && text[at + 1] !== " ")) {
      unsupported();
    }
    let stop = at;
    while (stop < end && !(text[stop] === "#" && text[stop - 1] === " ")) stop++;
    const source = withoutTrailingSpaces(text.slice(at, stop));
    if (source.includes(": ") || source.endsWith(":")) unsupported();
    return plainScalar(source, at, at + source.length);
  }

  /** A quoted scalar on one line starting at `at`; `after` is the offset after its closing quote. */
  private quoted(at: number, end: number): { node: Scalar; after: number } {
    const { text } = this;
    const quote = text[at]!;
    let value = "";
    let i = at + 1;
    for (;;) {
      if (i >= end) unsupported(); // spans lines
      const c = text[i]!;
      if (quote === "'" && c === "'") {
        if (text[i + 1] === "'") {
          value += "'";
          i += 2;
          continue;
        }
        break;
      }
      if (quote === '"' && c === '"') break;
      if (quote === '"' && c === "\\") {
        const { char, length } = escapedChar(text, i + 1);
        value += char;
        i += 1 + length;
        continue;
      }
      value += c;
      i++;
    }
    const node = new Scalar(value);
    node.type = quote === '"' ? Scalar.QUOTE_DOUBLE : Scalar.QUOTE_SINGLE;
    node.range = [at, i + 1, i + 1];
    return { node, after: i + 1 };
  }

  /** A flow collection that closes on the line it opens on. */
  private flow(at: number, end: number): { node: YAMLMap | YAMLSeq; after: number } {
    const { text } = this;
    this.enter();
    const isMap = text[at] === "{";
    const close = isMap ? "}" : "]";
    const node = isMap ? new YAMLMap() : new YAMLSeq();
    node.flow = true;
    const seen = new Set<unknown>();
    let i = this.skipSpaces(at + 1, end);
    if (text[i] === close) {
      node.range = [at, i + 1, i + 1];
      this.depth--;
      return { node, after: i + 1 };
    }
    for (;;) {
      if (isMap) {
        const key = this.flowValue(i, end, true);
        this.noteKey(seen, key.node as Scalar);
        i = key.after;
        if (text[i] !== ":" || text[i + 1] !== " ") unsupported();
        const value = this.flowValue(this.skipSpaces(i + 1, end), end, false);
        (node as YAMLMap).items.push(new Pair(key.node, value.node));
        i = value.after;
      } else {
        const item = this.flowValue(i, end, false);
        (node as YAMLSeq).items.push(item.node);
        i = item.after;
      }
      i = this.skipSpaces(i, end);
      if (text[i] === close) break;
      if (text[i] !== ",") unsupported();
      i = this.skipSpaces(i + 1, end);
      if (text[i] === close || text[i] === ",") unsupported(); // a trailing or empty entry
    }
    node.range = [at, i + 1, i + 1];
    this.depth--;
    return { node, after: i + 1 };
  }

  /** A value inside a flow collection; `after` is the offset after it (spaces skipped for keys). */
  private flowValue(at: number, end: number, isKey: boolean): { node: SimpleNode; after: number } {
    const { text } = this;
    const c = text[at];
    if (c === undefined || at >= end) unsupported();
    if (c === '"' || c === "'") return this.quoted(at, end);
    if (c === "[" || c === "{") {
      if (isKey) unsupported();
      return this.flow(at, end);
    }
    if (
      NOT_PLAIN_START.has(c!) &&
      !(c === "-" && at + 1 < end && !" ,[]{}".includes(text[at + 1]!))
    ) {
      unsupported();
    }
    let stop = at;
    while (stop < end && !",[]{}".includes(text[stop]!)) {
      if (text[stop] === ":" && (text[stop + 1] === " " || ",[]{}".includes(text[stop + 1]!)))
        break;
      if (text[stop] === "#" && text[stop - 1] === " ") unsupported();
      stop++;
    }
    const source = withoutTrailingSpaces(text.slice(at, stop));
    if (source.includes(":") || (isKey && source === MERGE_KEY)) unsupported();
    if (isKey && source.length > MAX_KEY_LENGTH) unsupported();
    const node = plainScalar(source, at, at + source.length);
    return { node, after: isKey ? this.skipSpaces(at + source.length, end) : at + source.length };
  }

  /**
   * A literal (`|`) or folded (`>`) block scalar whose header is at `at`, under a key indented
   * `indent`. Supported: the clip and strip chomping indicators, no explicit indentation, no
   * leading blank lines, and (when folded) no line indented more than the first.
   */
  private blockScalar(indent: number, at: number, header: Line): Scalar {
    const { text } = this;
    const folded = text[at] === ">";
    let i = at + 1;
    const strip = text[i] === "-";
    if (strip) i++;
    if (i < header.end && text[i] !== " ") unsupported(); // keep (+) or an indentation indicator
    if (this.skipSpaces(i, header.end) !== header.end) unsupported(); // a comment after the header
    const headerLine = this.content[this.next]!;
    this.next++;
    const firstLine = this.lines[headerLine + 1];
    if (!firstLine || firstLine.start + firstLine.indent >= firstLine.end) unsupported();
    const contentIndent = firstLine!.indent;
    if (contentIndent <= indent) unsupported();
    const parts: string[] = [];
    let lineIndex = headerLine + 1;
    let trailingBlank = 0;
    let lastEnd = firstLine!.end;
    for (; lineIndex < this.lines.length; lineIndex++) {
      const line = this.lines[lineIndex]!;
      const blank = line.start + line.indent >= line.end;
      if (blank) {
        // A blank line indented more than the content is content (spaces) to the library.
        if (line.end - line.start > contentIndent) unsupported();
        trailingBlank++;
        continue;
      }
      if (line.indent < contentIndent) {
        if (line.indent > indent) unsupported();
        break;
      }
      if (folded && line.indent > contentIndent) unsupported();
      for (; trailingBlank > 0; trailingBlank--) parts.push("");
      parts.push(text.slice(line.start + contentIndent, line.end));
      lastEnd = line.end;
    }
    // The content lines are consumed: move past every content line before `lineIndex`.
    while (!this.done && this.content[this.next]! < lineIndex) this.next++;
    let value: string;
    if (folded) {
      value = "";
      parts.forEach((part, index) => {
        if (index === 0) value = part;
        else if (part === "") value += "\n";
        else value += parts[index - 1] === "" ? part : ` ${part}`;
      });
    } else {
      value = parts.join("\n");
    }
    if (!strip) value += "\n";
    const node = new Scalar(value);
    node.type = folded ? Scalar.BLOCK_FOLDED : Scalar.BLOCK_LITERAL;
    // The library ends the scalar after the newline of its last line of text.
    const endOffset = Math.min(lastEnd + 1, text.length);
    node.range = [at, endOffset, endOffset];
    return node;
  }
}

function plainScalar(source: string, start: number, end: number): Scalar {
  const node = new Scalar(resolvePlain(source));
  node.type = Scalar.PLAIN;
  node.range = [start, end, end];
  return node;
}

/** A value left empty (`key:`): null, where the library puts it, after the colon and spaces. */
function emptyScalar(at: number): Scalar {
  const node = new Scalar(null);
  node.type = Scalar.PLAIN;
  node.range = [at, at, at];
  return node;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  n: "\n",
  t: "\t",
  r: "\r",
  "0": "\0",
  b: "\b",
  f: "\f",
  " ": " ",
};

/** The character a double-quoted escape at `at` (after its backslash) stands for. */
function escapedChar(text: string, at: number): { char: string; length: number } {
  const c = text[at];
  if (c !== undefined && c in SIMPLE_ESCAPES) return { char: SIMPLE_ESCAPES[c]!, length: 1 };
  if (c === "u") {
    const hex = text.slice(at + 1, at + 5);
    if (/^[0-9a-fA-F]{4}$/.test(hex)) {
      return { char: String.fromCharCode(Number.parseInt(hex, 16)), length: 5 };
    }
  }
  return unsupported();
}
