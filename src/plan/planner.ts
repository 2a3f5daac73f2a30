/**
 * @module The planner: flattened runbook -> validated ExecutionPlan. Checks the DAG (cycles named
 * `a -> b -> a`), references, component types, properties and the schema of every artifact —
 * single-schema inputs are checked against the processor's declared inputs too. All problems are
 * collected and thrown together as one RunbookError.
 */
import path from "node:path";
import type { ComponentRegistry } from "../components/types.js";
import { type Issue, RunbookError, type SourcePosition, WctError } from "../errors.js";
import { formatSchemaRef, parseSchemaRef, type SchemaRef, sameSchema } from "../message.js";
import type { FlattenedRunbook } from "../runbook/flatten.js";
import type { ArtifactDefinition, LoadedRunbook, RunbookConfig } from "../runbook/model.js";
import { hasSchema } from "../schemas/registry.js";
import { closestMatch } from "../suggest.js";
import { dependentsOf, findCycle, topologicalOrder } from "./dag.js";

/** One artifact of the plan, with everything the executor needs. */
export interface PlannedArtifact {
  id: string;
  definition: ArtifactDefinition;
  inputs: string[];
  /** Unique input schemas in first-occurrence order; null for sources and reuse. */
  inputSchemas: SchemaRef[] | null;
  outputSchema: SchemaRef;
  /** Full run ID the artifact is reused from (a prefix in the runbook is resolved). */
  reuseFromRun: string | null;
  /** `parent` or `child:<namespace>`. */
  origin: string;
  /** The alias a child runbook output is known by in the parent, if any. */
  alias: string | null;
  /** The folder of the runbook defining it: its components' relative paths resolve there. */
  baseDir: string;
}

export interface ExecutionPlan {
  runbook: {
    name: string;
    description: string;
    contact: string | null;
    framework: string | null;
    config: RunbookConfig;
  };
  /** In topological order (dependencies first, file order among peers). */
  artifacts: Map<string, PlannedArtifact>;
  /** id -> ids that read it. */
  dependents: Map<string, string[]>;
  aliases: Record<string, string>;
}

/** Answers where a reused artifact comes from; throws a WctError when it does not exist. */
export type ReuseResolver = (
  fromRun: string,
  artifact: string,
) => Promise<{ runId: string; schema: SchemaRef }>;

export interface PlanOptions {
  registry: ComponentRegistry;
  /** Needed when the runbook reuses artifacts of earlier runs. */
  resolveReuse?: ReuseResolver;
}

/** Builds the plan or throws a RunbookError listing every problem. */
export async function planRunbook(
  loaded: LoadedRunbook,
  flat: FlattenedRunbook,
  options: PlanOptions,
): Promise<ExecutionPlan> {
  const issues: Issue[] = [];
  const { registry } = options;
  const defs = flat.artifacts;
  const where = (id: string, field: string): { path: string; position?: SourcePosition } => {
    const path = `artifacts.${id}${field ? `.${field}` : ""}`;
    const position = flat.positionOf(id, field || undefined);
    return position ? { path, position } : { path };
  };
  const problem = (id: string, field: string, message: string): void => {
    issues.push({ ...where(id, field), message });
  };

  const deps = new Map(Object.entries(defs).map(([id, def]) => [id, def.inputs ?? []]));
  for (const [id, inputs] of deps) {
    for (const input of inputs) {
      if (defs[input]) continue;
      // A child runbook run on its own: its inputs come from the runbook that includes it.
      if (loaded.runbook.inputs && Object.hasOwn(loaded.runbook.inputs, input)) {
        problem(
          id,
          "inputs",
          `references '${input}', an input this runbook declares for use as a child runbook: run the runbook that includes it (its child_runbook input_mapping provides '${input}')`,
        );
        continue;
      }
      const hint = closestMatch(input, Object.keys(defs));
      problem(
        id,
        "inputs",
        `references artifact '${input}', which does not exist${hint ? ` (did you mean '${hint}'?)` : ""}`,
      );
    }
  }
  // Cycles are reported one after another, each one's edges left out before the next is looked
  // for: cycles that share no edge are all named (one that shares an edge with a reported cycle
  // shows once that is fixed). The artifacts are still checked one by one (components,
  // properties, schemas where their inputs are known), in an order without the cycles' edges and
  // the missing references: one pass reports every other problem of the plan.
  const order = new Map([...deps].map(([id, inputs]) => [id, inputs.filter((i) => defs[i])]));
  for (let cycle = findCycle(order); cycle; cycle = findCycle(order)) {
    problem(cycle[0]!, "inputs", `dependency cycle: ${cycle.join(" -> ")}`);
    for (let i = 0; i + 1 < cycle.length; i++) {
      const [from, to] = [cycle[i]!, cycle[i + 1]!];
      order.set(
        from,
        order.get(from)!.filter((input) => input !== to),
      );
    }
  }

  const reversedAliases = new Map(Object.entries(flat.aliases).map(([alias, id]) => [id, alias]));
  const artifacts = new Map<string, PlannedArtifact>();
  for (const id of topologicalOrder(order)) {
    const def = defs[id]!;
    const planned = await planArtifact(id, def, artifacts, registry, options.resolveReuse, problem);
    if (!planned) continue;
    if (!hasSchema(planned.outputSchema)) {
      problem(
        id,
        "output_schema",
        `no schema '${formatSchemaRef(planned.outputSchema)}' is installed`,
      );
      continue;
    }
    artifacts.set(id, {
      ...planned,
      id,
      definition: def,
      inputs: def.inputs ?? [],
      origin: flat.origins[id] ?? "parent",
      alias: reversedAliases.get(id) ?? null,
      baseDir: flat.folders[id] ?? path.dirname(loaded.path),
    });
  }
  if (issues.length > 0) throw new RunbookError(issues);

  const { runbook } = loaded;
  return {
    runbook: {
      name: runbook.name,
      description: runbook.description,
      contact: runbook.contact ?? null,
      framework: runbook.framework ?? null,
      config: runbook.config,
    },
    artifacts,
    dependents: dependentsOf(deps),
    aliases: flat.aliases,
  };
}

