/**
 * @module Checks a component's `properties` against its `PropertyDoc[]`, so every connector and
 * processor reports wrong types, missing and unknown properties the same way.
 *
 * Understood `PropertyDoc.type` values: `string`, `integer`, `number`, `boolean`, `string[]`,
 * `object`, and enums written as alternatives, e.g. `strict|replace|ignore`. Ranges and other
 * rules specific to one property stay in the component's own `validateProperties`.
 */
import { ComponentError, formatIssue, type Issue } from "../errors.js";
import { formatSchemaRef, type SchemaRef, sameSchema } from "../message.js";
import { closestMatch } from "../suggest.js";
import type { Connector, PropertyDoc } from "./types.js";

/**
 * Issues for `properties` against `docs`: unknown names (with a suggestion), missing required
 * ones, and values of the wrong type. `prefix` is prepended to paths, for nested objects.
 * Text that spells the number or boolean a property takes (`max_files: ${MAX}` with `MAX=50`:
 * environment values are always text) is converted in place first, as upstream's pydantic does.
 */
export function checkProperties(
  properties: Record<string, unknown>,
  docs: readonly PropertyDoc[],
  prefix = "",
): Issue[] {
  const issues: Issue[] = [];
  const known = docs.map((d) => d.name);
  for (const name of Object.keys(properties)) {
    if (known.includes(name)) continue;
    const suggestion = closestMatch(name, known);
    issues.push({
      path: prefix + name,
      message: `unknown property${suggestion ? ` (did you mean '${suggestion}'?)` : ""}; known properties: ${known.join(", ")}`,
    });
  }
  for (const doc of docs) {
    const value = properties[doc.name];
    if (value === undefined || value === null) {
      if (doc.required) issues.push({ path: prefix + doc.name, message: "is required" });
      continue;
    }
    const converted = typeof value === "string" ? fromText(value, doc.type) : undefined;
    if (converted !== undefined) properties[doc.name] = converted;
    const problem = typeProblem(converted ?? value, doc.type);
    if (problem) issues.push({ path: prefix + doc.name, message: problem });
  }
  return issues;
}

/**
 * What a connector checks before extracting: that it was asked for a schema it produces, and that
 * its properties are valid. Throws a ComponentError otherwise.
 */
export function checkExtractCall(
  connector: Connector,
  properties: Record<string, unknown>,
  outputSchema: SchemaRef,
): void {
  if (!connector.outputSchemas.some((schema) => sameSchema(schema, outputSchema))) {
    throw new ComponentError(
      `${connector.type} produces ${connector.outputSchemas.map(formatSchemaRef).join(", ")}, not ${formatSchemaRef(outputSchema)}`,
    );
  }
  assertValidProperties(connector.type, connector.validateProperties(properties));
}

/** Throws a ComponentError listing the issues, if there are any (for use at extract time). */
export function assertValidProperties(componentType: string, issues: Issue[]): void {
  if (issues.length === 0) return;
  const lines = issues.map((i) => formatIssue({ ...i, path: `properties.${i.path}` }));
  throw new ComponentError(`Invalid properties for '${componentType}':\n${lines.join("\n")}`);
}

/** The number or boolean that `text` spells, for a property of `type`; undefined otherwise. */
function fromText(text: string, type: string): number | boolean | undefined {
  if (type === "integer" && /^-?\d+$/.test(text)) return Number(text);
  if (type === "number" && /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (type === "boolean" && (text === "true" || text === "false")) return text === "true";
  return undefined;
}

function typeProblem(value: unknown, type: string): string | undefined {
  const shown = describe(value);
  switch (type) {
    case "string":
      return typeof value === "string" ? undefined : `must be a string, got ${shown}`;
    case "boolean":
      return typeof value === "boolean" ? undefined : `must be true or false, got ${shown}`;
    case "number":
      return typeof value === "number" && Number.isFinite(value)
        ? undefined
        : `must be a number, got ${shown}`;
    case "integer":
      if (!Number.isInteger(value)) return `must be an integer, got ${shown}`;
      // Beyond 2^53 a YAML integer is no longer the number written (and SQLite refuses it).
      return Number.isSafeInteger(value)
        ? undefined
        : `must be at most ${Number.MAX_SAFE_INTEGER}, got ${shown}`;
    case "string[]":
      return Array.isArray(value) && value.every((v) => typeof v === "string")
        ? undefined
        : `must be a list of strings, got ${shown}`;
    case "object":
      return typeof value === "object" && !Array.isArray(value)
        ? undefined
        : `must be a mapping, got ${shown}`;
    default: {
      const allowed = type.split("|");
      return typeof value === "string" && allowed.includes(value)
        ? undefined
        : `must be one of ${allowed.map((a) => `'${a}'`).join(", ")}, got ${shown}`;
    }
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `a list ${truncate(JSON.stringify(value))}`;
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `'${truncate(value)}'`;
  return String(value);
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
