/**
 * @module Worker-thread task of the `filesystem` connector (run through the worker pool): reads and
 * decodes the files its walk selected. On a worker thread blocking calls hold up no event loop,
 * and each costs no round trip through libuv's thread pool, which for small files is most of the
 * cost; the free threads share the list out (`shared-list.ts`). The connector reads the first
 * few small files itself, on the main thread (`readSmallFiles`).
 */
import { constants as bufferConstants, isAscii } from "node:buffer";
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
/**
 * The largest file that is decoded: a decoder makes at most one character of each byte, and V8's
 * strings hold at most this many (a larger one throws, or aborts the process in Node 20's
 * windows-1252 decoder).
 */
const MAX_TEXT_BYTES = bufferConstants.MAX_STRING_LENGTH;
// O_NONBLOCK so that a file replaced by a FIFO after the walk cannot hang the thread on open();
// O_NOFOLLOW so that one replaced by a symlink is not followed out of the path (the walk hands
// over the real paths of the symlinks it follows).
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);
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
    "windows-1250": ["1250"],
    "windows-1251": ["1251"],
    "windows-1252": ["latin", "latin1", "1252"],
    "windows-1253": ["1253"],
    "windows-1254": ["1254", "latin5"],
    "windows-1255": ["1255"],
    "windows-1256": ["1256"],
    "windows-1257": ["1257"],
    "windows-1258": ["1258"],
    "iso-8859-2": ["latin2"],
    "iso-8859-3": ["latin3"],
    "iso-8859-4": ["latin4"],
    "iso-8859-10": ["latin6"],
    "iso-8859-13": ["latin7"],
    "iso-8859-14": ["latin8"],
    "iso-8859-15": ["latin9"],
    macintosh: ["macroman"],
    "windows-874": ["cp874", "tis620", "tis6200", "tis62025290", "tis62025291"],
    shift_jis: ["cp932", "sjis", "shiftjis"],
    "euc-jp": ["eucjp", "ujis"],
    "iso-2022-jp": ["iso2022jp"],
    gbk: ["cp936", "chinese", "euccn", "eucgb2312cn", "gb231280", "gb23121980"],
    "euc-kr": ["cp949", "euckr", "korean", "ksc5601", "ksc56011987", "ksx1001"],
    big5: ["cp950", "big5tw"],
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

/**
 * A path to read: a string, or the bytes of one that is not UTF-8 (a Buffer, which reaches a
 * worker thread as a Uint8Array).
 */
export type FilePath = string | Uint8Array;

/** Reads files of the path list that the reading threads share. */
export function readFiles(task: ReadSettings & SharedList<FilePath>): SharedAnswer<ReadOutcome>[] {
  const read = fileReader(task);
  return takeShared(task, (path) => read(path, Number.POSITIVE_INFINITY)!);
}

/**
 * Reads, in order, the first of `paths` that are at most `bytes` long, up to `files` of them and
 * for at most `ms` (the time is checked between files): the blocking calls then never hold the
 * event loop up for long. The indexes of the others, larger files included, are left in `rest`.
 */
export function readSmallFiles(
  paths: FilePath[],
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
function fileReader(
  settings: ReadSettings,
): (path: FilePath, largest: number) => ReadOutcome | null {
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
  path: FilePath,
  firstChunk: Buffer,
  maxFileSize: number,
  toText: (bytes: Uint8Array) => ReadOutcome,
  largest: number,
): ReadOutcome | null {
  let fd: number;
  try {
    fd = openSync(
      typeof path === "string" ? path : Buffer.from(path.buffer, path.byteOffset, path.byteLength),
      READ_FLAGS,
    );
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
    if (size > MAX_TEXT_BYTES) {
      return {
        kind: "unreadable",
        reason: `${size} bytes is too large to decode as one text (at most ${MAX_TEXT_BYTES})`,
      };
    }
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
 * An encoding's decoders: the first decodes, the second (with `errors: ignore`) decodes a file
 * the first refused, replacing what it cannot decode with U+FFFD, which is then taken out.
 */
type Decoders = readonly [Decoder, Decoder | undefined];

/**
 * Decodes a file per the settings, but for a file that starts with a byte order mark: the mark
 * decides its encoding whatever the settings say (and is dropped, as a `TextDecoder` drops its
 * own).
 */
function textDecoding({ encoding, errors }: ReadSettings): (bytes: Uint8Array) => ReadOutcome {
  // With `ignore` a file is decoded strictly first, so that the U+FFFD characters of one that
  // decodes are kept: only a file with undecodable bytes loses them.
  const fatal = errors !== "replace";
  const decodersOf = (name: string): Decoders => [
    makeDecoder(name, fatal),
    errors === "ignore" ? makeDecoder(name, false) : undefined,
  ];
  const configured = decodersOf(decoderEncoding(encoding) ?? encoding);
  const decoders = new Map<string, Decoders>([[configured[0].encoding, configured]]);
  return (bytes) => {
    const marked = byteOrderMark(bytes);
    let chosen = configured;
    if (marked) {
      chosen = decoders.get(marked) ?? decodersOf(marked);
      decoders.set(marked, chosen);
    }
    return decode(bytes, chosen);
  };
}

function makeDecoder(name: string, fatal: boolean): Decoder {
  if (name === "ascii") return asciiDecoder(fatal);
  if (name === "windows-1252") return windows1252Decoder();
  return new TextDecoder(name, { fatal });
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

/** The characters of windows-1252's bytes 0x80 to 0x9F (five of them undefined: their own). */
const WINDOWS_1252_HIGH =
  "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f" +
  "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

/**
 * windows-1252 (also what the labels `latin1` and `iso-8859-1` name) as the Encoding standard
 * defines it: Node 20's `TextDecoder` decodes it as ISO-8859-1, which reads bytes 0x80 to 0x9F
 * ('€', '’', '“', '–') as C1 control characters. Every byte decodes: it is never fatal.
 */
function windows1252Decoder(): Decoder {
  const latin1 = new TextDecoder("windows-1252");
  return {
    encoding: latin1.encoding,
    decode(bytes) {
      return latin1
        .decode(bytes)
        .replace(/[\u0080-\u009f]/g, (c) => WINDOWS_1252_HIGH[c.charCodeAt(0) - 0x80]!);
    },
  };
}

function decode(bytes: Uint8Array, [decoder, lenient]: Decoders): ReadOutcome {
  const isUtf16 = decoder.encoding.startsWith("utf-16");
  // UTF-16 text is full of NUL bytes, so there the check is on decoded characters instead.
  if (!isUtf16 && bytes.subarray(0, SNIFF_BYTES).includes(0)) return { kind: "binary" };
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    if (!lenient) return { kind: "binary" };
    text = lenient.decode(bytes).replaceAll("\uFFFD", "");
  }
  if (isUtf16 && text.slice(0, SNIFF_BYTES / 2).includes("\0")) return { kind: "binary" };
  return { kind: "text", text, size: bytes.length };
}

/** The errno code of a failed call, else its message. */
export function errorReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(error);
}
