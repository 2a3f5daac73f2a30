/**
 * @module The `personal_data` processor: finds personal data in `standard_input` items with a
 * detection ruleset and reports one `personal_data_indicator` finding per (item, matching rule).
 * Matching runs on the worker pool in chunks of similar size; the main thread only merges.
 */
import { randomUUID } from "node:crypto";
import { assertValidProperties, checkProperties } from "../components/properties.js";
import type {
  ComponentContext,
  ComponentOutput,
  Processor,
  PropertyDoc,
} from "../components/types.js";
import { ComponentError, type Issue, WctError } from "../errors.js";
import type { Message, SchemaRef } from "../message.js";
import { moduleUrl } from "../paths.js";
import { loadDetectionRuleset } from "../rulesets/loader.js";
import type { EvidenceContextSize, EvidenceOptions, RuleMatch } from "./matching.js";
import type { ScanTask } from "./personal-data-worker.js";

const STANDARD_INPUT: SchemaRef = { name: "standard_input", version: "1.0.0" };
const PERSONAL_DATA_INDICATOR: SchemaRef = { name: "personal_data_indicator", version: "1.0.0" };
const DEFAULT_RULESET = "local/personal_data_indicator/1.0.0";
const ANALYSER_VERSION = "1.0.0";
const CONTEXT_SIZES: EvidenceContextSize[] = ["small", "medium", "large", "full"];
const workerUrl = moduleUrl("processors/personal-data-worker");

const patternMatchingProperties: PropertyDoc[] = [
  {
    name: "ruleset",
    type: "string",
    required: false,
    default: DEFAULT_RULESET,
    description: "Detection ruleset URI: local/<name>/<version>",
  },
  {
    name: "evidence_context_size",
    type: CONTEXT_SIZES.join("|"),
    required: false,
    default: "medium",
    description:
      "Characters around a match in evidence: small 50, medium 100, large 200, full text",
  },
  {
    name: "maximum_evidence_count",
    type: "integer",
    required: false,
    default: 3,
    description: "Evidence snippets per finding (1-20)",
  },
  {
    name: "evidence_proximity_threshold",
    type: "integer",
    required: false,
    default: 200,
    description: "Matches closer than this many characters share one snippet (50-1000)",
  },
];

const llmValidationProperties: PropertyDoc[] = [
  {
    name: "enable_llm_validation",
    type: "boolean",
    required: false,
    default: false,
    description: "Must be false: wct does not call LLMs",
  },
  {
    name: "llm_validation_mode",
    type: "standard|conservative|aggressive",
    required: false,
    default: "standard",
    description: "Ignored (LLM validation is not supported)",
  },
  {
    name: "sampling_size",
    type: "integer",
    required: false,
    default: 3,
    description: "Ignored (LLM validation is not supported)",
  },
];

const properties: PropertyDoc[] = [
  {
    name: "pattern_matching",
    type: "object",
    required: false,
    default: {},
    description:
      "ruleset (default local/personal_data_indicator/1.0.0), evidence_context_size (small|medium|large|full, default medium), maximum_evidence_count (1-20, default 3), evidence_proximity_threshold (50-1000, default 200)",
    properties: patternMatchingProperties,
  },
  {
    name: "llm_validation",
    type: "object",
    required: false,
    default: { enable_llm_validation: false },
    description:
      "Accepted for upstream compatibility; only enable_llm_validation: false is supported",
    properties: llmValidationProperties,
  },
];

