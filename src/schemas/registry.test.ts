import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { itUpstream, upstreamValidator } from "../../test/helpers/upstream.js";
import { CorruptDataError, NotFoundError } from "../errors.js";
import {
  createContentAjv,
  hasSchema,
  listSchemas,
  loadSchema,
  SchemaRegistry,
  validateContent,
} from "./registry.js";

const standardInput = {
  schemaVersion: "1.0.0",
  name: "standard_input_from_crm_export",
  description: "Files from crm_export",
  source: "crm_export",
  metadata: { file_count: 2, source_type: "filesystem" },
  data: [
    {
      content: "name,email\nAda Example,ada@example.com\n",
      metadata: {
        source: "customers.csv",
        connector_type: "filesystem_connector",
        file_path: "customers.csv",
      },
    },
    {
      content: "email: bob@example.org",
      metadata: {
        source: "sqlite_database_(crm.db)_table_(users)_column_(email)_row_(1)",
        connector_type: "sqlite_connector",
        table_name: "users",
        column_name: "email",
        row_number: 1,
      },
    },
  ],
};

const analysisMetadata = {
  ruleset_used: "local/personal_data_indicator/1.0.0",
  llm_validation_enabled: false,
  analysis_timestamp: "2026-11-25T10:00:00.000Z",
  evidence_context_size: "small",
  analyser_version: "0.1.0",
};

const finding = {
  id: "8d7f2c2e-0b4f-4d8e-9a61-3f0c1f3b2a10",
  evidence: [{ content: "...Ada Example,ada@example.com...", collection_timestamp: "2026-11-25" }],
  matched_patterns: [{ pattern: "email", match_count: 2 }],
  metadata: { source: "customers.csv", context: { connector_type: "filesystem_connector" } },
};

const personalDataIndicator = {
  findings: [
    { ...finding, category: "email" },
    {
      ...finding,
      id: "c0a8012e-1111-4222-8333-444455556666",
      category: "health",
      require_review: true,
    },
  ],
  summary: { total_findings: 2 },
  analysis_metadata: analysisMetadata,
};

const gdprPersonalData = {
  findings: [
    {
      ...finding,
      indicator_type: "email",
      privacy_category: "identification_data",
      special_category: false,
      article_references: ["Article 4(1)"],
    },
    {
      ...finding,
      indicator_type: "health",
      privacy_category: "health_data",
      special_category: true,
      article_references: ["Article 9(1)"],
      require_review: true,
    },
  ],
  summary: { total_findings: 2, special_category_count: 1, requires_review_count: 1 },
  analysis_metadata: {
    ...analysisMetadata,
    ruleset_used: "local/gdpr_personal_data_classification/1.0.0",
  },
};

const samples = {
  standard_input: standardInput,
  personal_data_indicator: personalDataIndicator,
  gdpr_personal_data: gdprPersonalData,
} as const;

const v1 = (name: string) => ({ name, version: "1.0.0" });

/** A sample document loosened so that tests can break it. */
type EditableFindings = {
  findings: Record<string, unknown>[];
  summary: Record<string, unknown>;
};
const editable = (doc: object) => structuredClone(doc) as EditableFindings;

