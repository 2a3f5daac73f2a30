/**
 * @module Crash-safe file writes (ARCHITECTURE §4.2 durability rule): temp file in the same folder,
 * fsync, rename, fsync the folder. After a `kill -9` at any instant a reader sees the old file or
 * the new one, never a torn one. Folder fsyncs and event-log appends are coalesced so that many
 * concurrent writers share fsyncs instead of queueing one each.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  promises as fs,
  fstatSync,
  fsync,
  ftruncateSync,
  open,
  openSync,
  renameSync,
  statSync,
  write,
  writeSync,
} from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { errorMessage, StoreError, WctError } from "../errors.js";

/**
 * Store files hold personal data (scan findings, runbook text): readable by their owner only.
 * Temp files get this mode at creation, and a rename keeps it.
 */
export const PRIVATE_FILE_MODE = 0o600;
/** Store folders: listable by their owner only. */
export const PRIVATE_DIR_MODE = 0o700;

/** Whether an unknown error is a Node system error with this code. */
export function hasErrorCode(error: unknown, ...codes: string[]): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    codes.includes((error as NodeJS.ErrnoException).code ?? "")
  );
}

/**
 * The error to throw for a failed store I/O: WctErrors pass through; anything else becomes a
 * `StoreError` naming the action and the file.
 */
export function storeError(action: string, file: string, error: unknown): Error {
  if (error instanceof WctError) return error;
  return new StoreError(`Cannot ${action} ${file}: ${errorMessage(error)}`, { cause: error });
}

/** Temp files start with a dot and end in `.tmp`; listings skip them. */
export function isTempFileName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}

/**
 * Unique per process (pid, and random bits against a reused pid) and per call (a counter): no
 * random bytes drawn per write.
 */
const tempPrefix = `${process.pid}.${randomBytes(4).toString("hex")}`;
let tempCounter = 0;

function tempPathFor(target: string): string {
  tempCounter += 1;
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.${tempPrefix}.${tempCounter.toString(16)}.tmp`,
  );
}

// Every asynchronous fs call is a round trip through libuv's thread pool, which costs the main
// thread tens of microseconds (thread wake-ups) however little the call does. Calls that only
// touch the page cache (writing a small buffer, closing, opening a folder, fstat) are made
// synchronously: a few microseconds each. What waits for the disk (fsync) or for the journal
// (open with O_CREAT, rename) stays asynchronous, on plain file descriptors (FileHandle costs
// more).
const openFd = promisify(open);
const writeFd = promisify(write);
const fsyncFd = promisify(fsync);

/** Writes up to this size go through one synchronous write: page-cache copies of a few µs. */
const SYNC_WRITE_BYTES = 256 * 1024;

async function writeAll(fd: number, bytes: Uint8Array | string): Promise<void> {
  const buffer = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  if (buffer.length <= SYNC_WRITE_BYTES) return writeAllSync(fd, buffer);
  for (let offset = 0; offset < buffer.length; ) {
    offset += (await writeFd(fd, buffer, offset, buffer.length - offset)).bytesWritten;
  }
}

function writeAllSync(fd: number, buffer: Uint8Array): void {
  for (let offset = 0; offset < buffer.length; ) {
    offset += writeSync(fd, buffer, offset, buffer.length - offset);
  }
}

async function fsyncDirNow(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    await fsyncFd(fd);
  } catch (error) {
    // Some platforms (Windows) cannot open or fsync a folder; rename is as durable as they allow.
    if (!hasErrorCode(error, "EISDIR", "EPERM", "EINVAL", "EACCES")) throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

interface DirSyncState {
  inFlight: Promise<void> | null;
  queued: Promise<void> | null;
}
const dirSyncs = new Map<string, DirSyncState>();

function startDirSync(dir: string, state: DirSyncState): Promise<void> {
  const sync: Promise<void> = fsyncDirNow(dir).finally(() => {
    if (state.inFlight === sync) state.inFlight = null;
    if (!state.inFlight && !state.queued) dirSyncs.delete(dir);
  });
  state.inFlight = sync;
  return sync;
}

/**
 * fsyncs a folder so that entries created or renamed in it before the call are durable. Calls for
 * the same folder share fsyncs: a call made while one is in flight waits for the next one, which
 * starts after it and so covers every change made before the call.
 */
export function fsyncDir(dir: string): Promise<void> {
  let state = dirSyncs.get(dir);
  if (!state) {
    state = { inFlight: null, queued: null };
    dirSyncs.set(dir, state);
  }
  if (!state.inFlight) return startDirSync(dir, state);
  if (!state.queued) {
    const owner = state;
    owner.queued = owner
      .inFlight!.catch(() => undefined)
      .then(() => {
        owner.queued = null;
        return startDirSync(dir, owner);
      });
  }
  return state.queued!;
}

/** An `ensureDirDurable` call in progress: what its mkdir created, and its parent fsyncs. */
interface DirCreation {
  /** The first folder the mkdir created, or undefined when it created none. */
  created: Promise<string | undefined>;
  synced: Promise<void>;
}
const dirCreations = new Set<DirCreation>();

function isSameOrInside(dir: string, ancestor: string): boolean {
  const relative = path.relative(ancestor, dir);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/** The folders to fsync after `mkdir -p dir` created `first`: each new folder's parent. */
function parentsToSync(dir: string, first: string): string[] {
  const created: string[] = [];
  for (let current = dir; ; current = path.dirname(current)) {
    created.push(current);
    if (current === first || current === path.dirname(current)) break;
  }
  // The parent of `first`, and every new folder but the deepest (whose entries the caller makes
  // durable itself).
  return created.slice(1).concat(path.dirname(first));
}

/**
 * `mkdir -p` (mode 0o700); resolves with the first folder it created, as `fs.mkdir(dir,
 * { recursive: true })` does. That one, on Node 20, loops for ever where the kernel refuses a
 * folder under an existing one with ENOENT (`/proc/x`); here that ENOENT is the error. Folders
 * are made only inside `within` when it is given: a missing `within` is an ENOENT error.
 */
export async function makeDirs(dir: string, within?: string): Promise<string | undefined> {
  const missing: string[] = [];
  const boundary = within === undefined ? undefined : path.resolve(within);
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    let info: import("node:fs").Stats;
    try {
      info = await fs.stat(current);
    } catch (error) {
      if (!hasErrorCode(error, "ENOENT") || current === path.dirname(current)) throw error;
      if (current === boundary) throw error;
      missing.push(current);
      continue;
    }
    if (info.isDirectory()) break;
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${current}'`), {
      code: "ENOTDIR",
      path: current,
    });
  }
  let first: string | undefined;
  for (const folder of missing.reverse()) {
    try {
      await fs.mkdir(folder, { mode: PRIVATE_DIR_MODE });
      first ??= folder;
    } catch (error) {
      // Made meanwhile by a concurrent call: its own fsyncs make it durable.
      if (!hasErrorCode(error, "EEXIST") || !(await fs.stat(folder)).isDirectory()) throw error;
    }
  }
  return first;
}

