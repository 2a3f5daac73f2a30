/**
 * @module Reading a WAL-mode SQLite database as SQLite itself would: the transactions committed
 * to `<db>-wal` and not yet copied into the database file (checkpointed) are applied to a copy of
 * the file's bytes. sql.js opens an in-memory image, with no `-wal` beside it, so without this a
 * live application database (or one whose writer crashed) reads as it was at the last checkpoint,
 * often empty. The format is SQLite's (https://www.sqlite.org/fileformat2.html#walformat): a
 * 32-byte header, then frames of a 24-byte header and one page; a frame counts when its salts
 * match the header's and its cumulative checksum is right, and only up to the last commit frame.
 */

const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
/** Checksums of the log's words read little-endian (…82) or big-endian (…83). */
const MAGIC_LITTLE_ENDIAN = 0x377f0682;
const MAGIC_BIG_ENDIAN = 0x377f0683;

/** The committed pages of a write-ahead log, and the database size (in pages) they leave. */
export interface WalCommits {
  pageSize: number;
  pages: Map<number, Uint8Array>;
  databasePages: number;
  frames: number;
}

/** Adds the checksum of `bytes` (a multiple of 8 long) to `sums`, as SQLite's walChecksumBytes. */
function checksum(view: DataView, start: number, end: number, little: boolean, sums: Uint32Array) {
  let s0 = sums[0]!;
  let s1 = sums[1]!;
  for (let at = start; at < end; at += 8) {
    s0 = (s0 + view.getUint32(at, little) + s1) >>> 0;
    s1 = (s1 + view.getUint32(at + 4, little) + s0) >>> 0;
  }
  sums[0] = s0;
  sums[1] = s1;
}

/** The committed transactions of a `-wal` file; null when it holds none (or is not a log). */
export function readWalCommits(wal: Uint8Array): WalCommits | null {
  if (wal.length < WAL_HEADER_BYTES) return null;
  const view = new DataView(wal.buffer, wal.byteOffset, wal.byteLength);
  const magic = view.getUint32(0);
  if (magic !== MAGIC_LITTLE_ENDIAN && magic !== MAGIC_BIG_ENDIAN) return null;
  const little = magic === MAGIC_LITTLE_ENDIAN;
  const pageSize = view.getUint32(8);
  // A power of two from 512 to 65536.
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return null;
  const sums = new Uint32Array(2);
  checksum(view, 0, 24, little, sums);
  if (sums[0] !== view.getUint32(24) || sums[1] !== view.getUint32(28)) return null;
  const salt1 = view.getUint32(16);
  const salt2 = view.getUint32(20);

  const pending = new Map<number, Uint8Array>();
  const committed = new Map<number, Uint8Array>();
  let databasePages = 0;
  let frames = 0;
  const frameBytes = FRAME_HEADER_BYTES + pageSize;
  for (let at = WAL_HEADER_BYTES; at + frameBytes <= wal.length; at += frameBytes) {
    const page = view.getUint32(at);
    if (page === 0 || view.getUint32(at + 8) !== salt1 || view.getUint32(at + 12) !== salt2) break;
    checksum(view, at, at + 8, little, sums);
    checksum(view, at + FRAME_HEADER_BYTES, at + frameBytes, little, sums);
    if (sums[0] !== view.getUint32(at + 16) || sums[1] !== view.getUint32(at + 20)) break;
    pending.set(page, wal.subarray(at + FRAME_HEADER_BYTES, at + frameBytes));
    const sizeAfterCommit = view.getUint32(at + 4);
    if (sizeAfterCommit > 0) {
      for (const [number, bytes] of pending) committed.set(number, bytes);
      pending.clear();
      databasePages = sizeAfterCommit;
      frames = (at + frameBytes - WAL_HEADER_BYTES) / frameBytes;
    }
  }
  return frames === 0 ? null : { pageSize, pages: committed, databasePages, frames };
}

/**
 * The database file's bytes with the log's commits applied, as a checkpoint would leave them, and
 * marked a rollback-journal database (header bytes 18-19), so that nothing looks for a log.
 */
export function applyWalCommits(database: Uint8Array, commits: WalCommits): Uint8Array {
  const { pageSize, pages, databasePages } = commits;
  const image = new Uint8Array(databasePages * pageSize);
  image.set(database.subarray(0, Math.min(database.length, image.length)));
  for (const [page, bytes] of pages) {
    if (page <= databasePages) image.set(bytes, (page - 1) * pageSize);
  }
  image[18] = 1;
  image[19] = 1;
  return image;
}
