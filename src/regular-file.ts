/**
 * @module Reading a file that must be a regular file (a runbook, a SQLite database), never
 * waiting on a FIFO or a device.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";

/**
 * A regular file's bytes, or null for another kind of file: a FIFO, whose read would wait for a
 * writer for ever, or a device, whose read may never end. Opened without blocking and checked
 * through its handle, so the file checked is the file read.
 */
export async function readRegularFile(path: string): Promise<Buffer | null> {
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    return (await handle.stat()).isFile() ? await handle.readFile() : null;
  } finally {
    await handle.close();
  }
}