/**
 * `mkdir -p` (mode 0o700) that makes new folders durable: when folders are created, the folder
 * holding each new one is fsynced. A call that finds its folder already there still waits for the
 * concurrent calls that created it (or an ancestor) to finish their fsyncs, so that no call returns
 * before its folder is durable.
 */
export async function ensureDirDurable(dir: string, within?: string): Promise<void> {
  const target = path.resolve(dir);
  const created = makeDirs(target, within);
  const synced = created.then(async (first) => {
    if (first !== undefined) {
      await Promise.all(parentsToSync(target, path.resolve(first)).map((p) => fsyncDir(p)));
    }
  });
  // Registered before the mkdir runs: a concurrent call that sees our folders must find us here.
  const creation: DirCreation = { created, synced };
  dirCreations.add(creation);
  try {
    await synced;
  } finally {
    dirCreations.delete(creation);
  }
  await dirCreationsOf(target);
}

/**
 * Waits for the `ensureDirDurable` calls in progress that created `dir` or a folder above it to
 * finish their fsyncs. No I/O: immediate when none is in progress.
 */
async function dirCreationsOf(dir: string): Promise<void> {
  if (dirCreations.size === 0) return;
  const target = path.resolve(dir);
  await Promise.all(
    [...dirCreations].map(async (other) => {
      const first = await other.created.catch(() => undefined);
      if (first !== undefined && isSameOrInside(target, path.resolve(first))) {
        // Its failure is ours too: the folder we write into may not be durable.
        await other.synced;
      }
    }),
  );
}

/**
 * Creates `file`, which must not exist, with `bytes` and fsyncs it; the folder is not fsynced (the
 * caller makes the new entry durable). The file is removed on failure.
 */
