/**
 * @module The `gdpr_personal_data_classifier` processor: maps each `personal_data_indicator`
 * finding to its GDPR classification (privacy category, special category, articles) with a
 * classification ruleset. Cheap per finding, so it runs on the calling thread.
 */
import { assertValidProperties, checkProperties } from "../components/properties.js";
import type {
  ComponentContext,
  ComponentOutput,
  Processor,
  PropertyDoc,
} from "../components/types.js";
import { type Issue, WctError } from "../errors.js";
import type { Message, SchemaRef } from "../message.js";
import { loadClassificationRuleset } from "../rulesets/loader.js";
import type { ClassificationRule } from "../rulesets/model.js";

const PERSONAL_DATA_INDICATOR: SchemaRef = { name: "personal_data_indicator", version: "1.0.0" };
const GDPR_PERSONAL_DATA: SchemaRef = { name: "gdpr_personal_data", version: "1.0.0" };
const DEFAULT_RULESET = "local/gdpr_personal_data_classification/1.0.0";
const ANALYSER_VERSION = "1.0.0";
const UNCLASSIFIED = "unclassified";

const properties: PropertyDoc[] = [
  {
    name: "ruleset",
    type: "string",
    required: false,
    default: DEFAULT_RULESET,
    description: "Classification ruleset URI: local/<name>/<version>",
  },
];

function validateProperties(props: Record<string, unknown>): Issue[] {
  const issues = checkProperties(props, properties);
  if (typeof props.ruleset === "string") {
    try {
      loadClassificationRuleset(props.ruleset);
    } catch (error) {
      if (!(error instanceof WctError)) throw error;
      issues.push({ path: "ruleset", message: error.message });
    }
  }
  return issues;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function classify(
  inputs: Message[],
  props: Record<string, unknown>,
  _outputSchema: SchemaRef,
  context: ComponentContext,
): Promise<ComponentOutput> {
  assertValidProperties("gdpr_personal_data_classifier", validateProperties(props));
  const rulesetUri = typeof props.ruleset === "string" ? props.ruleset : DEFAULT_RULESET;
  const ruleset = loadClassificationRuleset(rulesetUri);
  const ruleByCategory = new Map<string, ClassificationRule>();
  for (const rule of ruleset.rules) {
    for (const category of rule.indicator_categories) ruleByCategory.set(category, rule);
  }

  const findings: Record<string, unknown>[] = [];
  const unmapped = new Set<string>();
  let specialCategoryCount = 0;
  let requiresReviewCount = 0;
  for (const input of inputs) {
    const inputFindings = input.content.findings;
    if (!Array.isArray(inputFindings)) continue;
    for (const finding of inputFindings) {
      if (!isRecord(finding)) continue;
      const { category, require_review: requireReview, ...rest } = finding;
      const indicatorType = typeof category === "string" ? category : UNCLASSIFIED;
      const rule = ruleByCategory.get(indicatorType);
      if (!rule) unmapped.add(indicatorType);
      const special = rule?.special_category ?? false;
      const review = requireReview === true || !rule;
      if (special) specialCategoryCount++;
      if (review) requiresReviewCount++;
      findings.push({
        ...rest,
        indicator_type: indicatorType,
        privacy_category: rule?.privacy_category ?? UNCLASSIFIED,
        special_category: special,
        article_references: rule?.article_references ?? [],
        ...(review ? { require_review: true } : {}),
      });
    }
  }
  if (unmapped.size > 0) {
    context.warn(
      `No GDPR classification for indicator categories: ${[...unmapped].sort().join(", ")}; classified as '${UNCLASSIFIED}' and marked for review.`,
    );
  }

  return {
    schema: GDPR_PERSONAL_DATA,
    content: {
      findings,
      summary: {
        total_findings: findings.length,
        special_category_count: specialCategoryCount,
        requires_review_count: requiresReviewCount,
      },
      analysis_metadata: {
        ruleset_used: rulesetUri,
        llm_validation_enabled: false,
        analysis_timestamp: new Date().toISOString(),
        analyser_version: ANALYSER_VERSION,
      },
    },
  };
}

/** Classifies personal data indicators under the GDPR (privacy category, Article 9 special categories). */
export const gdprPersonalDataClassifier: Processor = {
  kind: "processor",
  type: "gdpr_personal_data_classifier",
  description:
    "Classifies personal data findings under the GDPR (privacy category, special category, articles)",
  properties,
  outputSchemas: [GDPR_PERSONAL_DATA],
  inputRequirements: [[PERSONAL_DATA_INDICATOR]],
  validateProperties,
  process: classify,
};
