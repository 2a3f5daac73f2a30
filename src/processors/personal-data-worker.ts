/**
 * @module Worker-thread tasks of the `personal_data` processor (run through the worker pool).
 */
import { moduleUrl } from "../paths.js";
import type { DetectionRuleset } from "../rulesets/model.js";
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

/**
 * The ruleset loader, imported by URL so that the worker bundle leaves it (and its YAML parser,
 * four fifths of the bundle) out: a thread loads it only if it needs it.
 */
function rulesetLoader(): Promise<typeof import("../rulesets/loader.js")> {
  return import(moduleUrl("rulesets/loader"));
}

/** This worker's compiled rulesets, by URI: compiled once, reused by every later chunk. */
const matchers = new Map<string, PatternMatcher>();

/**
 * The compiled ruleset. `prepare` hands the worker the ruleset the main thread already loaded;
 * a worker that did not get it (one started to replace a terminated worker) loads it itself,
 * importing the loader (and its YAML parser) only then.
 */
async function matcherFor(uri: string, rules?: DetectionRuleset): Promise<PatternMatcher> {
  let matcher = matchers.get(uri);
  if (!matcher) {
    matcher = compileMatcher(rules ?? (await rulesetLoader()).loadDetectionRuleset(uri));
    matchers.set(uri, matcher);
  }
  return matcher;
}

/** Scans every text of the chunk; the result has one entry per text, in order. */
export async function scanTexts(task: ScanTask): Promise<RuleMatch[][]> {
  const matcher = await matcherFor(task.ruleset);
  return task.texts.map((text) => matcher.scan(text, task.options));
}

/**
 * Compiles a ruleset ahead of the first chunk (see `Processor.prepare`); `rules` is the ruleset
 * as the main thread loaded and validated it.
 */
export async function prepare(task: { ruleset: string; rules: DetectionRuleset }): Promise<void> {
  await matcherFor(task.ruleset, task.rules);
}
