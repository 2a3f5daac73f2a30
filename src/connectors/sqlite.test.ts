import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import initSqlJs from "sql.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ComponentContext } from "../components/types.js";
import { ComponentError } from "../errors.js";
import { validateContent } from "../schemas/registry.js";
import { readUnchanged, sqliteConnector } from "./sqlite.js";

const STANDARD_INPUT = { name: "standard_input", version: "1.0.0" };

let base: string;
let context: ComponentContext;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "wct-sqlite-"));
  context = {
    signal: new AbortController().signal,
    workers: { size: 1, run: () => Promise.reject(new Error("sqlite does not use workers")) },
    baseDir: base,
    writtenProperties: {},
    warn: () => {},
  };
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

/** Creates a database file in the temp folder from SQL statements. */
async function createDatabase(fileName: string, sql: string): Promise<void> {
  const wasmPath = createRequire(import.meta.url).resolve("sql.js/dist/sql-wasm.wasm");
  const { Database } = await initSqlJs({ locateFile: () => wasmPath });
  const database = new Database();
  database.run(sql);
  writeFileSync(join(base, fileName), database.export());
  database.close();
}

/** The bytes of a database made from SQL statements. */
async function databaseBytes(sql: string): Promise<Uint8Array> {
  const wasmPath = createRequire(import.meta.url).resolve("sql.js/dist/sql-wasm.wasm");
  const { Database } = await initSqlJs({ locateFile: () => wasmPath });
  const database = new Database();
  database.run(sql);
  const bytes = database.export();
  database.close();
  return bytes;
}

/**
 * A hot rollback journal in SQLite's format that restores `before` over `after`: a header padded
 * to a 512-byte sector, then each page of `before` that `after` changed (number, page, checksum);
 * with `split`, a second segment (header) after that many records.
 */
function rollbackJournal(
  before: Uint8Array,
  after: Uint8Array,
  pageSize: number,
  split?: number,
): Buffer {
  const nonce = 0x1234abcd;
  const changed: number[] = [];
  for (let page = 1; page * pageSize <= before.length; page++) {
    const at = (page - 1) * pageSize;
    const old = Buffer.from(before.subarray(at, at + pageSize));
    if (!old.equals(Buffer.from(after.subarray(at, at + pageSize)))) changed.push(page);
  }
  const segments =
    split === undefined ? [changed] : [changed.slice(0, split), changed.slice(split)];
  const parts: Buffer[] = [];
  for (const pages of segments) {
    const header = Buffer.alloc(512);
    Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]).copy(header);
    header.writeUInt32BE(pages.length, 8);
    header.writeUInt32BE(nonce, 12);
    header.writeUInt32BE(before.length / pageSize, 16);
    header.writeUInt32BE(512, 20);
    header.writeUInt32BE(pageSize, 24);
    parts.push(header);
    for (const page of pages) {
      const data = Buffer.from(before.subarray((page - 1) * pageSize, page * pageSize));
      let sum = nonce;
      for (let i = pageSize - 200; i > 0; i -= 200) sum = (sum + data[i]!) >>> 0;
      const record = Buffer.alloc(pageSize + 8);
      record.writeUInt32BE(page, 0);
      data.copy(record, 4);
      record.writeUInt32BE(sum, pageSize + 4);
      parts.push(record);
    }
    // The next segment starts at a sector boundary.
    const length = parts.reduce((total, part) => total + part.length, 0);
    parts.push(Buffer.alloc((512 - (length % 512)) % 512));
  }
  return Buffer.concat(parts);
}

type Item = { content: string; metadata: Record<string, unknown> };
type Content = {
  name: string;
  source: string;
  metadata: { extraction_summary: unknown; database_schema: { tables: unknown[] } };
  data: Item[];
};

async function extract(properties: Record<string, unknown>): Promise<Content> {
  const output = await sqliteConnector.extract(properties, STANDARD_INPUT, context);
  expect(validateContent(STANDARD_INPUT, output.content)).toEqual([]);
  return output.content as unknown as Content;
}

