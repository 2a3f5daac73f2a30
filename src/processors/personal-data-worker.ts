/**
 * @module Worker-thread tasks of the `personal_data` processor (run through the worker pool).
 */
import { loadDetectionRuleset } from "../rulesets/loader.js";
import {
  compileMatcher,
  type EvidenceOptions,
  type PatternMatcher,
  type RuleMatch,
} from "./matching.js";

/** One chunk of texts to scan with a ruleset. */
export interface ScanTask {
  /** Ruleset URI, loaded and compiled once per worker. */
  ruleset: string;
  texts: string[];
  options: EvidenceOptions;
}

/** This worker's compiled rulesets, by URI: compiled once, reused by every later chunk. */
const matchers = new Map<string, PatternMatcher>();

function matcherFor(ruleset: string): PatternMatcher {
  let matcher = matchers.get(ruleset);
  if (!matcher) {
    matcher = compileMatcher(loadDetectionRuleset(ruleset));
    matchers.set(ruleset, matcher);
  }
  return matcher;
}

/** Scans every text of the chunk; the result has one entry per text, in order. */
export async function scanTexts(task: ScanTask): Promise<RuleMatch[][]> {
  const matcher = matcherFor(task.ruleset);
  return task.texts.map((text) => matcher.scan(text, task.options));
}

/** Loads and compiles a ruleset ahead of the first chunk; see `Processor.prepare`. */
export async function prepare(task: { ruleset: string }): Promise<void> {
  matcherFor(task.ruleset);
}