type Problem = (id: string, field: string, message: string) => void;

async function planArtifact(
  id: string,
  def: ArtifactDefinition,
  planned: ReadonlyMap<string, PlannedArtifact>,
  registry: ComponentRegistry,
  resolveReuse: ReuseResolver | undefined,
  problem: Problem,
): Promise<Pick<PlannedArtifact, "inputSchemas" | "outputSchema" | "reuseFromRun"> | null> {
  const explicit = def.output_schema ? parseSchemaRef(def.output_schema) : null;
  const offered = (kind: string, type: string, schemas: SchemaRef[]): SchemaRef | null => {
    if (!explicit) return schemas[0] ?? null;
    if (schemas.some((s) => sameSchema(s, explicit))) return explicit;
    problem(
      id,
      "output_schema",
      `${kind} '${type}' cannot produce '${formatSchemaRef(explicit)}' (it produces ${schemas.map(formatSchemaRef).join(", ")})`,
    );
    return null;
  };
  const unknownType = (field: string, kind: string, type: string, known: string[]): null => {
    const hint = closestMatch(type, known);
    problem(
      id,
      `${field}.type`,
      `unknown ${kind} type '${type}'${hint ? ` (did you mean '${hint}'?)` : ""}; known: ${known.join(", ")}`,
    );
    return null;
  };
  const checkProperties = (field: string, issues: Issue[]): boolean => {
    for (const issue of issues) {
      problem(id, `${field}.properties${issue.path ? `.${issue.path}` : ""}`, issue.message);
    }
    return issues.length === 0;
  };

  if (def.source) {
    const connector = registry.connectors.get(def.source.type);
    if (!connector) {
      return unknownType("source", "connector", def.source.type, [...registry.connectors.keys()]);
    }
    if (!checkProperties("source", connector.validateProperties(def.source.properties)))
      return null;
    const output = offered("connector", def.source.type, connector.outputSchemas);
    return output && { inputSchemas: null, outputSchema: output, reuseFromRun: null };
  }

  if (def.reuse) {
    if (!resolveReuse) {
      problem(id, "reuse", "reuse needs a persistent store (this store keeps no earlier runs)");
      return null;
    }
    try {
      const { runId, schema } = await resolveReuse(def.reuse.from_run, def.reuse.artifact);
      if (explicit && !sameSchema(explicit, schema)) {
        problem(
          id,
          "output_schema",
          `declares '${formatSchemaRef(explicit)}' but artifact '${def.reuse.artifact}' of run ${runId} is '${formatSchemaRef(schema)}'`,
        );
        return null;
      }
      return { inputSchemas: null, outputSchema: schema, reuseFromRun: runId };
    } catch (error) {
      if (!(error instanceof WctError)) throw error;
      problem(id, "reuse", `cannot reuse: ${error.message}`);
      return null;
    }
  }

  const inputs = def.inputs ?? [];
  const inputSchemas: SchemaRef[] = [];
  // An input that failed to plan (its problem is already reported) leaves the schemas unknown:
  // the processor and its properties are still checked.
  let inputsKnown = true;
  for (const input of inputs) {
    const schema = planned.get(input)?.outputSchema;
    if (!schema) inputsKnown = false;
    else if (!inputSchemas.some((s) => sameSchema(s, schema))) inputSchemas.push(schema);
  }
  const names = inputSchemas.map(formatSchemaRef).join(", ");

  if (!def.process) {
    if (!inputsKnown) return null;
    if (inputs.length > 1) {
      problem(
        id,
        "inputs",
        `has ${inputs.length} inputs (${names}) but no process; combining inputs needs a processor`,
      );
      return null;
    }
    const output = inputSchemas[0]!;
    if (explicit && !sameSchema(explicit, output)) {
      problem(
        id,
        "output_schema",
        `a pass-through of '${names}' cannot declare '${def.output_schema}'`,
      );
      return null;
    }
    return { inputSchemas, outputSchema: output, reuseFromRun: null };
  }

  const processor = registry.processors.get(def.process.type);
  if (!processor) {
    return unknownType("process", "processor", def.process.type, [...registry.processors.keys()]);
  }
  if (
    !checkProperties("process", processor.validateProperties(def.process.properties)) ||
    !inputsKnown
  )
    return null;
  const accepted = processor.inputRequirements.some(
    (combination) =>
      combination.every((r) => inputSchemas.some((s) => sameSchema(s, r))) &&
      inputSchemas.every((s) => combination.some((r) => sameSchema(s, r))),
  );
  if (!accepted) {
    const expected = processor.inputRequirements
      .map((c) => `[${c.map(formatSchemaRef).join(", ")}]`)
      .join(" or ");
    problem(
      id,
      "inputs",
      `processor '${def.process.type}' accepts ${expected}, but its inputs produce [${names}]`,
    );
    return null;
  }
  const output = offered("processor", def.process.type, processor.outputSchemas);
  return output && { inputSchemas, outputSchema: output, reuseFromRun: null };
}
