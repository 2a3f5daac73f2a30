import { afterAll, describe, expect, it } from "vitest";
import type { ComponentContext } from "../components/types.js";
import { createWorkerPool } from "../execute/worker-pool.js";
import type { Message } from "../message.js";
import { loadDetectionRuleset } from "../rulesets/loader.js";
import { validateContent } from "../schemas/registry.js";
import { compileMatcher } from "./matching.js";
import { chunkItems, personalDataProcessor } from "./personal-data.js";

const pool = createWorkerPool(2);
afterAll(() => pool.close());

function context(signal = new AbortController().signal): ComponentContext & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    signal,
    workers: pool,
    baseDir: ".",
    writtenProperties: {},
    warn: (m) => warnings.push(m),
    warnings,
  };
}

function standardInput(items: { content: string; source: string }[]): Message {
  return {
    id: "input",
    content: {
      schemaVersion: "1.0.0",
      name: "standard_input_from_test",
      data: items.map(({ content, source }) => ({
        content,
        metadata: { source, connector_type: "filesystem_connector", file_path: source },
      })),
    },
    schema: { name: "standard_input", version: "1.0.0" },
    context: null,
    run_id: null,
    source: "connector:filesystem",
    timestamp: new Date().toISOString(),
    extensions: null,
  };
}

const output = { name: "personal_data_indicator", version: "1.0.0" };

const customerFile = `id,first_name,last_name,email,phone,iban
1,Jane,Doe,jane.doe@example.com,+44 20 7946 0958,GB82 WEST 1234 5698 7654 32
2,Omar,Haddad,o.haddad@example.org,(555) 123-4567,DE89 3704 0044 0532 0130 00
`;

