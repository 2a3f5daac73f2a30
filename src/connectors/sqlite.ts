/**
 * @module The `sqlite` connector: samples every table of a SQLite database file into a
 * `standard_input/1.0.0` document, one data item per non-empty cell.
 *
 * Uses sql.js (SQLite compiled to WebAssembly) so that no native addon has to be built; the file
 * is loaded into memory, which suits the databases this connector is meant for (it samples
 * `max_rows_per_table` rows per table).
 */
import { access, realpath, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, resolve } from "node:path";
import { checkExtractCall, checkProperties } from "../components/properties.js";
import type {
  ComponentContext,
  ComponentOutput,
  Connector,
  PropertyDoc,
} from "../components/types.js";
import { ComponentError, type Issue } from "../errors.js";
import type { SchemaRef } from "../message.js";
import { readRegularFile } from "../regular-file.js";
import { applyRollback, readRollbackJournal } from "./sqlite-journal.js";
import { applyWalCommits, readWalCommits } from "./sqlite-wal.js";

const STANDARD_INPUT: SchemaRef = { name: "standard_input", version: "1.0.0" };
const DEFAULT_MAX_ROWS_PER_TABLE = 10;
/** Every SQLite 3 database file starts with these 16 bytes. */
const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

const PROPERTIES: PropertyDoc[] = [
  {
    name: "database_path",
    type: "string",
    required: true,
    description: "SQLite database file; relative paths are relative to the runbook's folder.",
  },
  {
    name: "max_rows_per_table",
    type: "integer",
    required: false,
    default: DEFAULT_MAX_ROWS_PER_TABLE,
    description: "Rows sampled from each table.",
  },
];

type InitSqlJs = typeof import("sql.js").default;
type SqlJs = Awaited<ReturnType<InitSqlJs>>;
type Database = InstanceType<SqlJs["Database"]>;
type SqlValue = number | bigint | string | Uint8Array | null;

interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
  primary_key: boolean;
}

interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  sampled_rows: number;
}

let sqlJs: Promise<SqlJs> | undefined;

/** sql.js compiles its WebAssembly once per process; later calls reuse it. */
function loadSqlJs(): Promise<SqlJs> {
  if (!sqlJs) {
    // Loaded on first use: its JavaScript takes milliseconds to load, and most commands never
    // open a database.
    const require = createRequire(import.meta.url);
    const initSqlJs = require("sql.js") as InitSqlJs;
    const wasmPath = require.resolve("sql.js/dist/sql-wasm.wasm");
    sqlJs = initSqlJs({ locateFile: () => wasmPath });
    // A failed load (e.g. a broken install) is retried on the next call, not cached forever.
    sqlJs.catch(() => {
      sqlJs = undefined;
    });
  }
  return sqlJs;
}

