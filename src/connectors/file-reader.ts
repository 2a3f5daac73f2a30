/**
 * @module Worker-thread task of the `filesystem` connector (run through the worker pool): reads and
 * decodes the files its walk selected. On a worker thread blocking calls hold up no event loop,
 * and each costs no round trip through libuv's thread pool, which for small files is most of the
 * cost; the free threads share the list out (`shared-list.ts`). The connector reads the first
 * few small files itself, on the main thread (`readSmallFiles`).
 */
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

/** A reader with the settings' decoder (see `readFile` for `largest`). */
function fileReader(settings: ReadSettings): (path: string, largest: number) => ReadOutcome | null {
  const decoder = new TextDecoder(settings.encoding, { fatal: settings.errors === "strict" });
  const isUtf16 = decoder.encoding.startsWith("utf-16");
  const toText = (bytes: Uint8Array) => decode(bytes, decoder, isUtf16, settings.errors);
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

function decode(
  bytes: Uint8Array,
  decoder: TextDecoder,
  isUtf16: boolean,
  errors: DecodeErrors,
): ReadOutcome {
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