describe("personal_data processor", () => {
  // Against the project's schema (upstream's shape); test/compat checks upstream's own schemas.
  it("produces one finding per (item, rule) that validates against its schema", async () => {
    const result = await personalDataProcessor.process(
      [
        standardInput([{ content: customerFile, source: "customers.csv" }]),
        standardInput([
          { content: "Patient diagnosis: asthma. No other notes.", source: "notes.txt" },
        ]),
      ],
      {},
      output,
      context(),
    );
    expect(result.schema).toEqual(output);
    expect(validateContent(output, result.content)).toEqual([]);
    const findings = result.content.findings as {
      category: string;
      matched_patterns: { pattern: string; match_count: number }[];
      metadata: { source: string; context: Record<string, unknown> };
      evidence: { content: string; collection_timestamp: string }[];
    }[];
    expect(findings.map((f) => `${f.metadata.source}:${f.category}`)).toEqual([
      "customers.csv:name",
      "customers.csv:email",
      "customers.csv:phone",
      "customers.csv:financial",
      "notes.txt:health",
    ]);
    const email = findings[1]!;
    expect(email.matched_patterns).toEqual([
      { pattern: "email", match_count: 1 },
      { pattern: "detector:email", match_count: 2 },
    ]);
    expect(email.metadata.context).toEqual({
      connector_type: "filesystem_connector",
      file_path: "customers.csv",
    });
    expect(findings[3]!.matched_patterns).toEqual([
      { pattern: "iban", match_count: 1 },
      { pattern: "detector:iban", match_count: 2 },
    ]);
    expect(result.content.summary).toEqual({ total_findings: 5 });
    expect(result.content.analysis_metadata).toMatchObject({
      ruleset_used: "local/personal_data_indicator/1.0.0",
      llm_validation_enabled: false,
      evidence_context_size: "medium",
    });
  });

  it("matches the single-threaded matcher when the items are split over several chunks", async () => {
    const items: { content: string; source: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const filler = `Quarterly report ${i}: revenue grew in every region. `.repeat(2_000 + i * 50);
      items.push({
        content: `${filler}\nContact ${i}: user${i}@example.com, card 4111 1111 1111 1111\n${filler}`,
        source: `file-${i}.txt`,
      });
    }
    expect(
      chunkItems(
        items.map((x) => x.content.length),
        pool.size,
      ).length,
    ).toBeGreaterThanOrEqual(pool.size);
    const result = await personalDataProcessor.process(
      [standardInput(items)],
      { pattern_matching: { evidence_context_size: "small", maximum_evidence_count: 2 } },
      output,
      context(),
    );
    const matcher = compileMatcher(loadDetectionRuleset("local/personal_data_indicator/1.0.0"));
    const expected = items.flatMap((item) =>
      matcher
        .scan(item.content, {
          contextSize: "small",
          maximumEvidenceCount: 2,
          proximityThreshold: 200,
        })
        .map((m) => ({
          source: item.source,
          category: matcher.ruleset.rules[m.rule]!.category,
          patterns: m.matchedPatterns,
          evidence: m.evidence,
        })),
    );
    const actual = (result.content.findings as Record<string, unknown>[]).map((f) => ({
      source: (f.metadata as { source: string }).source,
      category: f.category,
      patterns: f.matched_patterns,
      evidence: (f.evidence as { content: string }[]).map((e) => e.content),
    }));
    expect(actual).toEqual(expected);
    expect(actual.length).toBe(80);
  });

  it("stops when the run is aborted", async () => {
    const controller = new AbortController();
    const big = standardInput([
      { content: "lorem ipsum email ".repeat(2_000_000), source: "big.txt" },
    ]);
    const running = personalDataProcessor.process([big], {}, output, context(controller.signal));
    controller.abort(new Error("interrupted"));
    await expect(running).rejects.toThrow("interrupted");
  });

  it("checks its properties", () => {
    expect(personalDataProcessor.validateProperties({})).toEqual([]);
    const issues = personalDataProcessor.validateProperties({
      pattern_matching: {
        ruleset: "local/no_such_ruleset/1.0.0",
        evidence_context_size: "huge",
        maximum_evidence_count: 50,
        evidence_proximity_threshold: 10,
        extra: 1,
      },
      llm_validation: { enable_llm_validation: true },
    });
    expect(issues.map((i) => i.path).sort()).toEqual([
      "llm_validation.enable_llm_validation",
      "pattern_matching.evidence_context_size",
      "pattern_matching.evidence_proximity_threshold",
      "pattern_matching.extra",
      "pattern_matching.maximum_evidence_count",
      "pattern_matching.ruleset",
    ]);
    expect(issues.find((i) => i.path === "pattern_matching.ruleset")?.message).toContain(
      "local/personal_data_indicator/1.0.0",
    );
    expect(
      personalDataProcessor.validateProperties({
        llm_validation: { enable_llm_validation: false },
      }),
    ).toEqual([]);
  });

  it("refuses invalid properties when run", async () => {
    await expect(
      personalDataProcessor.process(
        [],
        { llm_validation: { enable_llm_validation: true } },
        output,
        context(),
      ),
    ).rejects.toThrow(/enable_llm_validation.*not supported/);
  });
});

describe("personal_data prepare", () => {
  it("loads the ruleset on the workers ahead of the scan, and reports an unknown one", async () => {
    const prepare = personalDataProcessor.prepare!;
    await expect(
      prepare({ pattern_matching: { ruleset: "local/personal_data_indicator/1.0.0" } }, pool),
    ).resolves.toBeUndefined();
    await expect(
      prepare({ pattern_matching: { ruleset: "local/no_such_ruleset/9.9.9" } }, pool),
    ).rejects.toThrow(/no_such_ruleset/);
  });

  it("finds the same on prepared workers as on workers that load the ruleset themselves", async () => {
    const input = [standardInput([{ content: customerFile, source: "customers.csv" }])];
    const findings = async (prepared: boolean) => {
      const fresh = createWorkerPool(2);
      try {
        if (prepared) await personalDataProcessor.prepare!({}, fresh);
        const ctx = { ...context(), workers: fresh };
        const result = await personalDataProcessor.process(input, {}, output, ctx);
        return (result.content.findings as { category: string }[]).map((f) => f.category);
      } finally {
        await fresh.close();
      }
    };
    const unprepared = await findings(false);
    expect(unprepared).toEqual(expect.arrayContaining(["email", "phone"]));
    expect(await findings(true)).toEqual(unprepared);
  });
});
