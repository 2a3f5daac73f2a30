/**
 * Upstream compatibility: an upstream-format runbook over upstream's sample data (read in place
 * from ../shared, never copied) runs unchanged, and every artifact validates against upstream's
 * own JSON Schemas.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runWct } from "../helpers/cli.js";
import { describeUpstream, UPSTREAM, upstreamValidator } from "../helpers/upstream.js";

// Written the way upstream's samples are: no config, llm validation off, exclude patterns.
const RUNBOOK = `name: Upstream sample - files and database
description: Personal data in upstream's mock filesystem and SQLite sample
contact: Compliance Team <compliance@example.com>
artifacts:
  file_content:
    name: Filesystem content
    source:
      type: filesystem
      properties:
        path: ${UPSTREAM}/filesystem_mock
        exclude_patterns: ["*.pyc", "__pycache__"]
        max_files: 50
  database_content:
    source:
      type: sqlite
      properties:
        database_path: ${UPSTREAM}/sqlite_compliance_test.db
        max_rows_per_table: 10
  file_personal_data:
    name: Personal data in files
    inputs: file_content
    process:
      type: personal_data
      properties:
        pattern_matching:
          ruleset: local/personal_data_indicator/1.0.0
          evidence_context_size: medium
          maximum_evidence_count: 3
        llm_validation:
          enable_llm_validation: false
    output: true
  database_personal_data:
    inputs: database_content
    process:
      type: personal_data
    output: true
  gdpr_classification:
    inputs: [file_personal_data, database_personal_data]
    process:
      type: gdpr_personal_data_classifier
    output: true
`;

/**
 * What upstream's export model (`CoreExport`, format_version 2.0.0) accepts, written out as a
 * JSON Schema: required fields, types, `ge=0` numbers, the status vocabulary. Its models ignore
 * extra fields, so none is refused here either.
 */
