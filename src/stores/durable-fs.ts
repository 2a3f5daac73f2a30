/**
 * @module Crash-safe file writes (ARCHITECTURE §4.2 durability rule): temp file in the same folder,
 * fsync, rename, fsync the folder. After a `kill -9` at any instant a reader sees the old file or
 * the new one, never a torn one. Folder fsyncs and event-log appends are coalesced so that many
 * concurrent writers share fsyncs instead of queueing one each.
 */
import { randomBytes } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";

/** Whether an unknown error is a Node system error with this code. */
export function hasErrorCode(error: unknown, ...codes: string[]): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    codes.includes((error as NodeJS.ErrnoException).code ?? "")
  );
}

/** Temp files start with a dot and end in `.tmp`; listings skip them. */
export function isTempFileName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}

function tempPathFor(target: string): string {
  const suffix = `${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  return path.join(path.dirname(target), `.${path.basename(target)}.${suffix}`);
}

async function fsyncDirNow(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch (error) {
    // Some platforms (Windows) cannot open or fsync a folder; rename is as durable as they allow.
    if (!hasErrorCode(error, "EISDIR", "EPERM", "EINVAL", "EACCES")) throw error;
  } finally {
    await handle?.close();
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

/**
 * `mkdir -p` that makes new folders durable: when folders are created, the folder holding each new
 * one is fsynced.
 */
export async function ensureDirDurable(dir: string): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const created: string[] = [];
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    created.push(current);
    if (current === path.resolve(first) || current === path.dirname(current)) break;
  }
  // Each new folder's parent holds a new entry: the parent of `first`, and every new folder but
  // the deepest (whose entries the caller makes durable itself).
  const parents = created.slice(1).concat(path.dirname(path.resolve(first)));
  await Promise.all(parents.map((parent) => fsyncDir(parent)));
}

async function writeTemp(target: string, bytes: Uint8Array | string): Promise<string> {
  const temp = tempPathFor(target);
  const handle = await fs.open(temp, "wx");
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  return temp;
}

/**
 * Replaces `target` atomically and durably: temp file in the same folder, write, fsync, rename,
 * fsync the folder. Creates missing folders (durably). The temp file is removed on failure.
 */
export async function writeFileDurable(target: string, bytes: Uint8Array | string): Promise<void> {
  const dir = path.dirname(target);
  await ensureDirDurable(dir);
  const temp = await writeTemp(target, bytes);
  try {
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await fsyncDir(dir);
}

/**
 * Creates `target` with `bytes` only if it does not exist, atomically and durably (temp file, then
 * a hard link, which fails if the name is taken). Returns false when `target` already exists.
 */
export async function createFileExclusiveDurable(
  target: string,
  bytes: Uint8Array | string,
): Promise<boolean> {
  const dir = path.dirname(target);
  await ensureDirDurable(dir);
  const temp = await writeTemp(target, bytes);
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

/**
 * Appends text to a file (creating it and its folders) and fsyncs it; the folder is fsynced too
 * when the file is new.
 */
export async function appendDurable(file: string, text: string): Promise<void> {
  let handle: fs.FileHandle;
  let created = true;
  try {
    handle = await fs.open(file, "ax");
  } catch (error) {
    if (hasErrorCode(error, "ENOENT")) {
      await ensureDirDurable(path.dirname(file));
      return appendDurable(file, text);
    }
    if (!hasErrorCode(error, "EEXIST")) throw error;
    created = false;
    handle = await fs.open(file, "a");
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (created) await fsyncDir(path.dirname(file));
}

/** Appends lines (each gets a trailing newline) durably; see `appendDurable`. */
export function appendLinesDurable(file: string, lines: string[]): Promise<void> {
  return appendDurable(file, lines.map((line) => `${line}\n`).join(""));
}

interface PendingAppend {
  text: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for append-only logs: appends to one file made while a write is in flight are
 * batched into the next single write + fsync. Lines land in the order `append` was called, and each
 * caller's promise resolves once its own lines are durable.
 */
export class GroupCommitAppender {
  private readonly queues = new Map<string, PendingAppend[]>();

  /** Appends `lines` (newline-terminated) to `file`; resolves when they are durable. */
  append(file: string, lines: string[]): Promise<void> {
    const text = lines.map((line) => `${line}\n`).join("");
    return new Promise<void>((resolve, reject) => {
      const queue = this.queues.get(file);
      if (queue) {
        queue.push({ text, resolve, reject });
        return;
      }
      this.queues.set(file, [{ text, resolve, reject }]);
      void this.drain(file);
    });
  }

  private async drain(file: string): Promise<void> {
    for (;;) {
      const queue = this.queues.get(file);
      if (!queue || queue.length === 0) {
        this.queues.delete(file);
        return;
      }
      const batch = queue.splice(0, queue.length);
      try {
        await appendDurable(file, batch.map((item) => item.text).join(""));
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
  }
}