/** Samples a SQLite database into `standard_input/1.0.0`. */
export const sqliteConnector: Connector = {
  kind: "connector",
  type: "sqlite",
  description: "Samples the rows of every table of a SQLite database file into standard_input",
  properties: PROPERTIES,
  outputSchemas: [STANDARD_INPUT],

  validateProperties(properties: Record<string, unknown>): Issue[] {
    const issues = checkProperties(properties, PROPERTIES);
    const { database_path, max_rows_per_table } = properties;
    if (database_path === "") issues.push({ path: "database_path", message: "must not be empty" });
    if (Number.isInteger(max_rows_per_table) && (max_rows_per_table as number) <= 0) {
      issues.push({
        path: "max_rows_per_table",
        message: `must be greater than 0, got ${max_rows_per_table}`,
      });
    }
    return issues;
  },

  async extract(
    properties: Record<string, unknown>,
    outputSchema: SchemaRef,
    context: ComponentContext,
  ): Promise<ComponentOutput> {
    checkExtractCall(sqliteConnector, properties, outputSchema);
    const databasePath = properties.database_path as string;
    const maxRows =
      (properties.max_rows_per_table as number | undefined) ?? DEFAULT_MAX_ROWS_PER_TABLE;

    const file = resolve(context.baseDir, databasePath);
    const shown = file === databasePath ? `'${file}'` : `'${databasePath}' (${file})`;
    const cannotRead = (error: NodeJS.ErrnoException, what = "database file") => {
      throw new ComponentError(
        error.code === "ENOENT"
          ? `sqlite: database file ${shown} does not exist`
          : `sqlite: cannot read ${what} ${shown}: ${readError(error)}`,
        { cause: error },
      );
    };
    // The journals lie beside the file a symlink leads to, where SQLite itself keeps them.
    const real = await realpath(file).catch(() => file);
    // The journal or log beside the file, null if there is none. A FIFO or a device there fails
    // the read, as the database file itself would: waiting for a writer would hang the run.
    const readBeside = (suffix: string, what: string) =>
      readRegularFile(`${real}${suffix}`).then(
        (beside) => {
          if (beside) return beside;
          throw new ComponentError(
            `sqlite: cannot read ${what} ${shown}: it is not a regular file`,
          );
        },
        (error: NodeJS.ErrnoException) =>
          error.code === "ENOENT" ? null : cannotRead(error, what),
      );
    /** The database as SQLite would read it now: the file, rolled back or forward by its journals. */
    const snapshot = async (): Promise<Uint8Array> => {
      const read = await readRegularFile(file).catch(cannotRead);
      if (read === null) throw new ComponentError(`sqlite: ${shown} is not a regular file`);
      let bytes: Uint8Array = read;
      // An empty file is an empty database, as SQLite itself opens it.
      if (
        bytes.length > 0 &&
        (bytes.length < SQLITE_HEADER.length ||
          !SQLITE_HEADER.equals(bytes.subarray(0, SQLITE_HEADER.length)))
      ) {
        throw new ComponentError(
          `sqlite: ${shown} is not a SQLite database (it lacks the SQLite file header; an encrypted database looks like this too)`,
        );
      }
      // A hot rollback journal: a writer is in a transaction (or was killed in one) and may have
      // written some of its pages already. Read as SQLite would: rolled back to the last commit.
      const journal =
        bytes.length === 0 ? null : await readBeside("-journal", "rollback journal of");
      const rollback = journal && readRollbackJournal(journal);
      if (rollback && !(await superJournalGone(rollback.superJournal))) {
        bytes = applyRollback(bytes, rollback);
      }
      // Transactions committed to its write-ahead log and not yet checkpointed are part of it.
      const wal = await readBeside("-wal", "write-ahead log of");
      // Beside an empty file a log is stale: SQLite deletes it rather than read it.
      const commits = wal && bytes.length > 0 && readWalCommits(wal);
      if (commits) bytes = applyWalCommits(bytes, commits);
      return bytes;
    };
    // No lock is taken (it would need a native SQLite): a process writing meanwhile changes the
    // files between their reads, and the pages read would mix two states of the database. Read
    // again until the files stayed the same from the first read to the last.
    const bytes = await readUnchanged(
      snapshot,
      () => filesState(real),
      (attempts) => {
        throw new ComponentError(
          `sqlite: ${shown} changed while it was read, ${attempts} times: another process keeps writing to it; read it when it is quieter, or a copy made with SQLite's backup (sqlite3 DB ".backup copy.db")`,
        );
      },
    );

    const { Database } = await loadSqlJs();
    const database = new Database(bytes);
    try {
      // Echo the path as written: a substituted `${VAR}` value must not reach the stored artifact.
      const written =
        typeof context.writtenProperties.database_path === "string"
          ? context.writtenProperties.database_path
          : databasePath;
      return await sample(database, basename(written), written, maxRows, context);
    } catch (error) {
      if (error instanceof ComponentError || context.signal.aborted) throw error;
      throw new ComponentError(`sqlite: cannot read ${shown}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      database.close();
    }
  },
};

/** Rows read between two yields to the event loop, so heartbeats, timeouts and Ctrl-C stay live. */
const ROWS_PER_SLICE = 2000;

async function sample(
  database: Database,
  fileName: string,
  databasePath: string,
  maxRows: number,
  { signal, warn }: Pick<ComponentContext, "signal" | "warn">,
): Promise<ComponentOutput> {
  const tables: TableInfo[] = [];
  const data: Record<string, unknown>[] = [];
  let rows = 0;
  let binaryCells = 0;
  const skippedTables: { name: string; reason: string }[] = [];
  /** Virtual tables read: their shadow tables hold the same text and are not sampled again. */
  const readVirtual = new Set<string>();
  for (const { name: table, shadowOf, virtual } of listTables(database)) {
    signal.throwIfAborted();
    // A shadow table of a virtual table that could not be read is read itself: it holds the text.
    if (shadowOf !== undefined && readVirtual.has(shadowOf)) continue;
    let columns: ColumnInfo[];
    let statement: ReturnType<Database["prepare"]>;
    try {
      columns = listColumns(database, table);
      statement = database.prepare(`SELECT * FROM ${quoteIdentifier(table)} LIMIT ?`, [maxRows]);
    } catch (error) {
      // A virtual table of a module this SQLite lacks (fts5, rtree): the others are still read.
      const reason = (error as Error).message;
      skippedTables.push({ name: table, reason });
      warn(`sqlite: skipping table '${table}': ${reason}`);
      continue;
    }
    let rowNumber = 0;
    try {
      const columnNames = statement.getColumnNames();
      while (statement.step()) {
        rowNumber++;
        if (rowNumber % ROWS_PER_SLICE === 0) {
          await new Promise((resolve) => setImmediate(resolve));
          signal.throwIfAborted();
        }
        // useBigInt keeps integers beyond 2^53 exact; sql.js supports it though its types omit it.
        const values = (statement.get as (p: null, o: { useBigInt: boolean }) => SqlValue[])(null, {
          useBigInt: true,
        });
        values.forEach((value, index) => {
          const text = cellText(value);
          if (text === "binary") binaryCells++;
          if (text === undefined || text === "binary") return;
          const column = columnNames[index]!;
          data.push({
            content: `${column}: ${text}`,
            metadata: {
              source: `sqlite_database_(${fileName})_table_(${table})_column_(${column})_row_(${rowNumber})`,
              connector_type: "sqlite_connector",
              table_name: table,
              column_name: column,
              row_number: rowNumber,
            },
          });
        });
      }
    } catch (error) {
      if (signal.aborted) throw error;
      // A damaged page of one table's b-tree: the failure names the table.
      throw new Error(`table '${table}': ${(error as Error).message}`, { cause: error });
    } finally {
      statement.free();
    }
    rows += rowNumber;
    tables.push({ name: table, columns, sampled_rows: rowNumber });
    if (virtual) readVirtual.add(table);
  }
  // An empty file opens as an empty database: a wrong `database_path` would pass unseen.
  if (tables.length === 0 && skippedTables.length === 0) {
    warn(`sqlite: '${databasePath}' holds no tables (an empty database: is database_path right?)`);
  }

  return {
    schema: STANDARD_INPUT,
    content: {
      schemaVersion: "1.0.0",
      name: `standard_input_from_${fileName}`,
      description: `Up to ${maxRows} rows of each table of SQLite database '${databasePath}'`,
      source: databasePath,
      metadata: {
        source_type: "sqlite",
        database_file: fileName,
        max_rows_per_table: maxRows,
        database_schema: { tables },
        extraction_summary: {
          tables: tables.length,
          rows,
          items: data.length,
          binary_cells_skipped: binaryCells,
          skipped_tables: skippedTables,
        },
      },
      data,
    },
  };
}

/**
 * The tables each full-text or R*Tree module keeps a virtual table's data in, `<table>_<suffix>`:
 * read through the virtual table itself. Another module's, or a user's table of such a name, is
 * an ordinary table.
 */
const SHADOW_SUFFIXES: Record<string, string[]> = {
  fts3: ["content", "segments", "segdir", "docsize", "stat"],
  fts4: ["content", "segments", "segdir", "docsize", "stat"],
  fts5: ["data", "idx", "content", "docsize", "config"],
  rtree: ["node", "rowid", "parent"],
  rtree_i32: ["node", "rowid", "parent"],
  geopoly: ["node", "rowid", "parent"],
};
const VIRTUAL_TABLE_MODULE = /^\s*CREATE\s+VIRTUAL\s+TABLE\s.*?\bUSING\s+(\w+)/is;

interface TableEntry {
  name: string;
  virtual: boolean;
  /** The virtual table whose shadow table this is, if it is one. */
  shadowOf?: string;
}

/** The tables to sample, in creation order (a virtual table before its shadow tables). */
function listTables(database: Database): TableEntry[] {
  // substr, not LIKE 'sqlite_%': in LIKE the underscore is a wildcard.
  const [result] = database.exec(
    "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_' ORDER BY rowid",
  );
  const rows = (result?.values ?? []).map(([name, sql]) => {
    const module = /^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(String(sql ?? ""))
      ? (VIRTUAL_TABLE_MODULE.exec(String(sql))?.[1]?.toLowerCase() ?? "")
      : null;
    return { name: String(name), virtual: module !== null, module };
  });
  const owners = new Map(
    rows.flatMap((row) =>
      (SHADOW_SUFFIXES[row.module ?? ""] ?? []).map((suffix) => [
        `${row.name}_${suffix}`,
        row.name,
      ]),
    ),
  );
  return rows.map(({ name, virtual }) => {
    const owner = owners.get(name);
    return owner === undefined ? { name, virtual } : { name, virtual, shadowOf: owner };
  });
}

function listColumns(database: Database, table: string): ColumnInfo[] {
  // table_xinfo, not table_info: it lists generated columns too, which `SELECT *` reads.
  const [result] = database.exec(`PRAGMA table_xinfo(${quoteIdentifier(table)})`);
  // PRAGMA table_xinfo rows: cid, name, type, notnull, dflt_value, pk, hidden (1: a virtual
  // table's hidden column, which `SELECT *` leaves out; 2 and 3: generated columns).
  return (result?.values ?? [])
    .filter((row) => row[6] !== 1)
    .map((row) => ({
      name: String(row[1]),
      type: String(row[2] ?? ""),
      nullable: row[3] === 0,
      primary_key: Number(row[5]) > 0,
    }));
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
/** A control character other than tab and line breaks (NUL included): binary data, not text. */
const BINARY_CHARACTER = /(?![\t\n\r])\p{Cc}/u;

/**
 * The text of a cell worth scanning, or undefined for NULL and blank strings. A BLOB holding
 * UTF-8 text (JSON, CSV, a serialised profile) is scanned as text; any other BLOB is `binary`.
 */
function cellText(value: SqlValue): string | "binary" | undefined {
  if (value === null) return undefined;
  let text: string;
  if (value instanceof Uint8Array) {
    try {
      text = strictUtf8.decode(value);
    } catch {
      return "binary";
    }
    if (BINARY_CHARACTER.test(text)) return "binary";
  } else {
    // sql.js gives integers as bigints (useBigInt), so a number is a REAL.
    text = typeof value === "number" ? realText(value) : String(value);
  }
  return text.trim() === "" ? undefined : text;
}

/**
 * A REAL as upstream's Python writes it (`repr`): always with a `.0` or an exponent, so that
 * `1.0` is not taken for an integer, and `1.2345678901234568e+17` not written with digits it
 * does not hold (`123456789012345680`); `inf`, `-0.0`. Both languages give the shortest digits
 * that read back as the value; Python writes an exponent from 1e16 up and below 1e-4.
 */
function realText(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const [digits, power] = value.toExponential().split("e") as [string, string];
  const exponent = Number(power);
  if (exponent < -4 || exponent >= 16) {
    return `${digits}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  // From 1e-4 to 1e16 JavaScript writes no exponent either.
  const text = String(value);
  return text.includes(".") ? text : `${text}.0`;
}

/**
 * True when the journal names a super-journal that no longer exists: its multi-database
 * transaction committed, and SQLite does not roll the journal back.
 */
async function superJournalGone(superJournal: string | undefined): Promise<boolean> {
  if (superJournal === undefined) return false;
  return access(superJournal).then(
    () => false,
    (error: NodeJS.ErrnoException) => error.code === "ENOENT",
  );
}

/** How many times a database that changes while it is read is read again before giving up. */
const SNAPSHOT_ATTEMPTS = 20;

/**
 * `read()`'s result once `state()` is the same before and after it, reading again (a few ms
 * apart, ~1 s in all) while it is not; `giveUp(attempts)` after `SNAPSHOT_ATTEMPTS` tries.
 */
export async function readUnchanged<T>(
  read: () => Promise<T>,
  state: () => Promise<string>,
  giveUp: (attempts: number) => never,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const before = await state();
    const result = await read();
    if ((await state()) === before) return result;
    if (attempt === SNAPSHOT_ATTEMPTS) giveUp(attempt);
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, 5 * attempt)));
  }
}

/**
 * The database file's and its rollback journal's identity, size and change times, to tell a
 * write apart. The write-ahead log is left out: a writer only appends to it (what it appends
 * after the log was read is not read), and a log started anew follows a checkpoint, which
 * changes the database file.
 */
async function filesState(real: string): Promise<string> {
  const states = await Promise.all(
    ["", "-journal"].map((suffix) =>
      stat(`${real}${suffix}`, { bigint: true }).then(
        (s) => `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`,
        () => "-",
      ),
    ),
  );
  return states.join(" ");
}

/** Why a file could not be read, in words where Node gives only a code. */
function readError(error: NodeJS.ErrnoException): string {
  if (error.code === "ERR_FS_FILE_TOO_LARGE") {
    return "it is larger than 2 GiB, the most this connector reads into memory";
  }
  return error.code ?? error.message;
}

/** SQLite identifier quoting: wrap in double quotes, double any inside. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