export async function createFileSynced(file: string, bytes: Uint8Array | string): Promise<void> {
  const fd = await openFd(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
    PRIVATE_FILE_MODE,
  );
  try {
    await writeAll(fd, bytes);
    await fsyncFd(fd);
  } catch (error) {
    closeQuietly(fd);
    await fs.rm(file, { force: true });
    throw error;
  }
  closeSync(fd);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Closing is all that is left to do with it.
  }
}

/**
 * Writes and fsyncs a temp file beside `target`, creating its folders durably when they are
 * missing (only inside `within`, when given, and only once `guard` passes: a writer that lost
 * its run makes no folder). The folder is tried first, so the common case (it exists) costs no
 * mkdir.
 */
async function writeTemp(
  target: string,
  bytes: Uint8Array | string,
  within: string | undefined,
  guard?: () => Promise<void>,
): Promise<string> {
  const dir = path.dirname(target);
  const temp = tempPathFor(target);
  try {
    await createFileSynced(temp, bytes);
  } catch (error) {
    if (!hasErrorCode(error, "ENOENT")) throw error;
    await guard?.();
    await ensureDirDurable(dir, within);
    await createFileSynced(temp, bytes);
  }
  // The folder may have just been made by a concurrent call whose fsyncs are still under way.
  await dirCreationsOf(dir);
  return temp;
}

/**
 * Replaces `target` atomically and durably: temp file in the same folder, write, fsync, rename,
 * fsync the folder. Creates missing folders (durably), only inside `within` when it is given
 * (a run's folder: one deleted meanwhile is not made again). The temp file is removed on failure.
 * `guard` runs between the temp file's fsync and the rename; if it throws, `target` is untouched.
 * A guarded rename is made synchronously, right after the guard: an asynchronous one would wait
 * in libuv's thread pool (behind the fsyncs of other writes), and a process frozen meanwhile
 * would carry it out when it wakes, long after its guard passed (a lease lost since).
 */
