/**
 * @module The JSON Schema (draft-07) of the runbook format, for editors (`wct generate-schema`).
 * It mirrors what `parse.ts` accepts: unknown keys are rejected wherever the parser rejects them.
 */
import type { PropertyDoc } from "../components/types.js";
import { RUNBOOK_KEYS } from "./parse.js";

/** The components an editor may offer: their types and documented properties. */
export interface ComponentCatalog {
  connectors: Iterable<{ type: string; description: string; properties: PropertyDoc[] }>;
  processors: Iterable<{ type: string; description: string; properties: PropertyDoc[] }>;
}

const DESCRIPTION =
  "A wct runbook: artifacts extracted by connectors and derived by processors. String values may use ${VAR} or ${VAR:-default}.";

/**
 * A text holding a `${VAR}` or `${VAR:-default}`, substituted at load time: it may stand for a
 * number or a boolean (`timeout: ${T}`, or `${T}0`), which the parser checks once substituted.
 */
const PLACEHOLDER = { type: "string", pattern: "\\$\\{[^}]+\\}" };
const NULL = { type: "null" };

/**
 * An artifact id the store can name a file after (see `artifactIdProblem`): not absolute, no
 * `..`, no empty or `.` segment, no segment over 200 characters (the parser counts UTF-8 bytes),
 * no whitespace, backslash or control character.
 */
const ARTIFACT_ID =
  "^(?!/)(?![A-Za-z]:)(?!.*\\.\\.)(?!(?:.*/)?\\.?(?:/|$))(?!.*[^/]{201})[^\\s\\\\\\u0000-\\u001f\\u007f-\\u009f]+$";

/**
 * An optional field: the parser reads a key written without a value (null) as an absent one, so
 * null is accepted too (`config:` with every setting commented out).
 */
function orNull(schema: Record<string, unknown>): Record<string, unknown> {
  const { description, default: fallback, ...rest } = schema;
  const alternatives = (
    Object.keys(rest).length === 1 && Array.isArray(rest.anyOf) ? rest.anyOf : [rest]
  ) as Record<string, unknown>[];
  return {
    ...(description === undefined ? {} : { description }),
    ...(fallback === undefined ? {} : { default: fallback }),
    anyOf: alternatives.some((a) => a.type === "null") ? alternatives : [...alternatives, NULL],
  };
}

/** `key` is present with a value (the parser takes a null one for an absent key). */
const given = (key: string) => ({ required: [key], properties: { [key]: { not: NULL } } });

const positiveInteger = (description: string, fallback?: number) => ({
  description,
  ...(fallback === undefined ? {} : { default: fallback }),
  anyOf: [{ type: "integer", minimum: 1 }, PLACEHOLDER],
});
const boolean = (description: string) => ({
  description,
  default: false,
  anyOf: [{ type: "boolean" }, PLACEHOLDER],
});
const number = (description?: string) => ({
  ...(description === undefined ? {} : { description }),
  anyOf: [{ type: "number" }, PLACEHOLDER],
});
const text = (description: string) => ({
  description,
  anyOf: [{ type: "string" }, { type: "null" }],
});
const schemaRef = (description: string) => ({
  description,
  type: "string",
  pattern: "^[^/\\s]+(/\\d+\\.\\d+\\.\\d+)?$",
});

/**
 * A closed object: exactly the keys the parser accepts at this level (the key list typed from
 * `RUNBOOK_KEYS` keeps the two in step).
 */
function closed<K extends string>(
  _keys: readonly K[],
  properties: Record<K, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { type: "object", properties, additionalProperties: false, ...extra };
}