interface Settings {
  ruleset: string;
  evidence: EvidenceOptions;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function rangeIssue(
  object: Record<string, unknown>,
  key: string,
  path: string,
  min: number,
  max: number,
): Issue[] {
  const value = object[key];
  if (typeof value !== "number" || !Number.isInteger(value) || (value >= min && value <= max)) {
    return [];
  }
  return [{ path: `${path}.${key}`, message: `must be between ${min} and ${max}, got ${value}` }];
}

function validateProperties(props: Record<string, unknown>): Issue[] {
  const issues = checkProperties(props, properties);
  const patternMatching = props.pattern_matching;
  if (isRecord(patternMatching)) {
    issues.push(
      ...checkProperties(patternMatching, patternMatchingProperties, "pattern_matching."),
    );
    issues.push(
      ...rangeIssue(patternMatching, "maximum_evidence_count", "pattern_matching", 1, 20),
      ...rangeIssue(patternMatching, "evidence_proximity_threshold", "pattern_matching", 50, 1000),
    );
    const ruleset = patternMatching.ruleset;
    if (typeof ruleset === "string") {
      try {
        loadDetectionRuleset(ruleset);
      } catch (error) {
        if (!(error instanceof WctError)) throw error;
        issues.push({ path: "pattern_matching.ruleset", message: error.message });
      }
    }
  }
  const llmValidation = props.llm_validation;
  if (isRecord(llmValidation)) {
    issues.push(...checkProperties(llmValidation, llmValidationProperties, "llm_validation."));
    issues.push(...rangeIssue(llmValidation, "sampling_size", "llm_validation", 1, 100));
    if (llmValidation.enable_llm_validation === true) {
      issues.push({
        path: "llm_validation.enable_llm_validation",
        message: "LLM validation is not supported by wct; set it to false or remove it",
      });
    }
  }
  return issues;
}

function settingsOf(props: Record<string, unknown>): Settings {
  const pm = isRecord(props.pattern_matching) ? props.pattern_matching : {};
  return {
    ruleset: typeof pm.ruleset === "string" ? pm.ruleset : DEFAULT_RULESET,
    evidence: {
      contextSize: (pm.evidence_context_size as EvidenceContextSize | undefined) ?? "medium",
      maximumEvidenceCount: (pm.maximum_evidence_count as number | undefined) ?? 3,
      proximityThreshold: (pm.evidence_proximity_threshold as number | undefined) ?? 200,
    },
  };
}

/** One data item of a `standard_input` message. */
interface DataItem {
  content: string;
  metadata: Record<string, unknown>;
}

function dataItems(inputs: Message[]): DataItem[] {
  const items: DataItem[] = [];
  for (const input of inputs) {
    const data = input.content.data;
    if (!Array.isArray(data)) continue;
    for (const item of data) {
      if (isRecord(item) && typeof item.content === "string" && isRecord(item.metadata)) {
        items.push({ content: item.content, metadata: item.metadata });
      }
    }
  }
  return items;
}

/** Chunk sizes keep every worker busy (several chunks each) without tiny messages. */
const MIN_CHUNK_CHARS = 256 * 1024;
const MAX_CHUNK_CHARS = 4 * 1024 * 1024;
const CHUNKS_PER_WORKER = 4;

/** Splits item indexes into consecutive chunks of roughly equal size. */
export function chunkItems(sizes: number[], workerCount: number): number[][] {
  const total = sizes.reduce((sum, size) => sum + size, 0);
  const target = Math.min(
    MAX_CHUNK_CHARS,
    Math.max(MIN_CHUNK_CHARS, Math.ceil(total / (workerCount * CHUNKS_PER_WORKER))),
  );
  const chunks: number[][] = [];
  let chunk: number[] = [];
  let chunkSize = 0;
  sizes.forEach((size, index) => {
    chunk.push(index);
    chunkSize += size;
    if (chunkSize >= target) {
      chunks.push(chunk);
      chunk = [];
      chunkSize = 0;
    }
  });
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function findingContext(metadata: Record<string, unknown>): Record<string, unknown> {
  const { source: _source, context, ...rest } = metadata;
  return { ...rest, ...(isRecord(context) ? context : {}) };
}

async function detectPersonalData(
  inputs: Message[],
  props: Record<string, unknown>,
  _outputSchema: SchemaRef,
  context: ComponentContext,
): Promise<ComponentOutput> {
  assertValidProperties("personal_data", validateProperties(props));
  const settings = settingsOf(props);
  const ruleset = loadDetectionRuleset(settings.ruleset);
  const items = dataItems(inputs).filter((item) => item.content.length > 0);
  const chunks = chunkItems(
    items.map((item) => item.content.length),
    context.workers.size,
  );

  let results: RuleMatch[][][];
  try {
    results = await Promise.all(
      chunks.map((indexes) =>
        context.workers.run<RuleMatch[][]>(
          workerUrl,
          "scanTexts",
          {
            ruleset: settings.ruleset,
            texts: indexes.map((i) => items[i]!.content),
            options: settings.evidence,
          } satisfies ScanTask,
          context.signal,
        ),
      ),
    );
  } catch (error) {
    if (context.signal.aborted) throw error;
    throw new ComponentError(`Pattern matching failed: ${(error as Error).message}`, {
      cause: error,
    });
  }

  const timestamp = new Date().toISOString();
  const findings: Record<string, unknown>[] = [];
  chunks.forEach((indexes, chunkIndex) => {
    indexes.forEach((itemIndex, position) => {
      const item = items[itemIndex]!;
      const source = typeof item.metadata.source === "string" ? item.metadata.source : "unknown";
      const matchContext = findingContext(item.metadata);
      for (const match of results[chunkIndex]![position]!) {
        findings.push({
          id: randomUUID(),
          category: ruleset.rules[match.rule]!.category,
          evidence: match.evidence.map((content) => ({ content, collection_timestamp: timestamp })),
          matched_patterns: match.matchedPatterns,
          metadata: { source, context: matchContext },
        });
      }
    });
  });

  return {
    schema: PERSONAL_DATA_INDICATOR,
    content: {
      findings,
      summary: { total_findings: findings.length },
      analysis_metadata: {
        ruleset_used: settings.ruleset,
        llm_validation_enabled: false,
        evidence_context_size: settings.evidence.contextSize,
        analysis_timestamp: timestamp,
        analyser_version: ANALYSER_VERSION,
      },
    },
  };
}

/** Finds personal data in text with a detection ruleset (keywords and validated values). */
export const personalDataProcessor: Processor = {
  kind: "processor",
  type: "personal_data",
  description:
    "Finds personal data (names, emails, phone numbers, IBANs, card numbers, IDs, health data, ...) in text",
  properties,
  outputSchemas: [PERSONAL_DATA_INDICATOR],
  inputRequirements: [[STANDARD_INPUT]],
  validateProperties,
  process: detectPersonalData,
  async prepare(props, workers) {
    const { ruleset } = settingsOf(props);
    // Loaded (and validated) here once, already when the runbook was checked: the workers get
    // it as data and need not load the ruleset loader and its YAML parser.
    const rules = loadDetectionRuleset(ruleset);
    // One task per worker, submitted at once: on an idle pool each lands on a worker of its own
    // (one that gets none, e.g. busy checking kept artifacts, loads the ruleset itself).
    await Promise.all(
      Array.from({ length: workers.size }, () =>
        workers.run(workerUrl, "prepare", { ruleset, rules }),
      ),
    );
  },
};
