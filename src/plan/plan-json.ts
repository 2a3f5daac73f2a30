/**
 * @module The persisted form of a plan (`_system/plan.json`): values substituted from the
 * environment are put back as `${VAR}` placeholders, and every artifact carries a digest of its
 * definition so that a resume can name exactly which artifacts changed.
 */
import { type SchemaRef, sha256 } from "../message.js";
import { withWrittenPlaceholders } from "../runbook/env.js";
import { emptyRecord } from "../runbook/model.js";
import type { ExecutionPlan } from "./planner.js";

export interface PlannedArtifactJson {
  definition: Record<string, unknown>;
  inputs: string[];
  input_schemas: SchemaRef[] | null;
  output_schema: SchemaRef;
  reuse_from_run: string | null;
  origin: string;
  alias: string | null;
  /** sha256 of everything above but origin and alias: what decides the artifact's content. */
  digest: string;
}

export interface PlanJson {
  format: "wct-plan/1";
  runbook: ExecutionPlan["runbook"];
  /** In execution order. */
  artifacts: Record<string, PlannedArtifactJson>;
  aliases: Record<string, string>;
}

/**
 * JSON with object keys sorted, so equal values hash equally. Persisted plans' digests were made
 * with it: its output for a value must never change. Built in one pass (a plan of 1,000 artifacts
 * is hashed on every run).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  let out: string;
  if (Array.isArray(value)) {
    out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      // As Array.join writes it: nothing for a value JSON cannot write.
      out += canonicalJson(value[i]) ?? "";
    }
    return `${out}]`;
  }
  out = "{";
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined) continue;
    if (out.length > 1) out += ",";
    out += `${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `${out}}`;
}

/**
 * The plan as stored: every value written with a `${VAR}` placeholder is stored as written, so
 * no substituted value is persisted and a changed environment value is not a changed plan.
 * `runbookPlaceholders` are the root runbook file's (`LoadedRunbook.placeholders`).
 */
export function planToJson(
  plan: ExecutionPlan,
  runbookPlaceholders: ReadonlyMap<string, string>,
): PlanJson {
  const artifacts = emptyRecord<PlannedArtifactJson>();
  for (const [id, a] of plan.artifacts) {
    const { position: _position, placeholders, ...definition } = a.definition;
    const decisive = {
      definition: withWrittenPlaceholders(
        definition,
        "",
        new Map(Object.entries(placeholders ?? {})),
      ) as Record<string, unknown>,
      inputs: a.inputs,
      input_schemas: a.inputSchemas,
      output_schema: a.outputSchema,
      reuse_from_run: a.reuseFromRun,
    };
    artifacts[id] = {
      ...decisive,
      origin: a.origin,
      alias: a.alias,
      digest: sha256(canonicalJson(decisive)),
    };
  }
  return {
    format: "wct-plan/1",
    runbook: withWrittenPlaceholders(plan.runbook, "", runbookPlaceholders) as PlanJson["runbook"],
    artifacts,
    aliases: plan.aliases,
  };
}

/** Artifacts whose definition differs between two plans, plus ones added or removed. Sorted. */
export function changedArtifacts(before: PlanJson, after: PlanJson): string[] {
  const ids = new Set([...Object.keys(before.artifacts), ...Object.keys(after.artifacts)]);
  return [...ids]
    .filter((id) => before.artifacts[id]?.digest !== after.artifacts[id]?.digest)
    .sort();
}
