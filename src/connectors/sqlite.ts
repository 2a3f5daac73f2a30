/**
 * @module The `sqlite` connector: samples every table of a SQLite database file into a
 * `standard_input/1.0.0` document, one data item per non-empty cell.
 *
 * Uses sql.js (SQLite compiled to WebAssembly) so that no native addon has to be built; the file
 * is loaded into memory, which suits the databases this connector is meant for (it samples
 * `max_rows_per_table` rows per table).
 */
import { readFile } from "node:fs/promises";
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
    const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
      throw new ComponentError(
        error.code === "ENOENT"
          ? `sqlite: database file '${databasePath}' does not exist (looked for ${file})`
          : `sqlite: cannot read database file '${databasePath}' (${file}): ${error.code ?? error.message}`,
        { cause: error },
      );
    });
    if (!bytes.subarray(0, SQLITE_HEADER.length).equals(SQLITE_HEADER)) {
      throw new ComponentError(
        `sqlite: '${databasePath}' (${file}) is not a SQLite database (it lacks the SQLite file header)`,
      );
    }

    const { Database } = await loadSqlJs();
    const database = new Database(bytes);
    try {
      // Echo the path as written: a substituted `${VAR}` value must not reach the stored artifact.
      const written =
        typeof context.writtenProperties.database_path === "string"
          ? context.writtenProperties.database_path
          : databasePath;
      return await sample(database, basename(written), written, maxRows, context.signal);
    } catch (error) {
      if (error instanceof ComponentError || context.signal.aborted) throw error;
      throw new ComponentError(
        `sqlite: cannot read '${databasePath}' (${file}): ${(error as Error).message}`,
        { cause: error },
      );
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
  signal: AbortSignal,
): Promise<ComponentOutput> {
  const tables: TableInfo[] = [];
  const data: Record<string, unknown>[] = [];
  let rows = 0;
  for (const table of listTables(database)) {
    signal.throwIfAborted();
    const columns = listColumns(database, table);
    const statement = database.prepare(`SELECT * FROM ${quoteIdentifier(table)} LIMIT ?`, [
      maxRows,
    ]);
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
          if (text === undefined) return;
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
    } finally {
      statement.free();
    }
    rows += rowNumber;
    tables.push({ name: table, columns, sampled_rows: rowNumber });
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
        extraction_summary: { tables: tables.length, rows, items: data.length },
      },
      data,
    },
  };
}

function listTables(database: Database): string[] {
  // substr, not LIKE 'sqlite_%': in LIKE the underscore is a wildcard.
  const [result] = database.exec(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_' ORDER BY rowid",
  );
  return (result?.values ?? []).map(([name]) => String(name));
}

function listColumns(database: Database, table: string): ColumnInfo[] {
  const [result] = database.exec(`PRAGMA table_info(${quoteIdentifier(table)})`);
  // PRAGMA table_info rows: cid, name, type, notnull, dflt_value, pk.
  return (result?.values ?? []).map((row) => ({
    name: String(row[1]),
    type: String(row[2] ?? ""),
    nullable: row[3] === 0,
    primary_key: Number(row[5]) > 0,
  }));
}

/** The text of a cell worth scanning, or undefined for NULL, blank strings and BLOBs. */
function cellText(value: SqlValue): string | undefined {
  if (value === null || value instanceof Uint8Array) return undefined;
  const text = String(value);
  return text.trim() === "" ? undefined : text;
}

/** SQLite identifier quoting: wrap in double quotes, double any inside. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