/** One documented property's value: its type, or a text that stands for it (`${VAR}`). */
function propertySchema(doc: PropertyDoc): Record<string, unknown> {
  const about = {
    description: doc.description,
    ...(doc.default === undefined ? {} : { default: doc.default }),
  };
  // Numbers and booleans may come as the text that spells them (environment values are text).
  const spelled = (pattern: string) => ({ type: "string", pattern });
  switch (doc.type) {
    case "string":
      return { ...about, type: "string" };
    case "integer":
      return { ...about, anyOf: [{ type: "integer" }, spelled("^-?\\d+$"), PLACEHOLDER] };
    case "number":
      return {
        ...about,
        anyOf: [{ type: "number" }, spelled("^-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?$"), PLACEHOLDER],
      };
    case "boolean":
      return { ...about, anyOf: [{ type: "boolean" }, { enum: ["true", "false"] }, PLACEHOLDER] };
    case "string[]":
      return { ...about, type: "array", items: { type: "string" } };
    case "object":
      return doc.properties
        ? { ...about, ...objectOf(doc.properties) }
        : { ...about, type: "object" };
    default:
      return { ...about, anyOf: [{ enum: doc.type.split("|") }, PLACEHOLDER] };
  }
}

/** An object with exactly the documented keys, the required ones required. */
function objectOf(docs: PropertyDoc[]): Record<string, unknown> {
  return {
    type: "object",
    // A property left without a value is absent to the components: null is an unset optional one.
    properties: Object.fromEntries(
      docs.map((doc) => [
        doc.name,
        doc.required ? propertySchema(doc) : orNull(propertySchema(doc)),
      ]),
    ),
    additionalProperties: false,
    required: docs.filter((doc) => doc.required).map((doc) => doc.name),
  };
}

/**
 * `source` or `process`: with a catalog, `type` is one of its components and `properties` are
 * checked against that component's documented ones (an editor completes both); without one,
 * any type and free-form properties.
 */
function component(
  description: string,
  kinds: Iterable<{ type: string; description: string; properties: PropertyDoc[] }> | undefined,
): Record<string, unknown> {
  const known = kinds ? [...kinds] : [];
  const free = { anyOf: [{ type: "object" }, { type: "null" }] };
  return closed(
    RUNBOOK_KEYS.component,
    {
      type: kinds
        ? { enum: known.map((c) => c.type), description: "The component type" }
        : { type: "string", description: "The registered component type" },
      properties: { description: "The component's settings", ...free },
    },
    {
      description,
      required: ["type"],
      ...(kinds
        ? {
            allOf: known.map((c) => {
              // A component with a required property needs `properties` (a missing or null one
              // lacks it, as the planner says).
              const needsProperties = c.properties.some((doc) => doc.required);
              return {
                if: { properties: { type: { const: c.type } } },
                // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
                then: {
                  description: c.description,
                  ...(needsProperties ? { required: ["properties"] } : {}),
                  properties: {
                    properties: needsProperties
                      ? objectOf(c.properties)
                      : { anyOf: [objectOf(c.properties), { type: "null" }] },
                  },
                },
              };
            }),
          }
        : {}),
    },
  );
}

const stringMap = (description: string) => ({
  description,
  type: "object",
  additionalProperties: { type: "string" },
});

