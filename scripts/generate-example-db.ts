/**
 * Writes the example SQLite database used by `examples/personal-data-scan.yaml`:
 * `npx tsx scripts/generate-example-db.ts [OUTPUT]` (default `examples/data/customers.db`).
 *
 * Every person is fictional; contact details use reserved ranges (example.com/.org/.net mail
 * domains, Ofcom drama numbers +44 20 7946 0xxx, documentation IPs 192.0.2.0/24, 198.51.100.0/24,
 * 203.0.113.0/24) and payment data uses published test values. The output is byte-for-byte
 * reproducible, so the committed file can be checked against this script.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import initSqlJs from "sql.js";

const DEFAULT_OUTPUT = fileURLToPath(new URL("../examples/data/customers.db", import.meta.url));

const SCHEMA = `
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  phone TEXT,
  date_of_birth TEXT,
  street_address TEXT,
  city TEXT,
  postcode TEXT,
  country TEXT NOT NULL,
  national_insurance_number TEXT,
  marketing_opt_in INTEGER NOT NULL DEFAULT 0,
  avatar BLOB,
  created_at TEXT NOT NULL
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  ordered_at TEXT NOT NULL,
  total_gbp REAL NOT NULL,
  card_number TEXT,
  billing_iban TEXT,
  shipping_address TEXT,
  client_ip TEXT,
  status TEXT NOT NULL
);
CREATE TABLE support_notes (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  written_at TEXT NOT NULL,
  agent TEXT NOT NULL,
  note TEXT NOT NULL
);
`;

type Row = (string | number | Uint8Array | null)[];

// A 1x1 transparent PNG: a BLOB the connector must skip.
const TINY_PNG = Uint8Array.from(
  Buffer.from(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
      "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082",
    "hex",
  ),
);

const CUSTOMERS: Row[] = [
  [
    1,
    "Amelia",
    "Hartley",
    "amelia.hartley@example.com",
    "+44 20 7946 0011",
    "1984-03-12",
    "14 Larch Close",
    "London",
    "SW1A 1AA",
    "GB",
    "QQ 12 34 56 C",
    1,
    TINY_PNG,
    "2023-01-09T10:15:00Z",
  ],
  [
    2,
    "Rohan",
    "Mehta",
    "rohan.mehta@example.org",
    "+44 20 7946 0022",
    "1991-07-30",
    "Flat 3, 88 Quarry Road",
    "Manchester",
    "M1 1AE",
    "GB",
    "QQ 65 43 21 A",
    0,
    null,
    "2023-02-17T08:40:00Z",
  ],
  [
    3,
    "Siobhan",
    "O'Callaghan",
    "siobhan.ocallaghan@example.net",
    "+44 20 7946 0033",
    "1978-11-02",
    "2 Harbour View",
    "Cardiff",
    "CF10 1AA",
    "GB",
    null,
    1,
    null,
    "2023-03-05T16:02:00Z",
  ],
  [
    4,
    "Daniel",
    "Kowalski",
    "d.kowalski@example.com",
    "",
    "1969-05-21",
    "7 Mill Lane",
    "Leeds",
    "LS1 1UR",
    "GB",
    "QQ 11 22 33 B",
    0,
    null,
    "2023-04-22T12:30:00Z",
  ],
  [
    5,
    "Grace",
    "Adeyemi",
    "grace.adeyemi@example.org",
    "+44 20 7946 0055",
    "2001-01-15",
    "41 Elm Street",
    "Bristol",
    "BS1 4DJ",
    "GB",
    "QQ 98 76 54 D",
    1,
    null,
    "2023-06-01T09:00:00Z",
  ],
  [
    6,
    "Lucas",
    "Fernández",
    "lucas.fernandez@example.com",
    "+44 20 7946 0066",
    "1988-09-09",
    null,
    "Edinburgh",
    "EH1 1YZ",
    "GB",
    null,
    0,
    null,
    "2023-07-19T14:45:00Z",
  ],
  [
    7,
    "Hannah",
    "Schmidt",
    "hannah.schmidt@example.net",
    "+44 20 7946 0077",
    "1995-12-24",
    "19 Beech Avenue",
    "Glasgow",
    "G1 1XQ",
    "GB",
    "QQ 24 68 10 C",
    1,
    null,
    "2023-09-03T11:11:00Z",
  ],
  [
    8,
    "Tomasz",
    "Nowak",
    "tomasz.nowak@example.org",
    "+44 20 7946 0088",
    "1973-04-04",
    "5 Station Road",
    "Belfast",
    "BT1 5GS",
    "GB",
    null,
    0,
    null,
    "2023-10-28T17:20:00Z",
  ],
  [
    9,
    "Priya",
    "Raman",
    "priya.raman@example.com",
    "+44 20 7946 0099",
    "1999-06-18",
    "63 Kings Parade",
    "Cambridge",
    "CB2 1SJ",
    "GB",
    "QQ 13 57 91 A",
    1,
    null,
    "2024-01-14T10:05:00Z",
  ],
  [
    10,
    "Oliver",
    "Bennett",
    "oliver.bennett@example.net",
    "+44 20 7946 0101",
    "1982-08-27",
    "27 Chapel Street",
    "Oxford",
    "OX1 1DP",
    "GB",
    "QQ 31 41 59 B",
    0,
    null,
    "2024-02-29T13:37:00Z",
  ],
  [
    11,
    "Chloe",
    "Martin",
    "chloe.martin@example.com",
    "+44 20 7946 0111",
    "1990-10-10",
    "8 Rue Fictive",
    "Paris",
    "75001",
    "FR",
    null,
    1,
    null,
    "2024-04-07T08:08:00Z",
  ],
  [
    12,
    "Samuel",
    "Okafor",
    "samuel.okafor@example.org",
    "+44 20 7946 0121",
    "1986-02-14",
    "90 Victoria Road",
    "Brighton",
    "BN1 1AA",
    "GB",
    "QQ 27 18 28 D",
    0,
    null,
    "2024-05-30T19:45:00Z",
  ],
];

const ORDERS: Row[] = [
  [
    1001,
    1,
    "2024-06-02T09:12:00Z",
    84.5,
    "4111 1111 1111 1111",
    "GB82 WEST 1234 5698 7654 32",
    "14 Larch Close, London SW1A 1AA",
    "192.0.2.14",
    "delivered",
  ],
  [
    1002,
    2,
    "2024-06-03T18:40:00Z",
    19.99,
    "4111 1111 1111 1111",
    null,
    "Flat 3, 88 Quarry Road, Manchester M1 1AE",
    "198.51.100.23",
    "delivered",
  ],
  [
    1003,
    5,
    "2024-06-05T07:55:00Z",
    249.0,
    "5555 5555 5555 4444",
    "GB82 WEST 1234 5698 7654 32",
    "41 Elm Street, Bristol BS1 4DJ",
    "203.0.113.77",
    "refunded",
  ],
  [
    1004,
    3,
    "2024-06-09T12:01:00Z",
    12.49,
    null,
    null,
    "2 Harbour View, Cardiff CF10 1AA",
    "192.0.2.201",
    "cancelled",
  ],
  [
    1005,
    9,
    "2024-06-11T21:30:00Z",
    61.2,
    "4111 1111 1111 1111",
    null,
    "63 Kings Parade, Cambridge CB2 1SJ",
    "2001:db8::17",
    "shipped",
  ],
  [
    1006,
    7,
    "2024-06-14T15:15:00Z",
    5.0,
    "4000 0566 5566 5556",
    null,
    "19 Beech Avenue, Glasgow G1 1XQ",
    "198.51.100.8",
    "delivered",
  ],
  [
    1007,
    12,
    "2024-06-20T10:45:00Z",
    132.75,
    "4111 1111 1111 1111",
    "GB33 BUKB 2020 1555 5555 55",
    "90 Victoria Road, Brighton BN1 1AA",
    "203.0.113.5",
    "processing",
  ],
];

const SUPPORT_NOTES: Row[] = [
  [
    1,
    1,
    "2024-06-04T11:00:00Z",
    "agent.jo",
    "Customer asked to update her email to amelia.h@example.com; verified identity with date of birth 12/03/1984.",
  ],
  [
    2,
    3,
    "2024-06-09T12:20:00Z",
    "agent.sam",
    "Cancelled order 1004. Customer mentioned she is recovering from surgery and asked for no calls before noon.",
  ],
  [
    3,
    5,
    "2024-06-06T08:30:00Z",
    "agent.jo",
    "Refund issued to IBAN GB82 WEST 1234 5698 7654 32 after duplicate charge.",
  ],
  [
    4,
    9,
    "2024-06-12T09:05:00Z",
    "agent.lee",
    "Courier could not find 63 Kings Parade; customer gave mobile +44 20 7946 0099 for delivery updates.",
  ],
  [
    5,
    12,
    "2024-06-21T16:40:00Z",
    "agent.sam",
    "Customer requested a copy of all personal data we hold (subject access request), reference SAR-2024-0042.",
  ],
  [6, 7, "2024-06-15T10:10:00Z", "agent.lee", "   "],
];

/** The database file's bytes. */
async function buildExampleDatabase(): Promise<Uint8Array> {
  const wasmPath = createRequire(import.meta.url).resolve("sql.js/dist/sql-wasm.wasm");
  const { Database } = await initSqlJs({ locateFile: () => wasmPath });
  const database = new Database();
  try {
    database.run(SCHEMA);
    insertAll(database, "customers", CUSTOMERS);
    insertAll(database, "orders", ORDERS);
    insertAll(database, "support_notes", SUPPORT_NOTES);
    return database.export();
  } finally {
    database.close();
  }
}

function insertAll(
  database: InstanceType<Awaited<ReturnType<typeof initSqlJs>>["Database"]>,
  table: string,
  rows: Row[],
): void {
  const placeholders = rows[0]!.map(() => "?").join(", ");
  const statement = database.prepare(`INSERT INTO ${table} VALUES (${placeholders})`);
  try {
    for (const row of rows) statement.run(row);
  } finally {
    statement.free();
  }
}

const output = resolve(process.argv[2] ?? DEFAULT_OUTPUT);
mkdirSync(dirname(output), { recursive: true });
writeFileSync(output, await buildExampleDatabase());
console.log(`wrote ${output}`);
