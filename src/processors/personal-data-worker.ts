/**
 * @module Worker-thread tasks of the `personal_data` processor (run through the worker pool).
 */
import { loadDetectionRuleset } from "../rulesets/loader.js";
import { compileMatcher, type EvidenceOptions, type RuleMatch } from "./matching.js";

/** One chunk of texts to scan with a ruleset. */
export interface ScanTask {
  /** Ruleset URI, loaded and compiled once per worker. */
  ruleset: string;
  texts: string[];
  options: EvidenceOptions;
}

/** Scans every text of the chunk; the result has one entry per text, in order. */
export async function scanTexts(task: ScanTask): Promise<RuleMatch[][]> {
  const matcher = compileMatcher(loadDetectionRuleset(task.ruleset));
  return task.texts.map((text) => matcher.scan(text, task.options));
}
