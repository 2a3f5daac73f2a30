import { describe, expect, it } from "vitest";
import type { ComponentContext, WorkerRunner } from "../components/types.js";
import type { Message } from "../message.js";
import { validateContent } from "../schemas/registry.js";
import { gdprPersonalDataClassifier } from "./gdpr-classifier.js";

const noWorkers: WorkerRunner = {
  size: 1,
  run: () => Promise.reject(new Error("the classifier must not need workers")),
};

function context(): ComponentContext & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    signal: new AbortController().signal,
    workers: noWorkers,
    baseDir: ".",
    writtenProperties: {},
    warn: (m) => warnings.push(m),
    warnings,
  };
}

function finding(category: string, source: string, extra: Record<string, unknown> = {}) {
  return {
    id: `id-${category}-${source}`,
    category,
    evidence: [
      { content: `...${category} evidence...`, collection_timestamp: "2026-01-01T00:00:00.000Z" },
    ],
    matched_patterns: [{ pattern: category, match_count: 2 }],
    metadata: { source, context: { connector_type: "filesystem_connector" } },
    ...extra,
  };
}

function indicator(findings: Record<string, unknown>[]): Message {
  return {
    id: "pd",
    content: {
      findings,
      summary: { total_findings: findings.length },
      analysis_metadata: {
        ruleset_used: "local/personal_data_indicator/1.0.0",
        llm_validation_enabled: false,
      },
    },
    schema: { name: "personal_data_indicator", version: "1.0.0" },
    context: null,
    run_id: null,
    source: "processor:personal_data",
    timestamp: "2026-01-01T00:00:00.000Z",
    extensions: null,
  };
}

const output = { name: "gdpr_personal_data", version: "1.0.0" };

describe("gdpr_personal_data_classifier", () => {
  // Against the project's schema (upstream's shape); test/compat checks upstream's own schemas.
  it("classifies the findings of every input and validates against its schema", async () => {
    const ctx = context();
    const result = await gdprPersonalDataClassifier.process(
      [
        indicator([finding("email", "a.csv"), finding("health", "notes.txt")]),
        indicator([
          finding("biometric", "faces.db"),
          finding("government_id", "hr.csv", { require_review: true }),
          finding("precise_location", "stores.csv"),
        ]),
      ],
      {},
      output,
      ctx,
    );
    expect(validateContent(output, result.content)).toEqual([]);
    const findings = result.content.findings as Record<string, unknown>[];
    expect(findings.map((f) => [f.indicator_type, f.privacy_category, f.special_category])).toEqual(
      [
        ["email", "identification_data", false],
        ["health", "health_data", true],
        ["biometric", "biometric_data", true],
        ["government_id", "identification_data", false],
        // Not among Article 9's categories, however sensitive.
        ["precise_location", "location_data", false],
      ],
    );
    expect(findings[1]!.article_references).toContain("Article 9(1)");
    expect(findings[0]).toMatchObject({
      id: "id-email-a.csv",
      evidence: [{ content: "...email evidence..." }],
      matched_patterns: [{ pattern: "email", match_count: 2 }],
      metadata: { source: "a.csv", context: { connector_type: "filesystem_connector" } },
    });
    expect(findings[0]).not.toHaveProperty("category");
    expect(findings[3]!.require_review).toBe(true);
    expect(result.content.summary).toEqual({
      total_findings: 5,
      special_category_count: 2,
      requires_review_count: 1,
    });
    expect(result.content.analysis_metadata).toMatchObject({
      ruleset_used: "local/gdpr_personal_data_classification/1.0.0",
      llm_validation_enabled: false,
    });
    expect(ctx.warnings).toEqual([]);
  });

  it("marks categories without a mapping as unclassified, for review, with a warning", async () => {
    const ctx = context();
    const result = await gdprPersonalDataClassifier.process(
      [indicator([finding("vehicle_registration", "fleet.csv")])],
      {},
      output,
      ctx,
    );
    expect(validateContent(output, result.content)).toEqual([]);
    expect(result.content.findings).toEqual([
      expect.objectContaining({
        indicator_type: "vehicle_registration",
        privacy_category: "unclassified",
        special_category: false,
        require_review: true,
      }),
    ]);
    expect(result.content.summary).toMatchObject({
      requires_review_count: 1,
      special_category_count: 0,
    });
    expect(ctx.warnings).toEqual([expect.stringContaining("vehicle_registration")]);
  });

  it("checks its ruleset property", () => {
    expect(gdprPersonalDataClassifier.validateProperties({})).toEqual([]);
    expect(
      gdprPersonalDataClassifier.validateProperties({
        ruleset: "local/personal_data_indicator/1.0.0",
      }),
    ).toEqual([
      { path: "ruleset", message: expect.stringContaining("not a classification ruleset") },
    ]);
    expect(gdprPersonalDataClassifier.validateProperties({ rulesets: "x" })[0]?.path).toBe(
      "rulesets",
    );
  });
});
