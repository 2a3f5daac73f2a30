/**
 * @module Worker-thread task of the filesystem ArtifactStore (run through the worker pool): hashes
 * stored files where they lie, so checking artifacts costs the main thread nothing.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { type SharedAnswer, type SharedList, takeShared } from "../../execute/shared-list.js";
import type { StoredArtifact } from "./store.js";

const CHUNK_BYTES = 1024 * 1024;

/** One file's digest, or why it could not be read (`code` as the fs call raised it). */
export type DigestOutcome = StoredArtifact | { error: { code?: string; message: string } };

/** Digests files of a list that the threads hashing the batch share (`shared-list.ts`). */
export function digestFiles(files: SharedList<string>): SharedAnswer<DigestOutcome>[] {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  return takeShared(files, (file) => digestOne(file, buffer));
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
