/**
 * @module Worker-thread task of the filesystem ArtifactStore (run through the worker pool): hashes
 * a stored file where it lies, so checking artifacts costs the main thread nothing.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import type { StoredArtifact } from "./store.js";

const CHUNK_BYTES = 1024 * 1024;

/** sha256 and size of a file's bytes, read in chunks (a worker thread may block). */
export function digestFile({ file }: { file: string }): StoredArtifact {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  const fd = openSync(file, "r");
  try {
    let bytes = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, CHUNK_BYTES, null);
      if (read === 0) return { sha256: hash.digest("hex"), bytes };
      hash.update(buffer.subarray(0, read));
      bytes += read;
    }
  } finally {
    closeSync(fd);
  }
}
