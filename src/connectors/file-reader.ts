/**
 * @module Worker-thread task of the `filesystem` connector (run through the worker pool): reads and
 * decodes the files its walk selected. On a worker thread blocking calls hold up no event loop,
 * and each costs no round trip through libuv's thread pool, which for small files is most of the
 * cost; the free threads share the list out (`shared-list.ts`). The connector reads the first
 * few small files itself, on the main thread (`readSmallFiles`).
 */
import { isAscii } from "node:buffer";
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { TextDecoder } from "node:util";
import { type SharedAnswer, type SharedList, takeShared } from "../execute/shared-list.js";

/** Undecodable bytes: replaced with U+FFFD, dropped, or the file is treated as binary. */
export type DecodeErrors = "strict" | "replace" | "ignore";

export type ReadOutcome =
  | { kind: "text"; text: string; size: number }
  | { kind: "binary" }
  | { kind: "too_large" }
  | { kind: "unreadable"; reason: string };

export interface ReadSettings {
  maxFileSize: number;
  encoding: string;
  errors: DecodeErrors;
}

/** Size of the thread's reusable buffer; files up to this size take a single read. */
const FIRST_READ_BYTES = 64 * 1024;
/** Binary sniffing looks for a NUL byte in this many leading bytes, like git does. */
const SNIFF_BYTES = 8192;
// O_NONBLOCK so that a file replaced by a FIFO after the walk cannot hang the thread on open().
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
/** One per thread, reused by every call: reading is synchronous, so no two calls share it. */
let firstChunk: Buffer | undefined;

/**
 * Encoding names that no WHATWG label spells, by their name in lower case without '-', '_' or
 * spaces: Python's codec names, which upstream runbooks use, and the names of ASCII, which
 * TextDecoder would decode as windows-1252.
 */
const ENCODING_ALIASES = new Map(
  Object.entries({
    ascii: ["ascii", "usascii", "us", "646", "cp367", "ibm367", "csascii", "ansix3.41968"],
    "utf-8": ["u8", "utf", "utf8sig", "cp65001"],
    "utf-16le": ["utf16", "u16", "utf16le"],
    "utf-16be": ["utf16be"],
    "windows-1252": ["latin", "latin1"],
    "iso-8859-2": ["latin2"],
    "iso-8859-3": ["latin3"],
    "iso-8859-4": ["latin4"],
    "windows-1254": ["latin5"],
    "iso-8859-10": ["latin6"],
    "iso-8859-13": ["latin7"],
    "iso-8859-14": ["latin8"],
    "iso-8859-15": ["latin9"],
    macintosh: ["macroman"],
    "windows-874": ["cp874"],
    shift_jis: ["cp932"],
    gbk: ["cp936"],
    "euc-kr": ["cp949"],
    big5: ["cp950"],
  }).flatMap(([encoding, names]) => names.map((name) => [name, encoding] as const)),
);

/**
 * The encoding an `encoding` property names, as `TextDecoder` calls it (or `ascii`), or
 * undefined if there is none: a WHATWG label or a Python codec name, in any case, with `_` for
 * `-`.
 */
export function decoderEncoding(name: string): string | undefined {
  const alias = ENCODING_ALIASES.get(name.toLowerCase().replace(/[-_\s]/g, ""));
  if (alias) return alias;
  for (const label of [name, name.replaceAll("_", "-")]) {
    try {
      return new TextDecoder(label).encoding;
    } catch {
      // Not a WHATWG label: try the next spelling.
    }
  }
  return undefined;
}

/** Reads files of the path list that the reading threads share. */
export function readFiles(task: ReadSettings & SharedList<string>): SharedAnswer<ReadOutcome>[] {
  const read = fileReader(task);
  return takeShared(task, (path) => read(path, Number.POSITIVE_INFINITY)!);
}

/**
 * Reads, in order, the first of `paths` that are at most `bytes` long, up to `files` of them and
 * for at most `ms` (the time is checked between files): the blocking calls then never hold the
 * event loop up for long. The indexes of the others, larger files included, are left in `rest`.
 */
export function readSmallFiles(
  paths: string[],
  settings: ReadSettings,
  { files, bytes, ms }: { files: number; bytes: number; ms: number },
): { read: Map<number, ReadOutcome>; rest: number[] } {
  const read = fileReader(settings);
  const outcomes = new Map<number, ReadOutcome>();
  const rest: number[] = [];
  const deadline = performance.now() + ms;
  let index = 0;
  for (; index < paths.length && outcomes.size < files && performance.now() < deadline; index++) {
    const outcome = read(paths[index]!, bytes);
    if (outcome) outcomes.set(index, outcome);
    else rest.push(index);
  }
  for (; index < paths.length; index++) rest.push(index);
  return { read: outcomes, rest };
}

