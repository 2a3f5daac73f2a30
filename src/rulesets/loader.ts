/**
 * @module Finds, validates and caches the rulesets shipped in `rulesets/<name>/<version>/<name>.yaml`.
 * Runbooks name them by URI `local/<name>/<version>`; `local` is the only provider.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { formatIssue, InputError, type Issue, NotFoundError } from "../errors.js";
import { sha256 } from "../message.js";
import { packageFile } from "../paths.js";
import { PRECOMPILED_DIR, precompiledFile } from "../precompiled.js";
import {
  type ClassificationRule,
  type ClassificationRuleset,
  DETECTOR_NAMES,
  type DetectionRule,
  type DetectionRuleset,
  type DetectorName,
  type Ruleset,
  type RulesetSummary,
  type ValuePattern,
} from "./model.js";

const rulesetsFolder = packageFile("rulesets");
const cache = new Map<string, Ruleset>();
const VERSION = /^\d+\.\d+\.\d+$/;

/** A ruleset file that is not valid; carries every issue with `file:line:column`. */
export class RulesetError extends InputError {
  override name = "RulesetError";
  readonly issues: Issue[];
  constructor(issues: Issue[]) {
    super(issues.map(formatIssue).join("\n"), { code: "invalid_ruleset" });
    this.issues = issues;
  }
}

/** Splits `local/<name>/<version>`; any other provider or shape is an error naming the URI. */
export function parseRulesetUri(uri: string): { provider: string; name: string; version: string } {
  const parts = uri.split("/");
  const [provider, name, version] = parts;
  if (parts.length !== 3 || !provider || !name || !version) {
    throw new InputError(
      `Invalid ruleset URI '${uri}': expected 'provider/name/version', e.g. 'local/personal_data_indicator/1.0.0'.`,
    );
  }
  if (provider !== "local") {
    throw new InputError(
      `Unsupported ruleset provider '${provider}' in '${uri}': only 'local' is supported.`,
    );
  }
  if (!VERSION.test(version)) {
    throw new InputError(`Invalid ruleset version '${version}' in '${uri}': expected x.y.z.`);
  }
  return { provider, name, version };
}

/** A shipped ruleset file. */
export interface RulesetFile {
  name: string;
  version: string;
  file: string;
}

/** Every shipped ruleset file, sorted by name and version. */
export function rulesetFiles(): RulesetFile[] {
  if (!existsSync(rulesetsFolder)) return [];
  const found: RulesetFile[] = [];
  for (const name of readdirSync(rulesetsFolder).sort()) {
    const nameFolder = join(rulesetsFolder, name);
    for (const version of safeReaddir(nameFolder)) {
      const file = join(nameFolder, version, `${name}.yaml`);
      if (existsSync(file)) found.push({ name, version, file });
    }
  }
  return found;
}

function safeReaddir(folder: string): string[] {
  try {
    return readdirSync(folder).sort();
  } catch {
    return [];
  }
}

/**
 * Loads (once per process) and validates the ruleset `local/<name>/<version>`. Throws
 * `InputError` for a malformed URI or another provider, `NotFoundError` listing the installed
 * rulesets for an unknown one, `RulesetError` for an invalid file.
 */
export function loadRuleset(uri: string): Ruleset {
  const cached = cache.get(uri);
  if (cached) return cached;
  const { name, version } = parseRulesetUri(uri);
  const available = rulesetFiles();
  const entry = available.find((r) => r.name === name && r.version === version);
  if (!entry) {
    const list = available.map((r) => `local/${r.name}/${r.version}`).join(", ") || "none";
    throw new NotFoundError(`Unknown ruleset '${uri}'. Available rulesets: ${list}.`, {
      code: "ruleset_not_found",
    });
  }
  const text = readFileSync(entry.file, "utf8");
  let ruleset = precompiledRuleset(entry, text);
  if (!ruleset) {
    const parsed = parseRuleset(text, entry.file, { name, version });
    if (!parsed.ruleset) throw new RulesetError(parsed.issues);
    ruleset = parsed.ruleset;
  }
  cache.set(uri, ruleset);
  return ruleset;
}

