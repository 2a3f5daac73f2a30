import { describe, expect, it } from "vitest";
import { NotFoundError } from "../errors.js";
import {
  listRulesets,
  loadClassificationRuleset,
  loadDetectionRuleset,
  loadRuleset,
  parseRuleset,
} from "./loader.js";

describe("shipped rulesets", () => {
  it("are listed for `wct rulesets`", () => {
    expect(listRulesets().map((r) => r.uri)).toEqual([
      "local/gdpr_personal_data_classification/1.0.0",
      "local/personal_data_indicator/1.0.0",
    ]);
  });

  it("personal_data_indicator has the upstream categories, many keywords and validating detectors", () => {
    const ruleset = loadDetectionRuleset("local/personal_data_indicator/1.0.0");
    expect(ruleset.categories).toEqual(
      expect.arrayContaining([
        "email",
        "phone",
        "address",
        "date_of_birth",
        "government_id",
        "payment",
        "financial",
        "health",
        "name",
        "network",
      ]),
    );
    expect(ruleset.rules.length).toBeGreaterThanOrEqual(25);
    expect(ruleset.rules.flatMap((r) => r.patterns).length).toBeGreaterThanOrEqual(250);
    const detectors = ruleset.rules.flatMap((r) =>
      r.value_patterns.map((v) => ("detector" in v ? v.detector : v.regex)),
    );
    expect(detectors.sort()).toEqual([
      "date_of_birth",
      "email",
      "iban",
      "ipv4",
      "ipv6",
      "nhs_number",
      "payment_card",
      "phone",
      "uk_nino",
      "us_ssn",
    ]);
  });

  it("the GDPR classification maps every indicator category exactly once", () => {
    const indicator = loadDetectionRuleset("local/personal_data_indicator/1.0.0");
    const classification = loadClassificationRuleset(
      "local/gdpr_personal_data_classification/1.0.0",
    );
    const mapped = classification.rules.flatMap((r) => r.indicator_categories).sort();
    expect(mapped).toEqual([...indicator.categories].sort());
    const health = classification.rules.find((r) => r.indicator_categories.includes("health"));
    expect(health).toMatchObject({ special_category: true, privacy_category: "health_data" });
    expect(health?.article_references).toContain("Article 9(1)");
  });

  it("are cached", () => {
    expect(loadRuleset("local/personal_data_indicator/1.0.0")).toBe(
      loadRuleset("local/personal_data_indicator/1.0.0"),
    );
  });
});

describe("ruleset URIs", () => {
  it("reject other providers, malformed URIs and unknown rulesets clearly", () => {
    expect(() => loadRuleset("remote/personal_data_indicator/1.0.0")).toThrow(
      /only 'local' is supported/,
    );
    expect(() => loadRuleset("personal_data_indicator")).toThrow(
      /expected 'provider\/name\/version'/,
    );
    expect(() => loadRuleset("local/personal_data_indicator/latest")).toThrow(/expected x\.y\.z/);
    let error: unknown;
    try {
      loadRuleset("local/personal_data_indicator/9.9.9");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toContain(
      "Available rulesets: local/gdpr_personal_data_classification/1.0.0, local/personal_data_indicator/1.0.0",
    );
  });

  it("reject a ruleset of the wrong kind", () => {
    expect(() => loadClassificationRuleset("local/personal_data_indicator/1.0.0")).toThrow(
      /not a classification/,
    );
  });
});

describe("parseRuleset", () => {
  it("reports every problem with file, line and column", () => {
    const text = `name: demo
version: 1.0.0
description: Demo
categories: [email]
rules:
  - name: Email
    description: Emails
    category: mail
    patterns: [email, "  "]
    value_patterns:
      - detector: fax
      - "(unclosed"
  - name: Email
    description: ""
    category: email
    colour: red
`;
    const { ruleset, issues } = parseRuleset(text, "demo.yaml");
    expect(ruleset).toBeUndefined();
    expect(
      issues.map((i) => `${i.position?.line}:${i.position?.column} ${i.path}: ${i.message}`),
    ).toEqual([
      "13:11 rules.1.name: duplicate rule name 'Email'",
      "8:15 rules.0.category: unknown category 'mail'; declare it in 'categories'",
      "9:23 rules.0.patterns.1: must be a non-empty string",
      "11:19 rules.0.value_patterns.0.detector: unknown detector 'fax'; known: email, phone, iban, payment_card, uk_nino, us_ssn, nhs_number, date_of_birth, ipv4, ipv6",
      expect.stringMatching(/^12:9 rules\.0\.value_patterns\.1: invalid regular expression/),
      "16:5 rules.1.colour: unknown key 'colour'; expected one of: name, description, category, patterns, value_patterns",
      "14:18 rules.1.description: must be a non-empty string",
      "13:5 rules.1: a rule needs 'patterns' or 'value_patterns'",
    ]);
    expect(issues.every((i) => i.position?.file === "demo.yaml")).toBe(true);
  });

  it("reports YAML syntax errors and a name that does not match the folder", () => {
    expect(parseRuleset("name: [unclosed\n", "bad.yaml").issues[0]?.position).toMatchObject({
      file: "bad.yaml",
      line: expect.any(Number),
      column: expect.any(Number),
    });
    const { issues } = parseRuleset(
      "name: other\nversion: 1.0.0\ndescription: d\ncategories: [a]\nrules:\n  - {name: r, description: d, category: a, patterns: [x]}\n",
      "x.yaml",
      { name: "demo", version: "1.0.0" },
    );
    expect(issues.map((i) => i.message)).toEqual(["must be 'demo' (the folder name), got 'other'"]);
  });

  it("validates classification rules against both category lists", () => {
    const { issues } = parseRuleset(
      `name: c
version: 1.0.0
description: d
privacy_categories: [identification_data]
indicator_categories: [email, phone]
rules:
  - {name: A, description: d, privacy_category: identification_data, special_category: false, article_references: ["Article 4(1)"], indicator_categories: [email, fax]}
  - {name: B, description: d, privacy_category: other_data, special_category: "no", article_references: [], indicator_categories: [email]}
`,
      "c.yaml",
    );
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "rules.0.indicator_categories.1: unknown indicator category 'fax'; declare it in 'indicator_categories'",
      "rules.1.privacy_category: unknown privacy category 'other_data'; declare it in 'privacy_categories'",
      "rules.1.special_category: must be true or false",
    ]);
  });
});
