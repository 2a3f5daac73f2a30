/**
 * @module Runbook file -> validated plan: the steps `wct run` and `wct validate-runbook` share.
 */
import type { ComponentRegistry } from "../components/types.js";
import { NotFoundError, RunbookError } from "../errors.js";
import { parseSchemaRef, type SchemaRef } from "../message.js";
import { redactIssues, redactSubstitutions } from "../runbook/env.js";
import { flattenRunbook } from "../runbook/flatten.js";
import type { ArtifactDefinition, LoadedRunbook, Substitution } from "../runbook/model.js";
import { loadRunbook } from "../runbook/parse.js";
import type { ExecutionStore } from "../stores/execution/store.js";
import { validateArtifactKey, validateRunId } from "../stores/keys.js";
import { readRecordedPlan } from "../stores/recorded.js";
import { type PlanJson, planToJson } from "./plan-json.js";
import { type ExecutionPlan, planRunbook, type ReuseResolver } from "./planner.js";

export interface PreparedRunbook {
  loaded: LoadedRunbook;
  plan: ExecutionPlan;
  planJson: PlanJson;
  substitutions: Substitution[];
  /** What the runbooks ask for that is not used (see `FlattenedRunbook.warnings`). */
  warnings: string[];
}

/** The schema an artifact definition produces by default, when that is known without planning. */
export function defaultOutputSchema(registry: ComponentRegistry) {
  return (def: ArtifactDefinition): SchemaRef | null => {
    if (def.output_schema) return parseSchemaRef(def.output_schema);
    if (def.source) return registry.connectors.get(def.source.type)?.outputSchemas[0] ?? null;
    if (def.process) return registry.processors.get(def.process.type)?.outputSchemas[0] ?? null;
    return null;
  };
}

/**
 * Reuse lookups against the execution store: the run must exist and the artifact have completed.
 * On resume, a `from_run` prefix means the run its first attempt resolved it to (recorded in its
 * plan): runs started since may share the prefix (the resumed run itself, started in the same
 * minute, does). A copy the resumed run already made and kept needs no source any more: a source
 * run deleted since is then no obstacle.
 */
export function storeReuseResolver(
  executions: ExecutionStore,
  resumeRunId?: string,
): ReuseResolver {
  const recordedPlan = resumeRunId
    ? readRecordedPlan(executions, resumeRunId).catch(() => null)
    : Promise.resolve(null);
  return async (fromRun, artifact) => {
    validateArtifactKey(artifact);
    validateRunId(fromRun);
    const recorded = recordedSource(await recordedPlan, fromRun, artifact);
    let runId: string;
    try {
      runId = await executions.resolveRunId(recorded ?? fromRun);
    } catch (error) {
      if (!(error instanceof NotFoundError) || !resumeRunId) throw error;
      const copied = await copiedBefore(executions, resumeRunId, recorded ?? fromRun, artifact);
      if (!copied) throw error;
      return copied;
    }
    const state = (await executions.getRunDetails(runId)).artifacts.find((a) => a.id === artifact);
    if (!state) throw new NotFoundError(`run ${runId} has no artifact '${artifact}'`);
    if (state.status !== "completed" || !state.schema) {
      throw new NotFoundError(
        `artifact '${artifact}' of run ${runId} is ${state.status}, not completed`,
      );
    }
    return { runId, schema: state.schema };
  };
}

/** The full run ID a resumed run's plan resolved `fromRun` (as written) to for `artifact`. */
function recordedSource(plan: PlanJson | null, fromRun: string, artifact: string): string | null {
  for (const entry of Object.values(plan?.artifacts ?? {})) {
    const reuse = entry.definition.reuse as { from_run?: unknown; artifact?: unknown } | undefined;
    if (reuse?.from_run !== fromRun || reuse.artifact !== artifact) continue;
    if (typeof entry.reuse_from_run === "string") return validateRunId(entry.reuse_from_run);
  }
  return null;
}

/** The source of a completed copy of `fromRun`'s `artifact` in the run `runId`, if it has one. */
async function copiedBefore(
  executions: ExecutionStore,
  runId: string,
  fromRun: string,
  artifact: string,
): Promise<{ runId: string; schema: SchemaRef } | null> {
  const details = await executions.getRunDetails(runId).catch(() => null);
  const copy = details?.artifacts.find(
    (a) =>
      a.status === "completed" &&
      a.schema &&
      a.provenance?.from_artifact === artifact &&
      // A prefix is read in either case; run IDs are stored as generated, in lower case.
      a.provenance.from_run.startsWith(fromRun.toLowerCase()),
  );
  return copy?.provenance && copy.schema
    ? { runId: copy.provenance.from_run, schema: copy.schema }
    : null;
}

/** Loads, flattens and plans a runbook; throws a RunbookError listing every problem. */
export async function prepareRunbook(
  path: string,
  registry: ComponentRegistry,
  executions: ExecutionStore | null,
  env: Record<string, string | undefined> = process.env,
  resumeRunId?: string,
): Promise<PreparedRunbook> {
  const loaded = await loadRunbook(path, env);
  const flat = await redactingIssues(loaded.substitutions, () =>
    flattenRunbook(loaded, { env, outputSchemaOf: defaultOutputSchema(registry) }),
  );
  // Properties are checked with their values substituted: a message may quote one.
  const plan = await redactingIssues(flat.substitutions, () =>
    planRunbook(loaded, flat, {
      registry,
      ...(executions ? { resolveReuse: storeReuseResolver(executions, resumeRunId) } : {}),
    }),
  );
  return {
    loaded,
    plan,
    planJson: planToJson(plan, loaded.placeholders),
    substitutions: flat.substitutions,
    // A child's path may hold a `${VAR}` value: messages name it by its placeholder.
    warnings: redactSubstitutions(flat.warnings, flat.substitutions) as string[],
  };
}

/** `step`, with `${VAR}` values in the messages of a RunbookError it throws put back as placeholders. */
async function redactingIssues<T>(subs: Substitution[], step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (!(error instanceof RunbookError)) throw error;
    throw new RunbookError(redactIssues(error.issues, subs), { cause: error });
  }
}
