/**
 * @module Reading a rollback-journal SQLite database as SQLite itself would when a `<db>-journal`
 * is beside it: a writer in the middle of a transaction (or one that was killed in it) may have
 * written pages of the transaction to the database file already, and the journal holds those
 * pages as they were before it. SQLite rolls such a "hot" journal back before it reads; sql.js
 * opens an in-memory image with no journal beside it, so without this a scan would report rows
 * that were never committed, or fail on a half-written file. The format is SQLite's
 * (https://www.sqlite.org/fileformat2.html#the_rollback_journal): segments of a header padded to
 * the sector size, then records of a page number, the page and a checksum; playback stops at the
 * first record that is torn or fails its checksum, as SQLite's does.
 */

const MAGIC = Uint8Array.of(0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7);
/** The page holding byte 2^30 of the file (the lock byte), which no journal record names. */
const PENDING_BYTE = 0x40000000;

/** The original pages a rollback journal restores, and the database size (in pages) it restores. */
export interface JournalRollback {
  pageSize: number;
  pages: Map<number, Uint8Array>;
  databasePages: number;
  /** The super-journal of a transaction over several attached databases, if it names one. */
  superJournal?: string;
}

function hasMagic(journal: Uint8Array, at: number): boolean {
  return at + MAGIC.length <= journal.length && MAGIC.every((byte, i) => journal[at + i] === byte);
}

function isPowerOfTwo(value: number, min: number, max: number): boolean {
  return value >= min && value <= max && (value & (value - 1)) === 0;
}

/** The rollback a hot journal calls for; null when it calls for none (or is not a journal). */
export function readRollbackJournal(journal: Uint8Array): JournalRollback | null {
  // A journal that was committed is deleted, truncated, or has its header zeroed.
  if (journal.length < 28 || !hasMagic(journal, 0)) return null;
  const view = new DataView(journal.buffer, journal.byteOffset, journal.byteLength);
  const pageSize = view.getUint32(24);
  const sectorSize = view.getUint32(20);
  if (!isPowerOfTwo(pageSize, 512, 65536) || !isPowerOfTwo(sectorSize, 32, 65536)) return null;
  const recordBytes = pageSize + 8;
  const lockPage = Math.floor(PENDING_BYTE / pageSize) + 1;
  const databasePages = view.getUint32(16);
  const pages = new Map<number, Uint8Array>();

  let header = 0;
  playback: while (header + sectorSize <= journal.length && hasMagic(journal, header)) {
    let records = view.getUint32(header + 8);
    const nonce = view.getUint32(header + 12);
    let at = header + sectorSize;
    // A writer that does not sync leaves -1: every record to the end of the file.
    if (records === 0xffffffff) records = Math.floor((journal.length - at) / recordBytes);
    for (let n = 0; n < records; n++, at += recordBytes) {
      if (at + recordBytes > journal.length) break playback;
      const page = view.getUint32(at);
      if (page === 0 || page === lockPage) break playback;
      const data = journal.subarray(at + 4, at + 4 + pageSize);
      // SQLite's checksum: the nonce plus every 200th byte, from the end of the page.
      let sum = nonce;
      for (let i = pageSize - 200; i > 0; i -= 200) sum = (sum + data[i]!) >>> 0;
      if (sum !== view.getUint32(at + 4 + pageSize)) break playback;
      // The first record of a page holds it as it was before the transaction.
      if (page <= databasePages && !pages.has(page)) pages.set(page, data);
    }
    // The next segment's header starts at the next sector boundary.
    header = Math.ceil(at / sectorSize) * sectorSize;
  }
  const superJournal = superJournalName(journal, view);
  return { pageSize, pages, databasePages, ...(superJournal ? { superJournal } : {}) };
}

/**
 * The super-journal a journal's last record names (`ATTACH`ed databases committed together):
 * the name, its length and checksum, and the magic. Its transaction committed if the super-journal
 * is gone; SQLite then does not roll the journal back.
 */
function superJournalName(journal: Uint8Array, view: DataView): string | undefined {
  const end = journal.length;
  if (end < 16 || !hasMagic(journal, end - 8)) return undefined;
  const length = view.getUint32(end - 16);
  if (length === 0 || length > end - 16) return undefined;
  const name = journal.subarray(end - 16 - length, end - 16);
  let sum = view.getUint32(end - 12);
  for (const byte of name) sum = (sum - byte) >>> 0;
  if (sum !== 0) return undefined;
  const text = new TextDecoder().decode(name);
  const nul = text.indexOf("\0");
  return nul === -1 ? text : text.slice(0, nul);
}

/**
 * The database file's bytes as the journal's rollback leaves them: cut to the size it had before
 * the transaction. SQLite extends a file shorter than that with zeros, which read as the missing
 * pages do: the image is not extended past the file and the pages restored (a damaged header
 * could claim any size).
 */
export function applyRollback(database: Uint8Array, rollback: JournalRollback): Uint8Array {
  const { pageSize, pages, databasePages } = rollback;
  let restoredPages = 0;
  // A loop, not Math.max(...keys): a large transaction's journal holds more pages than a call
  // takes arguments.
  for (const page of pages.keys()) restoredPages = Math.max(restoredPages, page);
  const size = Math.min(
    databasePages,
    Math.max(Math.ceil(database.length / pageSize), restoredPages),
  );
  const image = new Uint8Array(size * pageSize);
  image.set(database.subarray(0, Math.min(database.length, image.length)));
  for (const [page, bytes] of pages) image.set(bytes, (page - 1) * pageSize);
  return image;
}
