/**
 * The example runbook's sources, read by the real connectors exactly as the runbook declares
 * them, and the committed example database checked against the script that generates it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { ComponentContext, Connector } from "../../src/components/types.js";
import { filesystemConnector } from "../../src/connectors/filesystem.js";
import { sqliteConnector } from "../../src/connectors/sqlite.js";
import { createWorkerPool } from "../../src/execute/worker-pool.js";
import { validateContent } from "../../src/schemas/registry.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const EXAMPLES = join(REPO, "examples");
const STANDARD_INPUT = { name: "standard_input", version: "1.0.0" };

const temp = mkdtempSync(join(tmpdir(), "wct-example-"));
// The filesystem connector reads its files on worker threads.
const workers = createWorkerPool(1);
afterAll(async () => {
  rmSync(temp, { recursive: true, force: true });
  await workers.close();
});

function contextFor(baseDir: string, warnings: string[] = []): ComponentContext {
  return {
    signal: new AbortController().signal,
    workers,
    baseDir,
    writtenProperties: {},
    warn: (message) => warnings.push(message),
  };
}

type Item = { content: string; metadata: Record<string, unknown> };
type Content = {
  metadata: Record<string, unknown> & { database_schema: { tables: { name: string }[] } };
  data: Item[];
};

async function runSource(
  connector: Connector,
  properties: Record<string, unknown>,
  baseDir: string,
  warnings?: string[],
) {
  expect(connector.validateProperties(properties)).toEqual([]);
  const output = await connector.extract(properties, STANDARD_INPUT, contextFor(baseDir, warnings));
  expect(validateContent(STANDARD_INPUT, output.content)).toEqual([]);
  return output.content as unknown as Content;
}

const runbook = parse(readFileSync(join(EXAMPLES, "personal-data-scan.yaml"), "utf8")) as {
  artifacts: Record<string, { source?: { type: string; properties: Record<string, unknown> } }>;
};

describe("example runbook sources", () => {
  it("reads the example files: every text file, the PNG skipped as binary", async () => {
    const source = runbook.artifacts.files?.source;
    expect(source?.type).toBe("filesystem");
    const warnings: string[] = [];
    const content = await runSource(filesystemConnector, source!.properties, EXAMPLES, warnings);
    expect(content.data.map((d) => d.metadata.source)).toEqual([
      "config/app.yaml",
      "docs/release-notes.md",
      "exports/customers_2024-06.csv",
      "hr/2024-06-performance-note.txt",
      "logs/access.log",
      "src/user_service.py",
      "support/tickets.json",
      "web/contact.html",
    ]);
    expect(content.metadata).toMatchObject({
      skipped_binary: 1,
      unreadable: 0,
      max_files_reached: false,
    });
    expect(warnings).toEqual(["filesystem: skipped files in 'data/files': 1 binary"]);
    const all = content.data.map((d) => d.content).join("\n");
    expect(all).toContain("QQ 12 34 56 C");
    expect(all).toContain("987-65-4321");
    // Every mail address and URL host is under a reserved example domain.
    const domains = all.match(/@[a-z0-9.-]+\.[a-z]{2,}/gi) ?? [];
    expect(domains.length).toBeGreaterThan(10);
    expect(domains.filter((d) => !/[@.]example\.(com|org|net)$/i.test(d))).toEqual([]);
  });

  it("reads the example database as declared", async () => {
    const source = runbook.artifacts.customer_db?.source;
    expect(source?.type).toBe("sqlite");
    const content = await runSource(sqliteConnector, source!.properties, EXAMPLES);
    expect(content.metadata.extraction_summary).toMatchObject({ tables: 3, rows: 10 + 7 + 6 });
    expect(content.data.map((d) => d.content)).toContain("email: amelia.hartley@example.com");
    expect(content.data.some((d) => d.metadata.column_name === "avatar")).toBe(false);
  });
});

describe("scripts/generate-example-db.ts", () => {
  it("regenerates the committed database byte for byte, and the connector reads it", async () => {
    const output = join(temp, "customers.db");
    execFileSync(
      process.execPath,
      ["--import", "tsx", join(REPO, "scripts/generate-example-db.ts"), output],
      {
        cwd: REPO,
        stdio: "pipe",
      },
    );
    expect(readFileSync(output).equals(readFileSync(join(EXAMPLES, "data/customers.db")))).toBe(
      true,
    );

    const content = await runSource(
      sqliteConnector,
      { database_path: "customers.db", max_rows_per_table: 100 },
      temp,
    );
    const tables = content.metadata.database_schema.tables.map((t) => t.name);
    expect(tables).toEqual(["customers", "orders", "support_notes"]);
    expect(content.metadata.extraction_summary).toMatchObject({ tables: 3, rows: 12 + 7 + 6 });
    const notes = content.data.filter(
      (d) => d.metadata.table_name === "support_notes" && d.metadata.column_name === "note",
    );
    expect(notes).toHaveLength(5);
  });
});