/** What the build step writes for a ruleset: the parsed, validated form and its source's sha256. */
export interface PrecompiledRuleset {
  source_sha256: string;
  ruleset: Ruleset;
}

/**
 * The build's parsed form of a ruleset file (see `precompiled.ts`), if it was made from exactly
 * `text`; parsing the YAML costs far more than reading the JSON.
 */
export function precompiledRuleset(
  entry: RulesetFile,
  text: string,
  dir = PRECOMPILED_DIR,
): Ruleset | undefined {
  if (!dir) return undefined;
  let stamped: Partial<PrecompiledRuleset> | undefined;
  try {
    const file = precompiledFile(dir, "rulesets", entry.name, entry.version, ".json");
    stamped = JSON.parse(readFileSync(file, "utf8")) as Partial<PrecompiledRuleset>;
  } catch {
    return undefined;
  }
  return stamped?.source_sha256 === sha256(text) ? stamped.ruleset : undefined;
}

/** `loadRuleset`, requiring a detection ruleset (keywords and value patterns). */
export function loadDetectionRuleset(uri: string): DetectionRuleset {
  const ruleset = loadRuleset(uri);
  if (ruleset.kind !== "detection") {
    throw new InputError(`Ruleset '${uri}' is a classification ruleset, not a detection ruleset.`);
  }
  return ruleset;
}

/** `loadRuleset`, requiring a classification ruleset (category mappings). */
export function loadClassificationRuleset(uri: string): ClassificationRuleset {
  const ruleset = loadRuleset(uri);
  if (ruleset.kind !== "classification") {
    throw new InputError(`Ruleset '${uri}' is a detection ruleset, not a classification ruleset.`);
  }
  return ruleset;
}

/** Every installed ruleset, sorted by name and version, for `wct rulesets`. */
export function listRulesets(): RulesetSummary[] {
  return rulesetFiles().map(({ name, version }) => {
    const ruleset = loadRuleset(`local/${name}/${version}`);
    return {
      uri: `local/${name}/${version}`,
      name,
      version,
      description: ruleset.description,
      rules: ruleset.rules.length,
    };
  });
}

type Path = (string | number)[];

/**
 * Parses and validates ruleset YAML. `expected` (from the file's location) must match the
 * declared name and version. Returns the ruleset only when there are no issues.
 */