const artifact = (catalog: ComponentCatalog | undefined) =>
  closed(
    RUNBOOK_KEYS.artifact,
    {
      name: text("Display name"),
      description: text("What the artifact holds"),
      contact: text("Who to ask about it"),
      source: orNull(component("Extract the artifact with a connector", catalog?.connectors)),
      inputs: orNull({
        description: "The artifact id(s) this artifact is derived from",
        anyOf: [
          { type: "string" },
          { type: "array", items: { type: "string" }, minItems: 1, uniqueItems: true },
        ],
      }),
      process: orNull(
        component("Derive the artifact from its inputs with a processor", catalog?.processors),
      ),
      reuse: orNull(
        closed(
          RUNBOOK_KEYS.reuse,
          {
            from_run: { type: "string", description: "Run ID of an earlier run" },
            artifact: { type: "string", description: "Artifact id in that run" },
          },
          {
            description: "Copy the artifact from an earlier run",
            required: ["from_run", "artifact"],
          },
        ),
      ),
      child_runbook: orNull(
        closed(
          RUNBOOK_KEYS.child_runbook,
          {
            path: {
              type: "string",
              description:
                "Relative path of the child runbook (beside this runbook, else in config.template_paths)",
            },
            input_mapping: stringMap("Child input name -> artifact id of this runbook"),
            output: orNull({
              type: "string",
              description: "The child output this artifact stands for",
            }),
            output_mapping: orNull(stringMap("Child output name -> alias usable in this runbook")),
          },
          {
            description: "Expand a child runbook in place of this artifact",
            required: ["path", "input_mapping"],
            oneOf: [given("output"), given("output_mapping")],
          },
        ),
      ),
      output_schema: orNull(schemaRef("Schema of the artifact: 'name' or 'name/x.y.z'")),
      output: orNull(boolean("Include the artifact in exports")),
      optional: orNull(boolean("The artifact may fail without failing the run")),
      merge: orNull({ enum: ["concatenate"], default: "concatenate" }),
      execute: orNull(
        closed(
          RUNBOOK_KEYS.execute,
          {
            mode: orNull({ type: "string" }),
            timeout: orNull(positiveInteger("Seconds")),
            cost_limit: orNull(number()),
          },
          { description: "Accepted for upstream compatibility; ignored" },
        ),
      ),
    },
    {
      oneOf: [given("source"), given("inputs"), given("reuse")],
      not: { allOf: [given("child_runbook"), given("process")] },
      if: given("child_runbook"),
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
      then: given("inputs"),
    },
  );

const config = orNull(
  closed(
    RUNBOOK_KEYS.config,
    {
      timeout: orNull(positiveInteger("Seconds for the whole run", 300)),
      max_concurrency: orNull(positiveInteger("Artifacts produced at the same time", 10)),
      template_paths: orNull({
        type: "array",
        items: { type: "string" },
        default: [],
        description: "Folders searched for child runbooks, relative to this runbook",
      }),
      max_child_depth: orNull(positiveInteger("Accepted for upstream compatibility; ignored")),
      cost_limit: orNull(number("Accepted for upstream compatibility; ignored")),
    },
    { description: "Execution settings" },
  ),
);

const inputDeclaration = closed(
  RUNBOOK_KEYS.input,
  {
    input_schema: schemaRef("Schema the mapped artifact must produce"),
    optional: orNull(boolean("The parent may leave this input unmapped")),
    default: { description: "Requires optional: true" },
    sensitive: orNull(boolean("The input holds sensitive data")),
    description: text("What the input is"),
  },
  {
    required: ["input_schema"],
    if: given("default"),
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
    then: {
      required: ["optional"],
      properties: { optional: { anyOf: [{ const: true }, PLACEHOLDER] } },
    },
  },
);

const outputDeclaration = closed(
  RUNBOOK_KEYS.output,
  {
    artifact: { type: "string", description: "The artifact of this runbook exposed as the output" },
    description: text("What the output is"),
  },
  { required: ["artifact"] },
);

/**
 * Draft-07 JSON Schema of the runbook format; with `catalog`, component types and their
 * properties are those of the installed components.
 */
export function runbookJsonSchema(catalog?: ComponentCatalog): Record<string, unknown> {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "wct runbook",
    description: DESCRIPTION,
    ...closed(
      RUNBOOK_KEYS.runbook,
      {
        name: { type: "string", description: "Runbook name" },
        description: { type: "string", description: "What the runbook does" },
        contact: text("Who to ask about the runbook"),
        framework: text("Regulatory framework, e.g. GDPR, UK_GDPR, CCPA"),
        config,
        inputs: orNull({
          type: "object",
          description: "Inputs of a child runbook, mapped by the parent's input_mapping",
          additionalProperties: inputDeclaration,
        }),
        outputs: orNull({
          type: "object",
          description: "Outputs a child runbook exposes",
          additionalProperties: outputDeclaration,
        }),
        artifacts: orNull({
          type: "object",
          description: "Artifact id -> definition, in execution-independent order",
          // As `artifactIdProblem`: the store names a file after the id.
          propertyNames: { maxLength: 512, pattern: ARTIFACT_ID },
          additionalProperties: artifact(catalog),
        }),
      },
      { required: ["name", "description"] },
    ),
  };
}