describe("bundled schemas", () => {
  it("are valid JSON Schemas, checked against the meta-schema (the registry skips that check)", () => {
    const refs = listSchemas();
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) {
      const ajv = createContentAjv({ checkSchemas: true });
      expect(ajv.validateSchema(loadSchema(ref)), JSON.stringify(ajv.errors)).toBe(true);
      expect(() => ajv.compile(loadSchema(ref))).not.toThrow();
    }
  });

  it("lists the shipped schemas in order", () => {
    expect(listSchemas()).toEqual([
      v1("gdpr_personal_data"),
      v1("personal_data_indicator"),
      v1("standard_input"),
    ]);
    expect(hasSchema(v1("standard_input"))).toBe(true);
    expect(hasSchema({ name: "standard_input", version: "9.9.9" })).toBe(false);
  });

  it("never touches the disk for malformed names", () => {
    expect(hasSchema({ name: "../standard_input", version: "1.0.0" })).toBe(false);
    expect(hasSchema({ name: "standard_input", version: "../../x" })).toBe(false);
  });

  it("loads documents declaring draft-07 and their version", () => {
    const schema = loadSchema(v1("gdpr_personal_data"));
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(schema.version).toBe("1.0.0");
    expect(() => loadSchema(v1("no_such_schema"))).toThrow(NotFoundError);
  });

  for (const [name, doc] of Object.entries(samples)) {
    itUpstream(`accepts a realistic ${name} document, as does the upstream schema`, () => {
      expect(validateContent(v1(name), doc)).toEqual([]);
      const upstream = upstreamValidator(name);
      expect(upstream(doc), JSON.stringify(upstream.errors)).toBe(true);
    });
  }

  itUpstream("rejects what the upstream schemas reject, with useful paths", () => {
    const bad = editable(personalDataIndicator);
    delete bad.findings[0]!.category;
    bad.findings[1]!.matched_patterns = [];
    (bad.findings[1]!.metadata as Record<string, unknown>).line = 3;
    bad.summary.total_findings = -1;
    expect(upstreamValidator("personal_data_indicator")(bad)).toBe(false);
    const issues = validateContent(v1("personal_data_indicator"), bad);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: "findings/0/category", message: "is required but missing" },
        { path: "findings/1/matched_patterns", message: "must NOT have fewer than 1 items" },
        { path: "findings/1/metadata/line", message: "is not an allowed property here" },
        { path: "summary/total_findings", message: "must be >= 0" },
      ]),
    );
  });

  itUpstream("rejects gdpr findings without the classification fields", () => {
    const bad = editable(gdprPersonalData);
    delete bad.findings[0]!.privacy_category;
    bad.findings[1]!.special_category = "yes";
    delete bad.summary.requires_review_count;
    expect(upstreamValidator("gdpr_personal_data")(bad)).toBe(false);
    expect(validateContent(v1("gdpr_personal_data"), bad)).toEqual(
      expect.arrayContaining([
        { path: "findings/0/privacy_category", message: "is required but missing" },
        { path: "findings/1/special_category", message: "must be boolean" },
        { path: "summary/requires_review_count", message: "is required but missing" },
      ]),
    );
  });

  itUpstream("rejects standard_input items without content or source", () => {
    const bad = {
      schemaVersion: "1.0.0",
      name: "x",
      data: [{ metadata: {} }, { content: 5, metadata: { source: "a" } }],
    };
    expect(upstreamValidator("standard_input")(bad)).toBe(false);
    expect(validateContent(v1("standard_input"), bad)).toEqual([
      { path: "data/0/content", message: "is required but missing" },
      { path: "data/0/metadata/source", message: "is required but missing" },
      { path: "data/1/content", message: "must be string" },
    ]);
  });

  it("reports an unknown schema as an issue", () => {
    const issues = validateContent({ name: "nope", version: "1.0.0" }, {});
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(
      /Unknown schema 'nope\/1\.0\.0' \(known: gdpr_personal_data/,
    );
  });

  it("caps the issue list on a document with many mistakes", () => {
    const data = Array.from({ length: 500 }, () => ({ content: 1, metadata: { source: "s" } }));
    const issues = validateContent(v1("standard_input"), {
      schemaVersion: "1.0.0",
      name: "n",
      data,
    });
    expect(issues).toHaveLength(51);
    expect(issues.at(-1)?.message).toBe("... and 450 more problems");
  });

  it("validates a 100k-item document quickly", () => {
    const chunk = "x".repeat(1000);
    const data = Array.from({ length: 100_000 }, (_, i) => ({
      content: chunk,
      metadata: {
        source: `f${i}.txt`,
        connector_type: "filesystem_connector",
        file_path: `f${i}.txt`,
      },
    }));
    const doc = { schemaVersion: "1.0.0", name: "big", data };
    validateContent(v1("standard_input"), doc);
    const started = performance.now();
    expect(validateContent(v1("standard_input"), doc)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("SchemaRegistry on another folder", () => {
  const dir = mkdtempSync(join(tmpdir(), "wct-schemas-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, version: string, text: string) {
    mkdirSync(join(dir, name, version), { recursive: true });
    writeFileSync(join(dir, name, version, `${name}.json`), text);
  }

  it("sorts versions numerically and rejects a file declaring another version", () => {
    write("thing", "1.10.0", JSON.stringify({ type: "object", version: "1.10.0" }));
    write("thing", "1.2.0", JSON.stringify({ type: "object", version: "9.0.0" }));
    write("broken", "1.0.0", "{ not json");
    const registry = new SchemaRegistry(dir);
    expect(registry.listSchemas()).toEqual([
      { name: "broken", version: "1.0.0" },
      { name: "thing", version: "1.2.0" },
      { name: "thing", version: "1.10.0" },
    ]);
    expect(() => registry.loadSchema({ name: "thing", version: "1.2.0" })).toThrow(
      /declares version '9\.0\.0'/,
    );
    expect(() => registry.loadSchema({ name: "broken", version: "1.0.0" })).toThrow(
      CorruptDataError,
    );
    expect(registry.validateContent({ name: "thing", version: "1.10.0" }, [])).toEqual([
      { path: "", message: "must be object" },
    ]);
  });
});