export function parseRuleset(
  text: string,
  file: string,
  expected?: { name: string; version: string },
): { ruleset?: Ruleset; issues: Issue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const issues: Issue[] = [];
  const at = (path: Path, message: string, pointAt: "value" | "key" = "value"): void => {
    const node =
      pointAt === "key" ? keyNode(path) : path.length === 0 ? doc.contents : doc.getIn(path, true);
    const range = (node as Node | undefined)?.range ?? doc.contents?.range;
    const position = range ? lineCounter.linePos(range[0]) : undefined;
    issues.push({
      path: path.join("."),
      message,
      position: position ? { file, line: position.line, column: position.col } : { file },
    });
  };
  const keyNode = (path: Path): unknown => {
    const parent =
      doc.getIn(path.slice(0, -1), true) ?? (path.length === 1 ? doc.contents : undefined);
    if (!isMap(parent)) return undefined;
    return parent.items.find(
      (pair) => isScalar(pair.key) && pair.key.value === path[path.length - 1],
    )?.key;
  };
  for (const error of doc.errors) {
    const position = lineCounter.linePos(error.pos[0]);
    issues.push({
      path: "",
      message: error.message.split("\n")[0] ?? error.message,
      position: { file, line: position.line, column: position.col },
    });
  }
  if (issues.length > 0) return { issues };

  const root: unknown = doc.toJS();
  if (!isRecord(root) || !isMap(doc.contents)) {
    at([], "a ruleset must be a mapping");
    return { issues };
  }
  const v = new Validator(at);
  const kind = "privacy_categories" in root ? "classification" : "detection";
  const topKeys =
    kind === "classification"
      ? ["name", "version", "description", "privacy_categories", "indicator_categories", "rules"]
      : ["name", "version", "description", "categories", "rules"];
  v.knownKeys(root, [], topKeys);
  const name = v.text(root, [], "name");
  const version = v.text(root, [], "version");
  const description = v.text(root, [], "description");
  if (version !== undefined && !VERSION.test(version)) at(["version"], "must look like x.y.z");
  if (expected && name !== undefined && name !== expected.name) {
    at(["name"], `must be '${expected.name}' (the folder name), got '${name}'`);
  }
  if (expected && version !== undefined && version !== expected.version) {
    at(["version"], `must be '${expected.version}' (the folder name), got '${version}'`);
  }
  const rules = root.rules;
  if (!Array.isArray(rules) || rules.length === 0) {
    at("rules" in root ? ["rules"] : [], "'rules' must be a non-empty list");
  }
  const ruleList = Array.isArray(rules) ? rules : [];
  const seenNames = new Set<string>();
  ruleList.forEach((rule, index) => {
    const ruleName = isRecord(rule) ? rule.name : undefined;
    if (typeof ruleName === "string") {
      if (seenNames.has(ruleName))
        at(["rules", index, "name"], `duplicate rule name '${ruleName}'`);
      seenNames.add(ruleName);
    }
  });

  let ruleset: Ruleset | undefined;
  if (kind === "classification") {
    const privacyCategories = v.textList(root, [], "privacy_categories", true) ?? [];
    const indicatorCategories = v.textList(root, [], "indicator_categories", true) ?? [];
    const mappedBy = new Map<string, string>();
    const parsed = ruleList.map((rule, index) =>
      classificationRule(v, rule, ["rules", index], privacyCategories, indicatorCategories),
    );
    parsed.forEach((rule, index) => {
      rule?.indicator_categories.forEach((category, i) => {
        const other = mappedBy.get(category);
        if (other !== undefined) {
          at(
            ["rules", index, "indicator_categories", i],
            `'${category}' is already mapped by rule '${other}'`,
          );
        }
        mappedBy.set(category, rule.name);
      });
    });
    if (issues.length === 0 && name && version && description !== undefined) {
      ruleset = {
        kind,
        name,
        version,
        description,
        privacy_categories: privacyCategories,
        indicator_categories: indicatorCategories,
        rules: parsed.filter((r): r is ClassificationRule => r !== undefined),
      };
    }
  } else {
    const categories = v.textList(root, [], "categories", true) ?? [];
    const parsed = ruleList.map((rule, index) =>
      detectionRule(v, rule, ["rules", index], categories),
    );
    if (issues.length === 0 && name && version && description !== undefined) {
      ruleset = {
        kind,
        name,
        version,
        description,
        categories,
        rules: parsed.filter((r): r is DetectionRule => r !== undefined),
      };
    }
  }
  return ruleset ? { ruleset, issues } : { issues };
}

function detectionRule(
  v: Validator,
  rule: unknown,
  path: Path,
  categories: string[],
): DetectionRule | undefined {
  if (!isRecord(rule)) {
    v.at(path, "a rule must be a mapping");
    return undefined;
  }
  v.knownKeys(rule, path, ["name", "description", "category", "patterns", "value_patterns"]);
  const name = v.text(rule, path, "name");
  const description = v.text(rule, path, "description");
  const category = v.text(rule, path, "category");
  if (category !== undefined && !categories.includes(category)) {
    v.at([...path, "category"], `unknown category '${category}'; declare it in 'categories'`);
  }
  const patterns = v.textList(rule, path, "patterns", false) ?? [];
  const valuePatterns: ValuePattern[] = [];
  const rawValuePatterns = rule.value_patterns;
  if (rawValuePatterns !== undefined && !Array.isArray(rawValuePatterns)) {
    v.at([...path, "value_patterns"], "must be a list");
  }
  (Array.isArray(rawValuePatterns) ? rawValuePatterns : []).forEach((entry, index) => {
    const entryPath = [...path, "value_patterns", index];
    if (typeof entry === "string") {
      if (entry.trim() === "") {
        v.at(entryPath, "must not be blank");
        return;
      }
      try {
        new RegExp(entry, "gi");
        valuePatterns.push({ regex: entry });
      } catch (error) {
        v.at(entryPath, `invalid regular expression: ${(error as Error).message}`);
      }
    } else if (isRecord(entry) && typeof entry.detector === "string") {
      v.knownKeys(entry, entryPath, ["detector"]);
      if ((DETECTOR_NAMES as readonly string[]).includes(entry.detector)) {
        valuePatterns.push({ detector: entry.detector as DetectorName });
      } else {
        v.at(
          [...entryPath, "detector"],
          `unknown detector '${entry.detector}'; known: ${DETECTOR_NAMES.join(", ")}`,
        );
      }
    } else {
      v.at(entryPath, "must be a regular expression string or {detector: <name>}");
    }
  });
  if (patterns.length === 0 && valuePatterns.length === 0 && rawValuePatterns === undefined) {
    v.at(path, "a rule needs 'patterns' or 'value_patterns'");
  }
  if (name === undefined || description === undefined || category === undefined) return undefined;
  return { name, description, category, patterns, value_patterns: valuePatterns };
}