const CRM = `
  CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, phone TEXT, photo BLOB, note TEXT);
  INSERT INTO users VALUES (1, 'ada@example.com', '+44 20 7946 0001', x'89504e47', 'VIP');
  INSERT INTO users VALUES (2, 'bob@example.org', NULL, NULL, '   ');
  INSERT INTO users VALUES (3, 'cy@example.net', '', CAST('{"alt": "cy@example.org"}' AS BLOB), NULL);
  CREATE TABLE audit (at TEXT, big INTEGER, amount REAL);
  INSERT INTO audit VALUES ('2024-01-01', 9007199254740993, 12.5);
`;

describe("sqlite connector", () => {
  it("emits one item per non-empty cell, skipping NULLs, blanks and binary BLOBs", async () => {
    await createDatabase("crm.db", CRM);
    const content = await extract({ database_path: "crm.db" });
    expect(content.data.map((d) => d.content)).toEqual([
      "id: 1",
      "email: ada@example.com",
      "phone: +44 20 7946 0001",
      "note: VIP",
      "id: 2",
      "email: bob@example.org",
      "id: 3",
      "email: cy@example.net",
      'photo: {"alt": "cy@example.org"}',
      "at: 2024-01-01",
      "big: 9007199254740993",
      "amount: 12.5",
    ]);
    expect(content.data[1]?.metadata).toEqual({
      source: "sqlite_database_(crm.db)_table_(users)_column_(email)_row_(1)",
      connector_type: "sqlite_connector",
      table_name: "users",
      column_name: "email",
      row_number: 1,
    });
    expect(content.name).toBe("standard_input_from_crm.db");
    expect(content.source).toBe("crm.db");
    // The PNG header is not text: counted, not scanned.
    expect(content.metadata.extraction_summary).toEqual({
      tables: 2,
      rows: 4,
      items: 12,
      binary_cells_skipped: 1,
      skipped_tables: [],
    });
    expect(content.metadata.database_schema.tables[0]).toEqual({
      name: "users",
      sampled_rows: 3,
      columns: [
        { name: "id", type: "INTEGER", nullable: true, primary_key: true },
        { name: "email", type: "TEXT", nullable: false, primary_key: false },
        { name: "phone", type: "TEXT", nullable: true, primary_key: false },
        { name: "photo", type: "BLOB", nullable: true, primary_key: false },
        { name: "note", type: "TEXT", nullable: true, primary_key: false },
      ],
    });
  });

  it("samples at most max_rows_per_table rows per table", async () => {
    await createDatabase("crm.db", CRM);
    const content = await extract({ database_path: join(base, "crm.db"), max_rows_per_table: 1 });
    expect(content.metadata.extraction_summary).toMatchObject({ tables: 2, rows: 2, items: 7 });
    expect(content.data.every((d) => d.metadata.row_number === 1)).toBe(true);
  });

  it("writes REAL values as upstream's Python does, never as integers with invented digits", async () => {
    await createDatabase(
      "floats.db",
      `CREATE TABLE m (v);
       INSERT INTO m VALUES (1.0), (123456789012345678.0), (1e16), (1e15), (0.1), (-2.5),
         (1e-5), (0.0001), (-0.0), (1e999), (-1e999), (7);`,
    );
    const content = await extract({ database_path: "floats.db", max_rows_per_table: 20 });
    expect(content.data.map((d) => d.content)).toEqual([
      "v: 1.0",
      "v: 1.2345678901234568e+17",
      "v: 1e+16",
      "v: 1000000000000000.0",
      "v: 0.1",
      "v: -2.5",
      "v: 1e-05",
      "v: 0.0001",
      "v: -0.0",
      "v: inf",
      "v: -inf",
      // An INTEGER stays one.
      "v: 7",
    ]);
  });

  it("quotes awkward table and column names", async () => {
    await createDatabase(
      "odd.db",
      `CREATE TABLE "order ""items""" ("e-mail" TEXT, "select" TEXT);
       INSERT INTO "order ""items""" VALUES ('x@example.com', 'from');
       CREATE TABLE sqlitestats (v TEXT); INSERT INTO sqlitestats VALUES ('kept');`,
    );
    const content = await extract({ database_path: "odd.db" });
    expect(content.data.map((d) => [d.metadata.table_name, d.content])).toEqual([
      ['order "items"', "e-mail: x@example.com"],
      ['order "items"', "select: from"],
      ["sqlitestats", "v: kept"],
    ]);
  });

  it("lists generated columns in the schema, as it reads their values", async () => {
    await createDatabase(
      "people.db",
      `CREATE TABLE people (first TEXT, last TEXT,
         full_name TEXT GENERATED ALWAYS AS (first || ' ' || last) VIRTUAL,
         initials TEXT GENERATED ALWAYS AS (substr(first, 1, 1) || substr(last, 1, 1)) STORED);
       INSERT INTO people (first, last) VALUES ('Ada', 'Lovelace');
       CREATE VIRTUAL TABLE docs USING fts4(body);`,
    );
    const content = await extract({ database_path: "people.db" });
    expect(content.data.map((d) => d.content)).toEqual([
      "first: Ada",
      "last: Lovelace",
      "full_name: Ada Lovelace",
      "initials: AL",
    ]);
    const tables = content.metadata.database_schema.tables as {
      columns: { name: string }[];
    }[];
    expect(tables.map((table) => table.columns.map((column) => column.name))).toEqual([
      ["first", "last", "full_name", "initials"],
      // A virtual table's hidden columns (fts4's `docs`, `docid`) are not read: not listed.
      ["body"],
    ]);
  });

  it("fails clearly on a missing file and on a file that is not SQLite", async () => {
    await expect(extract({ database_path: "missing.db" })).rejects.toThrow(
      new ComponentError(
        `sqlite: database file 'missing.db' (${join(base, "missing.db")}) does not exist`,
      ),
    );
    // A FIFO would block the read for ever.
    execFileSync("mkfifo", [join(base, "pipe.db")]);
    await expect(extract({ database_path: "pipe.db" })).rejects.toThrow(
      /sqlite: 'pipe\.db' \(.*pipe\.db\) is not a regular file/,
    );
    writeFileSync(join(base, "notes.db"), "name,email\nAda,ada@example.com\n");
    writeFileSync(join(base, "tiny.db"), "SQLi");
    await expect(extract({ database_path: "tiny.db" })).rejects.toThrow(/is not a SQLite database/);
    await expect(extract({ database_path: "notes.db" })).rejects.toThrow(
      /sqlite: 'notes\.db' \(.*notes\.db\) is not a SQLite database/,
    );
    // An empty file is an empty database, as SQLite opens it.
    writeFileSync(join(base, "empty.db"), "");
    const warnings: string[] = [];
    context.warn = (message) => warnings.push(message);
    const empty = await extract({ database_path: "empty.db" });
    expect(empty.data).toEqual([]);
    expect(empty.metadata.database_schema.tables).toEqual([]);
    // Said, since a wrong path to an empty file would pass unseen.
    expect(warnings).toEqual([
      "sqlite: 'empty.db' holds no tables (an empty database: is database_path right?)",
    ]);
  });

  it("reads what a WAL-mode database committed to its write-ahead log, and nothing torn", async () => {
    // test/fixtures/sqlite-wal/make.py: one row checkpointed, two transactions only in the log.
    const fixture = new URL("../../test/fixtures/sqlite-wal/", import.meta.url);
    copyFileSync(new URL("app.db", fixture), join(base, "app.db"));
    const contents = async () =>
      (await extract({ database_path: "app.db" })).data.map((item) => item.content);
    // Without its log: as of the last checkpoint.
    expect(await contents()).toEqual(["id: 1", "email: checkpointed@example.com"]);
    const wal = readFileSync(new URL("app.db-wal", fixture));
    writeFileSync(join(base, "app.db-wal"), wal);
    expect(await contents()).toEqual([
      "id: 1",
      "email: checkpointed@example.com",
      "id: 2",
      "email: in-the-log@example.com",
      "body: call Jane Roe on +44 20 7946 0123",
    ]);
    // Reached through a symlink, the database's log is the one beside the file it leads to, as
    // SQLite itself opens it.
    mkdirSync(join(base, "links"));
    symlinkSync(join(base, "app.db"), join(base, "links", "current.db"));
    const linked = await extract({ database_path: "links/current.db" });
    expect(linked.data.map((item) => item.content)).toContain("email: in-the-log@example.com");
    // Beside an empty file the log is stale: SQLite deletes it and reads an empty database.
    writeFileSync(join(base, "empty.db"), "");
    writeFileSync(join(base, "empty.db-wal"), wal);
    expect((await extract({ database_path: "empty.db" })).data).toEqual([]);
    // A damaged last frame: its transaction did not happen, the one before it did.
    const torn = Buffer.from(wal);
    torn[torn.length - 100]! ^= 0xff;
    writeFileSync(join(base, "app.db-wal"), torn);
    expect(await contents()).toEqual([
      "id: 1",
      "email: checkpointed@example.com",
      "id: 2",
      "email: in-the-log@example.com",
    ]);
  });

  it("skips a virtual table of a module it lacks, and reads a full-text table once, not its shadow tables", async () => {
    await createDatabase(
      "search.db",
      `CREATE TABLE people (email TEXT);
       INSERT INTO people VALUES ('ada@example.com');
       CREATE VIRTUAL TABLE docs USING fts4(body);
       INSERT INTO docs VALUES ('ring Bob on +44 20 7946 0002');
       PRAGMA writable_schema = ON;
       INSERT INTO sqlite_master VALUES ('table', 'notes', 'notes', 0, 'CREATE VIRTUAL TABLE notes USING fts5(body)');
       PRAGMA writable_schema = OFF;
       CREATE TABLE notes_content (id INTEGER PRIMARY KEY, c0 TEXT);
       INSERT INTO notes_content VALUES (1, 'fts5 keeps cy@example.net here');
       CREATE TABLE docs_config (owner_email TEXT);
       INSERT INTO docs_config VALUES ('owner@example.com');`,
    );
    const warnings: string[] = [];
    context.warn = (message) => warnings.push(message);
    const content = await extract({ database_path: "search.db" });
    expect(content.data.map((d) => d.content)).toEqual([
      "email: ada@example.com",
      "body: ring Bob on +44 20 7946 0002",
      // The text of the virtual table it could not read is in its shadow table: read there.
      "id: 1",
      "c0: fts5 keeps cy@example.net here",
      // fts4 keeps no `_config` table: this one is a user's, read like any other.
      "owner_email: owner@example.com",
    ]);
    expect(
      content.metadata.database_schema.tables.map((t) => (t as { name: string }).name),
    ).toEqual(["people", "docs", "notes_content", "docs_config"]);
    expect(content.metadata.extraction_summary).toMatchObject({
      skipped_tables: [{ name: "notes", reason: "no such module: fts5" }],
    });
    expect(warnings).toEqual(["sqlite: skipping table 'notes': no such module: fts5"]);
  });

  it("rolls back a hot rollback journal: a writer's uncommitted pages are not read", async () => {
    // The database as committed, and as a writer inside a transaction left the file: an update
    // and a new table written to it, the pages they replaced kept in the journal.
    const committed = await databaseBytes(
      `PRAGMA page_size = 512;
       CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);
       INSERT INTO users VALUES (1, 'ada@example.com');`,
    );
    const written = await databaseBytes(
      `PRAGMA page_size = 512;
       CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);
       INSERT INTO users VALUES (1, 'uncommitted@example.com');
       CREATE TABLE drafts (body TEXT);
       INSERT INTO drafts VALUES (printf('%.*c', 3000, 'x') || ' bob@example.org');`,
    );
    expect(written.length).toBeGreaterThan(committed.length);
    writeFileSync(join(base, "app.db"), written);
    const contents = async () =>
      (await extract({ database_path: "app.db" })).data.map((item) => item.content);
    const journal = rollbackJournal(committed, written, 512);
    writeFileSync(join(base, "app.db-journal"), journal);
    expect(await contents()).toEqual(["id: 1", "email: ada@example.com"]);
    // Its records in two segments, as a writer that synced twice leaves them.
    writeFileSync(join(base, "app.db-journal"), rollbackJournal(committed, written, 512, 1));
    expect(await contents()).toEqual(["id: 1", "email: ada@example.com"]);
    // A damaged header claiming a database of 2^32 - 1 pages: no 2 TiB image, the file as it is.
    const huge = Buffer.from(journal);
    huge.writeUInt32BE(0xffffffff, 16);
    writeFileSync(join(base, "app.db-journal"), huge);
    expect(await contents()).toEqual(["id: 1", "email: ada@example.com"]);
    // A committed journal, its header zeroed (journal_mode=PERSIST): nothing to roll back.
    const zeroed = Buffer.from(journal);
    zeroed.fill(0, 0, 28);
    writeFileSync(join(base, "app.db-journal"), zeroed);
    expect(await contents()).toContain("email: uncommitted@example.com");
  });

  it("reads a database again while another process changes it, and gives up if it keeps changing", async () => {
    // The files' states as a writer leaves them: changed during the first two reads, then quiet.
    const states = ["a", "b", "b", "c", "c", "c"];
    let reads = 0;
    const read = async () => ++reads;
    const state = async () => states.shift() ?? "c";
    const giveUp = (attempts: number): never => {
      throw new Error(`gave up after ${attempts}`);
    };
    expect(await readUnchanged(read, state, giveUp)).toBe(3);
    let n = 0;
    const busy = async () => String(n++);
    await expect(readUnchanged(read, busy, giveUp)).rejects.toThrow("gave up after 20");
  });

  it("reports a corrupt database as a ComponentError", async () => {
    await createDatabase("crm.db", CRM);
    const bytes = Buffer.alloc(4096 * 2);
    Buffer.from("SQLite format 3\0", "latin1").copy(bytes);
    writeFileSync(join(base, "torn.db"), bytes);
    const failure = extract({ database_path: "torn.db" });
    await expect(failure).rejects.toBeInstanceOf(ComponentError);
    await expect(failure).rejects.toThrow(/sqlite: cannot read 'torn\.db'/);
  });

  it("fails clearly, without waiting for a writer, on a journal or log that is a FIFO", async () => {
    await createDatabase("crm.db", CRM);
    execFileSync("mkfifo", [join(base, "crm.db-journal")]);
    await expect(extract({ database_path: "crm.db" })).rejects.toThrow(
      new ComponentError(
        `sqlite: cannot read rollback journal of 'crm.db' (${join(base, "crm.db")}): it is not a regular file`,
      ),
    );
    rmSync(join(base, "crm.db-journal"));
    execFileSync("mkfifo", [join(base, "crm.db-wal")]);
    await expect(extract({ database_path: "crm.db" })).rejects.toThrow(
      new ComponentError(
        `sqlite: cannot read write-ahead log of 'crm.db' (${join(base, "crm.db")}): it is not a regular file`,
      ),
    );
  });

  it("names the table whose pages are damaged", async () => {
    const bytes = await databaseBytes(`PRAGMA page_size = 512; ${CRM}`);
    const wasmPath = createRequire(import.meta.url).resolve("sql.js/dist/sql-wasm.wasm");
    const { Database } = await initSqlJs({ locateFile: () => wasmPath });
    const database = new Database(bytes);
    const [root] = database.exec("SELECT rootpage FROM sqlite_master WHERE name = 'audit'");
    database.close();
    const page = Number(root!.values[0]![0]);
    // The table's b-tree page overwritten: not a page type SQLite knows.
    Buffer.from(bytes.buffer, bytes.byteOffset).fill(0xff, (page - 1) * 512, page * 512);
    writeFileSync(join(base, "crm.db"), bytes);
    await expect(extract({ database_path: "crm.db" })).rejects.toThrow(
      new ComponentError(
        `sqlite: cannot read 'crm.db' (${join(base, "crm.db")}): table 'audit': database disk image is malformed`,
      ),
    );
  });

  it("validates properties", () => {
    expect(sqliteConnector.validateProperties({ database_path: "a.db" })).toEqual([]);
    expect(sqliteConnector.validateProperties({ database: "a.db", max_rows_per_table: 0 })).toEqual(
      [
        expect.objectContaining({
          path: "database",
          message: expect.stringMatching(/did you mean 'database_path'/),
        }),
        { path: "database_path", message: "is required" },
        { path: "max_rows_per_table", message: "must be greater than 0, got 0" },
      ],
    );
  });
});