const nonNegative = { type: "number", minimum: 0 };
const count = { type: "integer", minimum: 0 };
const text = { type: "string" };
const textOrNull = { type: ["string", "null"] };
const UPSTREAM_EXPORT = {
  type: "object",
  required: ["format_version", "run", "runbook", "summary", "outputs", "errors", "skipped"],
  properties: {
    format_version: { const: "2.0.0" },
    run: {
      type: "object",
      required: ["id", "timestamp", "duration_seconds", "status"],
      properties: {
        id: text,
        // ISO 8601 with a time zone (upstream writes +00:00; Z is the same instant).
        timestamp: {
          type: "string",
          pattern: "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?(Z|[+-]\\d\\d:\\d\\d)$",
        },
        duration_seconds: nonNegative,
        status: { enum: ["completed", "partial", "failed", "interrupted"] },
      },
    },
    runbook: {
      type: "object",
      required: ["name", "description"],
      properties: { name: text, description: text, contact: textOrNull },
    },
    summary: {
      type: "object",
      required: ["total", "succeeded", "failed", "skipped"],
      properties: { total: count, succeeded: count, failed: count, skipped: count, pending: count },
    },
    outputs: {
      type: "array",
      items: {
        type: "object",
        required: ["artifact_id", "duration_seconds"],
        properties: {
          artifact_id: text,
          duration_seconds: nonNegative,
          name: textOrNull,
          description: textOrNull,
          contact: textOrNull,
          output_schema: {
            type: ["object", "null"],
            required: ["name", "version"],
            properties: { name: text, version: text },
          },
          content: { type: ["object", "null"] },
        },
      },
    },
    errors: {
      type: "array",
      items: {
        type: "object",
        required: ["artifact_id", "error"],
        properties: { artifact_id: text, error: text },
      },
    },
    skipped: { type: "array", items: text },
    pending: { type: "array", items: text },
  },
};
const validateExport = new Ajv({ allErrors: true, strict: false }).compile(UPSTREAM_EXPORT);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "wct-upstream-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describeUpstream("upstream compatibility", () => {
  it("runs an upstream-format runbook unchanged; every artifact validates against upstream's schemas", async () => {
    const file = join(dir, "upstream.yaml");
    await writeFile(file, RUNBOOK);
    const store = join(dir, "store");
    const result = await runWct(["run", file, "--json", "-o", join(dir, "export.json")], {
      cwd: dir,
      env: { WAIVERN_STORE_PATH: store },
    });
    expect(result.stderr).not.toContain("internal error");
    expect(result.code).toBe(0);
    const { run_id: runId } = JSON.parse(result.stdout);

    const expected: Record<string, string> = {
      file_content: "standard_input",
      database_content: "standard_input",
      file_personal_data: "personal_data_indicator",
      database_personal_data: "personal_data_indicator",
      gdpr_classification: "gdpr_personal_data",
    };
    for (const [id, schema] of Object.entries(expected)) {
      const message = JSON.parse(
        await readFile(join(store, "runs", runId, "artifacts", `${id}.json`), "utf8"),
      );
      expect(message.schema).toEqual({ name: schema, version: "1.0.0" });
      const validate = upstreamValidator(schema);
      expect(validate(message.content), `${id}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const findings = JSON.parse(
      await readFile(join(store, "runs", runId, "artifacts", "file_personal_data.json"), "utf8"),
    ).content.findings as Array<{ category: string }>;
    const categories = new Set(findings.map((f) => f.category));
    for (const category of ["email", "phone"]) expect(categories).toContain(category);

    const exported = JSON.parse(await readFile(join(dir, "export.json"), "utf8"));
    expect(validateExport(exported), JSON.stringify(validateExport.errors)).toBe(true);
    expect(exported.summary).toEqual({ total: 5, succeeded: 5, failed: 0, skipped: 0, pending: 0 });
    expect(exported.outputs.map((o: { artifact_id: string }) => o.artifact_id).sort()).toEqual([
      "database_personal_data",
      "file_personal_data",
      "gdpr_classification",
    ]);
  });

  it("exports a run that copies upstream-sample findings from another run as upstream's model accepts it", async () => {
    // An output copied from another run took no time here: upstream's model wants a number.
    const store = join(dir, "store-reuse");
    const env = { WAIVERN_STORE_PATH: store };
    const source = join(dir, "source.yaml");
    await writeFile(
      source,
      `name: Source\ndescription: HR files\nartifacts:\n` +
        `  hr: {source: {type: filesystem, properties: {path: '${UPSTREAM}/filesystem_mock/hr'}}}\n` +
        `  hr_personal_data: {inputs: hr, process: {type: personal_data}}\n`,
    );
    const first = await runWct(["run", source], { cwd: dir, env });
    expect(first.code, first.stderr).toBe(0);
    const copy = join(dir, "copy.yaml");
    await writeFile(
      copy,
      `name: Copy\ndescription: Findings of an earlier run\nartifacts:\n` +
        `  findings:\n    reuse: {from_run: ${first.stdout.trim()}, artifact: hr_personal_data}\n` +
        `    output_schema: personal_data_indicator/1.0.0\n    output: true\n` +
        `  classified: {inputs: findings, process: {type: gdpr_personal_data_classifier}, output: true}\n` +
        `  missing: {source: {type: filesystem, properties: {path: '${join(dir, "absent")}'}}, optional: true}\n`,
    );
    const report = join(dir, "copy-export.json");
    const second = await runWct(["run", copy, "-o", report], { cwd: dir, env });
    expect(second.code, second.stderr).toBe(0);
    const exported = JSON.parse(await readFile(report, "utf8"));
    expect(validateExport(exported), JSON.stringify(validateExport.errors)).toBe(true);
    expect(exported.run.status).toBe("partial");
    expect(exported.outputs.map((o: { artifact_id: string }) => o.artifact_id)).toEqual([
      "findings",
      "classified",
    ]);
    for (const output of exported.outputs) {
      const validate = upstreamValidator(output.output_schema.name);
      expect(validate(output.content), JSON.stringify(validate.errors)).toBe(true);
    }
  });
});
