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

/**
 * sha256 and size of each file's bytes, in order. A whole batch is one task: the thread goes
 * from file to file without waiting for the main thread, however busy that is.
 */
export function digestFiles({ files }: { files: string[] }): DigestOutcome[] {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  return files.map((file) => {
    try {
      return digestFile(file, buffer);
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      return { error: { ...(typeof code === "string" ? { code } : {}), message } };
    }
  });
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
