/**
 * Upstream compatibility: an upstream-format runbook over upstream's sample data (read in place
 * from ../shared, never copied) runs unchanged, and every artifact validates against upstream's
 * own JSON Schemas.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
    expect(exported.summary).toEqual({ total: 5, succeeded: 5, failed: 0, skipped: 0, pending: 0 });
    expect(exported.outputs.map((o: { artifact_id: string }) => o.artifact_id).sort()).toEqual([
      "database_personal_data",
      "file_personal_data",
      "gdpr_classification",
    ]);
  });
});