function classificationRule(
  v: Validator,
  rule: unknown,
  path: Path,
  privacyCategories: string[],
  indicatorCategories: string[],
): ClassificationRule | undefined {
  if (!isRecord(rule)) {
    v.at(path, "a rule must be a mapping");
    return undefined;
  }
  v.knownKeys(rule, path, [
    "name",
    "description",
    "privacy_category",
    "special_category",
    "article_references",
    "indicator_categories",
  ]);
  const name = v.text(rule, path, "name");
  const description = v.text(rule, path, "description");
  const privacyCategory = v.text(rule, path, "privacy_category");
  if (privacyCategory !== undefined && !privacyCategories.includes(privacyCategory)) {
    v.at(
      [...path, "privacy_category"],
      `unknown privacy category '${privacyCategory}'; declare it in 'privacy_categories'`,
    );
  }
  const special = rule.special_category;
  if (typeof special !== "boolean") v.at([...path, "special_category"], "must be true or false");
  const articles = v.textList(rule, path, "article_references", true);
  const categories = v.textList(rule, path, "indicator_categories", true);
  categories?.forEach((category, index) => {
    if (!indicatorCategories.includes(category)) {
      v.at(
        [...path, "indicator_categories", index],
        `unknown indicator category '${category}'; declare it in 'indicator_categories'`,
      );
    }
  });
  if (
    name === undefined ||
    description === undefined ||
    privacyCategory === undefined ||
    typeof special !== "boolean" ||
    !articles ||
    !categories
  ) {
    return undefined;
  }
  return {
    name,
    description,
    privacy_category: privacyCategory,
    special_category: special,
    article_references: articles,
    indicator_categories: categories,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Field checks that report issues at the field's position. */
class Validator {
  constructor(readonly at: (path: Path, message: string, pointAt?: "value" | "key") => void) {}

  knownKeys(object: Record<string, unknown>, path: Path, keys: string[]): void {
    for (const key of Object.keys(object)) {
      if (!keys.includes(key)) {
        this.at([...path, key], `unknown key '${key}'; expected one of: ${keys.join(", ")}`, "key");
      }
    }
  }

  text(object: Record<string, unknown>, path: Path, key: string): string | undefined {
    const value = object[key];
    if (typeof value === "string" && value.trim() !== "") return value;
    if (value === undefined) this.at(path, `missing required '${key}'`);
    else this.at([...path, key], "must be a non-empty string");
    return undefined;
  }

  textList(
    object: Record<string, unknown>,
    path: Path,
    key: string,
    required: boolean,
  ): string[] | undefined {
    const value = object[key];
    if (value === undefined) {
      if (required) this.at(path, `missing required '${key}'`);
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.at([...path, key], "must be a list of strings");
      return undefined;
    }
    let valid = true;
    value.forEach((item, index) => {
      if (typeof item !== "string" || item.trim() === "") {
        this.at([...path, key, index], "must be a non-empty string");
        valid = false;
      }
    });
    return valid ? (value as string[]) : undefined;
  }
}