/** A reader with the settings' decoding (see `readFile` for `largest`). */
function fileReader(settings: ReadSettings): (path: string, largest: number) => ReadOutcome | null {
  const toText = textDecoding(settings);
  firstChunk ??= Buffer.allocUnsafe(FIRST_READ_BYTES);
  const chunk = firstChunk;
  return (path, largest) => readFile(path, chunk, settings.maxFileSize, toText, largest);
}

/**
 * Reads a file whole, unless it is larger than `maxFileSize`; one read for small files. A file
 * larger than `largest` (and not than `maxFileSize`) is left unread: null.
 */
function readFile(
  path: string,
  firstChunk: Buffer,
  maxFileSize: number,
  toText: (bytes: Uint8Array) => ReadOutcome,
  largest: number,
): ReadOutcome | null {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch (error) {
    return { kind: "unreadable", reason: errorReason(error) };
  }
  try {
    const bytesRead = readSync(fd, firstChunk, 0, firstChunk.length, 0);
    if (bytesRead < firstChunk.length) {
      return bytesRead > maxFileSize
        ? { kind: "too_large" }
        : toText(firstChunk.subarray(0, bytesRead));
    }
    const { size } = fstatSync(fd);
    if (size > maxFileSize) return { kind: "too_large" };
    if (size > largest) return null;
    const whole = Buffer.allocUnsafe(size);
    let filled = firstChunk.copy(whole);
    while (filled < size) {
      const more = readSync(fd, whole, filled, size - filled, filled);
      if (more === 0) break;
      filled += more;
    }
    return toText(whole.subarray(0, filled));
  } catch (error) {
    return { kind: "unreadable", reason: errorReason(error) };
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Nothing was written through it.
    }
  }
}

/** What `decode` needs of a decoder: a `TextDecoder`, or `asciiDecoder`'s. */
interface Decoder {
  readonly encoding: string;
  /** Throws on undecodable bytes if the decoder is fatal. */
  decode(bytes: Uint8Array): string;
}

/**
 * Decodes a file per the settings, but for a file that starts with a byte order mark: the mark
 * decides its encoding whatever the settings say (and is dropped, as a `TextDecoder` drops its
 * own).
 */
function textDecoding({ encoding, errors }: ReadSettings): (bytes: Uint8Array) => ReadOutcome {
  const fatal = errors === "strict";
  const name = decoderEncoding(encoding) ?? encoding;
  const configured = name === "ascii" ? asciiDecoder(fatal) : new TextDecoder(name, { fatal });
  const decoders = new Map<string, Decoder>([[configured.encoding, configured]]);
  return (bytes) => {
    const marked = byteOrderMark(bytes);
    let decoder: Decoder = configured;
    if (marked) {
      decoder = decoders.get(marked) ?? new TextDecoder(marked, { fatal });
      decoders.set(marked, decoder);
    }
    return decode(bytes, decoder, errors);
  };
}

/** The encoding a byte order mark at the start of `bytes` names, if there is one. */
function byteOrderMark(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  return undefined;
}

/**
 * ASCII, which `TextDecoder` lacks (its `ascii` is windows-1252): a byte from 0x80 up is
 * undecodable, replaced with U+FFFD unless the decoder is fatal.
 */
function asciiDecoder(fatal: boolean): Decoder {
  return {
    encoding: "ascii",
    decode(bytes) {
      // latin1 maps each byte to the character of its value.
      const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
      if (isAscii(bytes)) return text;
      if (fatal) throw new TypeError("The encoded data was not valid for encoding ascii");
      return text.replace(/[\u0080-\u00ff]/g, "\uFFFD");
    },
  };
}

function decode(bytes: Uint8Array, decoder: Decoder, errors: DecodeErrors): ReadOutcome {
  const isUtf16 = decoder.encoding.startsWith("utf-16");
  // UTF-16 text is full of NUL bytes, so there the check is on decoded characters instead.
  if (!isUtf16 && bytes.subarray(0, SNIFF_BYTES).includes(0)) return { kind: "binary" };
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { kind: "binary" };
  }
  if (isUtf16 && text.slice(0, SNIFF_BYTES / 2).includes("\0")) return { kind: "binary" };
  if (errors === "ignore") text = text.replaceAll("\uFFFD", "");
  return { kind: "text", text, size: bytes.length };
}

/** The errno code of a failed call, else its message. */
export function errorReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(error);
}