export async function writeFileDurable(
  target: string,
  bytes: Uint8Array | string,
  guard?: () => Promise<void>,
  within?: string,
): Promise<void> {
  const dir = path.dirname(target);
  const temp = await writeTemp(target, bytes, within, guard);
  try {
    if (guard) {
      await guard();
      renameSync(temp, target);
    } else {
      await fs.rename(temp, target);
    }
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await fsyncDir(dir);
}

/**
 * Creates `target` with `bytes` only if it does not exist, atomically and durably (temp file, then
 * a hard link, which fails if the name is taken). Returns false when `target` already exists.
 * Missing folders are made as `writeFileDurable` makes them.
 */
export async function createFileExclusiveDurable(
  target: string,
  bytes: Uint8Array | string,
  within?: string,
): Promise<boolean> {
  const dir = path.dirname(target);
  const temp = await writeTemp(target, bytes, within);
  try {
    await fs.link(temp, target);
  } catch (error) {
    if (hasErrorCode(error, "EEXIST")) return false;
    throw error;
  } finally {
    await fs.rm(temp, { force: true });
  }
  await fsyncDir(dir);
  return true;
}

/** A check that must pass right before a batch is written (e.g. that the writer holds a lease). */
export type AppendGuard = () => Promise<void>;

/** Writes one batch of log text through an open append-mode file descriptor. */
export type BatchWriter = (fd: number, text: string) => void;

const writeWholeBatch: BatchWriter = (fd, text) => writeAllSync(fd, Buffer.from(text));

interface PendingAppend {
  text: string;
  guard: AppendGuard | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for append-only logs: appends to one file made while a write is in flight are
 * batched into the next single write + fsync. Lines land in the order `append` was called, and each
 * caller's promise resolves once its own lines are durable.
 *
 * A failed write (ENOSPC, EIO) may have left part of its batch in the file: the file is cut back to
 * its size before the batch, and the failed batch and everything queued behind it are rejected
 * (their callers numbered their lines expecting the failed ones before them). The file then
 * refuses appends until `reopen(file)`, which its owner calls once it has re-read the file.
 */
export class GroupCommitAppender {
  private readonly queues = new Map<string, PendingAppend[]>();
  private readonly failed = new Map<string, unknown>();

  /** @param write How a batch reaches the file; a seam for tests of failed writes. */
  constructor(private readonly write: BatchWriter = writeWholeBatch) {}

  /**
   * Appends `lines` (newline-terminated) to `file`; resolves when they are durable. `guard` runs
   * right before the batch holding these lines is written; if it throws, nothing of the batch is
   * written and it fails as a failed write does.
   */
  append(file: string, lines: string[], guard?: AppendGuard): Promise<void> {
    const text = lines.map((line) => `${line}\n`).join("");
    return new Promise<void>((resolve, reject) => {
      if (this.failed.has(file)) {
        reject(
          new StoreError(`Cannot append to ${file}: an earlier append failed; re-read it first`, {
            cause: this.failed.get(file),
          }),
        );
        return;
      }
      const queue = this.queues.get(file);
      if (queue) {
        queue.push({ text, guard, resolve, reject });
        return;
      }
      this.queues.set(file, [{ text, guard, resolve, reject }]);
      void this.drain(file);
    });
  }

  /** Accepts appends to `file` again after a failure. */
  reopen(file: string): void {
    this.failed.delete(file);
  }

  /**
   * Writes the queued batches one after another. The file stays open while batches keep coming,
   * so a busy log costs one write and one fsync per batch; it is closed once the queue is empty.
   */
  private async drain(file: string): Promise<void> {
    let fd: number | undefined;
    try {
      for (;;) {
        const queue = this.queues.get(file);
        if (!queue || queue.length === 0) {
          this.queues.delete(file);
          return;
        }
        const batch = queue.splice(0, queue.length);
        try {
          // First batch, or the file was removed or replaced since the last one: append to what
          // is at the path now. Opened before the guards, so that nothing waits between them and
          // the write (a process frozen in that wait would write, when it wakes, lines its guard
          // let through before it lost its lease). A log that is missing is created only after
          // them: a writer that lost its run makes no file in it.
          if (fd === undefined || sizeIfStillAt(fd, file) === undefined) {
            if (fd !== undefined) closeQuietly(fd);
            fd = undefined;
            fd = await openExistingLog(file);
          }
          for (const guard of new Set(batch.map((item) => item.guard))) await guard?.();
          let size = fd === undefined ? undefined : sizeIfStillAt(fd, file);
          if (fd === undefined || size === undefined) {
            // Missing, or removed or replaced while a guard ran.
            if (fd !== undefined) closeQuietly(fd);
            fd = undefined;
            fd = await openLog(file);
            size = fstatSync(fd).size;
          }
          await this.appendBatch(fd, size, batch.map((item) => item.text).join(""));
          for (const item of batch) item.resolve();
        } catch (error) {
          this.failed.set(file, error);
          this.queues.delete(file);
          for (const item of batch.concat(queue)) item.reject(error);
          return;
        }
      }
    } finally {
      if (fd !== undefined) closeQuietly(fd);
    }
  }

  /** `size`: the file's size before the batch, which a failed write is cut back to. */
  private async appendBatch(fd: number, size: number, text: string): Promise<void> {
    try {
      this.write(fd, text);
      await fsyncFd(fd);
    } catch (error) {
      // Best effort: if the cut fails too, the torn tail is cut when the log is next read.
      try {
        ftruncateSync(fd, size);
        await fsyncFd(fd);
      } catch {
        // Left for the next reader.
      }
      throw error;
    }
  }
}

/**
 * The size of the file open as `fd`, if `file` still names it (it was not removed, or replaced by
 * a rename, since it was opened); undefined otherwise.
 */
function sizeIfStillAt(fd: number, file: string): number | undefined {
  const open = fstatSync(fd);
  try {
    const named = statSync(file);
    return named.ino === open.ino && named.dev === open.dev ? open.size : undefined;
  } catch (error) {
    if (hasErrorCode(error, "ENOENT", "ENOTDIR")) return undefined;
    throw error;
  }
}

/** Opens an existing append-only log for appending; undefined when there is none. */
async function openExistingLog(file: string): Promise<number | undefined> {
  try {
    return await openFd(file, constants.O_WRONLY | constants.O_APPEND);
  } catch (error) {
    if (!hasErrorCode(error, "ENOENT")) throw error;
    return undefined;
  }
}

/**
 * Opens an append-only log for appending. Usually it exists: opened without O_CREAT. A log that is
 * missing is created (and its folder fsynced), its folder too when that is missing.
 */
async function openLog(file: string): Promise<number> {
  const existing = await openExistingLog(file);
  if (existing !== undefined) return existing;
  let fd: number;
  try {
    fd = await openFd(
      file,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL,
      PRIVATE_FILE_MODE,
    );
  } catch (error) {
    if (!hasErrorCode(error, "ENOENT", "EEXIST")) throw error;
    // Its folder is missing, or another writer created the file meanwhile: try again.
    if (hasErrorCode(error, "ENOENT")) await ensureDirDurable(path.dirname(file));
    return openLog(file);
  }
  try {
    await fsyncDir(path.dirname(file));
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
  return fd;
}
