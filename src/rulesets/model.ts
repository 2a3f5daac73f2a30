/**
 * @module The shapes of the rulesets shipped in `rulesets/` (upstream-compatible YAML): detection
 * rulesets (keywords and value detectors per category) and classification rulesets (indicator
 * category -> GDPR classification).
 */

/** Built-in value detectors a detection rule can name with `{detector: <name>}`. */
export const DETECTOR_NAMES = [
  "email",
  "phone",
  "iban",
  "payment_card",
  "uk_nino",
  "us_ssn",
  "nhs_number",
  "date_of_birth",
  "ipv4",
  "ipv6",
] as const;

export type DetectorName = (typeof DETECTOR_NAMES)[number];

/** A value pattern: a built-in validating detector, or a raw regular expression (upstream form). */
export type ValuePattern = { detector: DetectorName } | { regex: string };

/** One detection rule: any keyword or value match yields a finding of `category`. */
export interface DetectionRule {
  name: string;
  description: string;
  category: string;
  /** Keywords, matched case-insensitively on word boundaries. */
  patterns: string[];
  value_patterns: ValuePattern[];
}

export interface DetectionRuleset {
  kind: "detection";
  name: string;
  version: string;
  description: string;
  categories: string[];
  rules: DetectionRule[];
}

/** Maps some indicator categories to one GDPR classification. */
export interface ClassificationRule {
  name: string;
  description: string;
  privacy_category: string;
  special_category: boolean;
  article_references: string[];
  indicator_categories: string[];
}

export interface ClassificationRuleset {
  kind: "classification";
  name: string;
  version: string;
  description: string;
  privacy_categories: string[];
  indicator_categories: string[];
  rules: ClassificationRule[];
}

export type Ruleset = DetectionRuleset | ClassificationRuleset;

/** One installed ruleset, as `wct rulesets` lists it. */
export interface RulesetSummary {
  /** `local/<name>/<version>`, the form runbooks use. */
  uri: string;
  name: string;
  version: string;
  description: string;
  /** Number of rules. */
  rules: number;
}
