/**
 * @module Worker-thread task of the filesystem ArtifactStore (run through the worker pool): hashes
 * stored files where they lie, so checking artifacts costs the main thread nothing.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import type { StoredArtifact } from "./store.js";

const CHUNK_BYTES = 1024 * 1024;

/** One file's digest, or why it could not be read (`code` as the fs call raised it). */
export type DigestOutcome = StoredArtifact | { error: { code?: string; message: string } };

/** A file of the batch (its index in `files`) and its digest. */
export type DigestResult = [index: number, outcome: DigestOutcome];

/**
 * Digests files of `files` until none is left, taking the next one from the counter that every
 * thread working on the batch shares: a thread that drew big files takes fewer, and none waits for
 * the main thread between files, however busy that is.
 */
export function digestFiles({
  files,
  next,
}: {
  files: string[];
  next: Int32Array;
}): DigestResult[] {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  const results: DigestResult[] = [];
  for (let index = Atomics.add(next, 0, 1); index < files.length; index = Atomics.add(next, 0, 1)) {
    results.push([index, digestOne(files[index]!, buffer)]);
  }
  return results;
}

function digestOne(file: string, buffer: Buffer): DigestOutcome {
  try {
    return digestFile(file, buffer);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return { error: { ...(typeof code === "string" ? { code } : {}), message } };
  }
}

/** Read in chunks into `buffer` (a worker thread may block). */
function digestFile(file: string, buffer: Buffer): StoredArtifact {
  const hash = createHash("sha256");
  const fd = openSync(file, "r");
  try {
    let bytes = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, null);
      if (read === 0) return { sha256: hash.digest("hex"), bytes };
      hash.update(buffer.subarray(0, read));
      bytes += read;
    }
  } finally {
    closeSync(fd);
  }
}
